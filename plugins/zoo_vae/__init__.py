"""zoo_vae: a convolutional variational autoencoder (TF2 / Keras 3) and the plain autoencoder.

* ``vae``: Conv2D encoder -> (mu, log_var) -> reparameterised z -> Dense + Conv2DTranspose (or
  sub-pixel: Conv2D + depth-to-space) decoder, trained by a ``keras.Model`` subclass whose
  ``train_step`` uses ``tf.GradientTape``; loss = reconstruction (Bernoulli, Gaussian/MSE or a
  discretized logistic with a learnable log-scale, summed over pixels, averaged over the batch)
  + ``fact`` * KL, with the KL reductions of the TF2 series' "solution types" and its optional
  pixel-count scaling.
* ``ae``: the dense autoencoder of the classic lecture notes (784 -> 30 -> 784, MSE), kept as
  the contrast: it reconstructs well, but decoding random N(0, 1) codes gives garbage because
  nothing ties its codes to a known distribution.

This module is what ``zoo list`` imports: hook implementations, config specs and a pure-python
parameter count only. It imports neither TensorFlow, Keras nor numpy; the models live in
:mod:`zoo_vae.model` and the ``zoo reconstruct`` command body imports them when it runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import zoo_core
from zoo_core.config import MAX_SEED, MAX_STEPS, ConfigSpec, Param
from zoo_core.errors import ConfigError
from zoo_core.families import RESUME_SAFE, Family

ACTIVATIONS = ("leaky_relu", "relu", "selu")
LIKELIHOODS = ("bernoulli", "gaussian", "logistic")
#: the prior mixture's covariances may hold at most this many floats (256 MiB)
MAX_MIXTURE_FLOATS = 2 ** 26


def stage_strides(config: Mapping[str, Any]) -> list[int]:
    """Strides of the encoder's conv layers (the decoder mirrors them).

    ``strides: null`` (the default) adapts the number of stride-2 stages to the image size:
    the first ``k`` layers get stride 2 where ``k`` is how many times ``image_size`` halves
    exactly (at most one per layer), the rest stride 1. 64 -> [2, 2, 2, 2] (64 -> 4 px);
    28 -> [2, 2, 1, 1] (28 -> 14 -> 7 px), so the transposed convolutions land on 28 again.
    """
    if config.get("strides") is not None:
        return list(config["strides"])
    size, layers = int(config["image_size"]), len(config["filters"])
    halvings = 0
    while size % 2 == 0 and size // 2 >= 2 and halvings < layers:
        size //= 2
        halvings += 1
    return [2] * halvings + [1] * (layers - halvings)


def _check_vae(config: dict) -> None:
    if config["likelihood"] == "gaussian" and config["fact"] <= 0:
        raise ConfigError("config key 'fact': the gaussian likelihood needs fact > 0 (its decoder variance is "
                          "sigma^2 = effective KL weight / 2; see docs/vae.md)")
    if config["prior"] == "mixture" and config["mixture_components"] * config["z_dim"] ** 2 > MAX_MIXTURE_FLOATS:
        raise ConfigError(f"config keys 'mixture_components' and 'z_dim': {config['mixture_components']} covariances "
                          f"of {config['z_dim']} x {config['z_dim']} are more than {MAX_MIXTURE_FLOATS:,} floats; "
                          "use fewer components or a smaller z_dim")
    layers = len(config["filters"])
    if layers == 0:
        raise ConfigError("config key 'filters': needs at least one conv layer")
    if len(config["kernel_sizes"]) != layers:
        raise ConfigError(f"config key 'kernel_sizes': {len(config['kernel_sizes'])} sizes for {layers} filters "
                          f"{config['filters']!r}; give one per layer")
    strides = config.get("strides")
    if strides is not None:
        if len(strides) != layers:
            raise ConfigError(f"config key 'strides': {len(strides)} strides for {layers} layers; give one per layer "
                              "or null to adapt them to image_size")
        if any(s not in (1, 2) for s in strides):
            raise ConfigError(f"config key 'strides': each stride must be 1 or 2, got {strides!r}")
        total = 2 ** strides.count(2)
        if config["image_size"] % total:
            raise ConfigError(f"config key 'strides': image_size {config['image_size']} is not divisible by "
                              f"{total} (2 per stride-2 layer), so the decoder could not return to it")


_COMMON = {
    "image_size": Param(28, "int", "side of the square images", min=8, max=256),
    "channels": Param(1, "int", "1 for grey, 3 for colour", choices=(1, 3)),
    "lr": Param(5e-4, "float", "Adam learning rate", min=1e-7, max=1.0),
    "batch_size": Param(128, "int", "images per training step", min=1, max=8192),
    "seed": Param(0, "int", "seeds the initial weights, the data order and the sampling noise", min=0, max=MAX_SEED),
    "steps": Param(2000, "int", "default number of training steps", min=1, max=MAX_STEPS),
    "dataset": Param("glyphs-28", "str", "default training data: a zoo_core.data.datasets spec or a path"),
    "jit_compile": Param(False, "bool", "XLA-compile the training step (measured slower on CPU; see docs/vae.md)"),
}

@dataclass(frozen=True)
class AliasedSpec(ConfigSpec):
    """A :class:`ConfigSpec` that also accepts other names for some keys (``--set latent_dim=200`` is
    ``z_dim``, the name seed 004's CelebA VAE uses). Aliases are renamed before validation, so
    configs, run folders and weights only ever hold the family's own names; giving both names is
    refused."""

    aliases: Mapping[str, str] = field(default_factory=dict)

    def _rename(self, layer: Mapping[str, Any] | None) -> dict:
        out: dict = {}
        for key, value in (layer or {}).items():
            name = self.aliases.get(key, key)
            if name != key and name in (layer or {}):
                raise ConfigError(f"config keys '{key}' and '{name}' name the same setting; give one")
            out[name] = value
        return out

    def resolve(self, *layers: Mapping[str, Any] | None) -> dict:
        """Merge and validate as :meth:`ConfigSpec.resolve`, aliases renamed first."""
        return super().resolve(*(self._rename(layer) for layer in layers))

    def parse_overrides(self, pairs: Iterable[str]) -> dict:
        """Parse ``key=value`` strings, aliases renamed."""
        out: dict = {}
        given: dict = {}  # the family's name -> the name used on the command line
        for pair in pairs:
            key, sep, text = pair.partition("=")
            key = key.strip()
            name = self.aliases.get(key, key)
            if name in given and given[name] != key:
                raise ConfigError(f"config keys '{given[name]}' and '{key}' name the same setting; give one")
            given[name] = key
            out.update(super().parse_overrides([f"{name}{sep}{text}"]))
        return out


VAE_CONFIG = AliasedSpec({
    **_COMMON,
    "z_dim": Param(16, "int", "size of the latent vector", min=1, max=4096),
    "filters": Param([32, 64, 128, 256], "list", "Conv2D filters per encoder layer; the decoder mirrors them",
                     min=1, max=4096),
    "kernel_sizes": Param([3, 3, 3, 3], "list", "kernel size per conv layer", min=1, max=15),
    "strides": Param(None, "list", "stride (1 or 2) per encoder layer; null: as many stride-2 stages as "
                     "image_size halves exactly", nullable=True, min=1, max=2),
    "activation": Param("leaky_relu", "str", "leaky_relu, relu, or selu (LeCun-normal init, AlphaDropout)",
                        choices=ACTIVATIONS),
    "batch_norm": Param(True, "bool", "BatchNormalization between each conv and its activation"),
    "dropout": Param(0.0, "float", "dropout rate after each hidden conv layer (AlphaDropout for selu)",
                     min=0.0, max=0.9),
    "fact": Param(1.0, "float", "weight of the KL term (1.0 with kl_solution 3: the plain negative ELBO)",
                  min=0.0, max=1e6),
    "likelihood": Param("bernoulli", "str", "decoder likelihood: bernoulli (BCE), gaussian (MSE) or logistic "
                        "(discretized logistic, learnable log-scale)", choices=LIKELIHOODS),
    "logistic_scale": Param("pixel", "str", "logistic likelihood: one learnable log-scale per pixel, or one "
                            "global", choices=("pixel", "global")),
    "decoder": Param("transpose", "str", "upsampling: transpose (Conv2DTranspose) or subpixel (Conv2D + "
                     "depth-to-space)", choices=("transpose", "subpixel")),
    "kl_solution": Param(3, "int", "KL reduction of the TF2 series' solution types: 3 = fact * sum over latent "
                         "dims; 0, 1, 2 = 2 * fact * mean over latent dims", choices=(0, 1, 2, 3)),
    "scale_by_pixels": Param(False, "bool", "divide the reconstruction loss by the pixel count (per-pixel mean)"),
    "prior": Param("normal", "str", "what zoo sample draws codes from: normal = N(0, I); mixture = a Gaussian "
                   "mixture fitted to the training codes (posterior means) after training, stored with the weights",
                   choices=("normal", "mixture")),
    "mixture_components": Param(10, "int", "prior mixture: number of full-covariance Gaussians", min=1, max=256),
    "kl_warmup": Param(0, "int", "steps over which the KL weight rises linearly to its full value (step s weighs it "
                       "s / (kl_warmup + 1); 0: none)", min=0, max=MAX_STEPS),
    "free_bits": Param(0.0, "float", "nats per latent dimension (batch-mean KL) below which the KL is not "
                       "penalised (0: plain KL)", min=0.0, max=100.0),
}, check=_check_vae, aliases={"latent_dim": "z_dim"})

AE_CONFIG = ConfigSpec({
    **_COMMON,
    "loss": Param("mse", "str", "reconstruction loss, summed over pixels: mse (as in the notes) or bce",
                  choices=("bce", "mse")),
    "lr": Param(1e-3, "float", "Adam learning rate", min=1e-7, max=1.0),
    "batch_size": Param(100, "int", "images per training step", min=1, max=8192),
    "z_dim": Param(30, "int", "size of the code (the bottleneck)", min=1, max=4096),
    "hidden": Param([], "list", "optional hidden Dense widths between pixels and code (mirrored)", min=1,
                    max=65536),
    "activation": Param("relu", "str", "activation of the code and hidden layers", choices=ACTIVATIONS),
})


def count_vae_parameters(config: dict) -> int:
    """Scalars in the ``vae`` state dict (weights, biases, BatchNorm statistics), without Keras."""
    full = VAE_CONFIG.resolve(config)
    filters, kernels, strides = full["filters"], full["kernel_sizes"], stage_strides(full)
    bn = 4 if full["batch_norm"] else 0  # gamma, beta, moving mean, moving variance
    size, channels, z = full["image_size"], full["channels"], full["z_dim"]
    total, cin = 0, channels
    for f, k, s in zip(filters, kernels, strides, strict=True):
        total += k * k * cin * f + f + bn * f
        cin, size = f, -(-size // s)
    flat = size * size * cin
    total += 2 * (flat * z + z)  # mu and log_var
    total += z * flat + flat  # decoder Dense
    outs = list(reversed(filters[:-1])) + [channels]
    for i, (f, k, s) in enumerate(zip(outs, reversed(kernels), reversed(strides), strict=True)):
        conv = f * s * s if full["decoder"] == "subpixel" else f  # sub-pixel: s*s times the channels
        total += k * k * cin * conv + conv + (bn * f if i < len(outs) - 1 else 0)
        cin = f
    if full["likelihood"] == "logistic":
        total += full["image_size"] ** 2 * channels if full["logistic_scale"] == "pixel" else 1
    if full["prior"] == "mixture":  # weights, means, covariances
        k = full["mixture_components"]
        total += k + k * z + k * z * z
    return total


def count_ae_parameters(config: dict) -> int:
    """Scalars in the ``ae`` state dict (two Dense stacks), without Keras."""
    full = AE_CONFIG.resolve(config)
    pixels = full["image_size"] ** 2 * full["channels"]
    widths = [pixels, *full["hidden"], full["z_dim"]]
    encoder = sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True))
    back = widths[::-1]
    decoder = sum(a * b + b for a, b in zip(back[:-1], back[1:], strict=True))
    return encoder + decoder


def estimate_vae_memory(config: dict, batch: int):
    """Parameters and activations (values) of the ``vae`` for ``batch`` images, without Keras."""
    from zoo_core.backends.memory import MemoryEstimate

    filters, strides = config["filters"], stage_strides(config)
    size, channels = config["image_size"], config["channels"]
    sizes = [size * size * channels]  # the input
    for f, s in zip(filters, strides, strict=False):
        size = -(-size // s)
        sizes.append(size * size * f * (2 if config["batch_norm"] else 1))  # conv (+ its BatchNorm output)
    sizes.append(2 * config["z_dim"])  # mu, log_var (and z)
    outs = list(reversed(filters[:-1])) + [channels]
    sizes.append(sizes[len(filters)])  # the decoder's Dense, as big as the last encoder map
    for f, s in zip(outs, reversed(strides), strict=False):
        size *= s
        conv = f * s * s if config["decoder"] == "subpixel" else f
        sizes.append(size * size * max(conv, f))
    return MemoryEstimate(count_vae_parameters(config), batch * max(sizes), batch * sum(sizes))


def estimate_ae_memory(config: dict, batch: int):
    """Parameters and activations (values) of the ``ae`` for ``batch`` images, without Keras."""
    from zoo_core.backends.memory import MemoryEstimate

    pixels = config["image_size"] ** 2 * config["channels"]
    widths = [pixels, *config["hidden"], config["z_dim"], *reversed(config["hidden"]), pixels]
    return MemoryEstimate(count_ae_parameters(config), batch * max(widths), batch * sum(widths))


VAE_FAMILY = Family(
    name="vae", framework="keras", factory="zoo_vae.model:ConvVAE", config=VAE_CONFIG,
    requires=("keras", "tensorflow"), extra="keras", latent=True, count_parameters=count_vae_parameters,
    estimate_memory=estimate_vae_memory, distributed=True, resume_safe=(*RESUME_SAFE, "jit_compile"),
    description="convolutional VAE (TF2 GradientTape train_step; bernoulli/gaussian/logistic likelihood + fact * KL)",
)

AE_FAMILY = Family(
    name="ae", framework="keras", factory="zoo_vae.model:DenseAE", config=AE_CONFIG,
    requires=("keras", "tensorflow"), extra="keras", latent=True, count_parameters=count_ae_parameters,
    estimate_memory=estimate_ae_memory, distributed=True, resume_safe=(*RESUME_SAFE, "jit_compile"),
    description="dense autoencoder 784 -> 30 -> 784 (MSE): the contrast; random codes decode to garbage",
)


@zoo_core.hookimpl
def register_families(register):
    """Register the ``vae`` and ``ae`` families (their named models are in registry.json)."""
    register(VAE_FAMILY)
    register(AE_FAMILY)


@zoo_core.hookimpl
def register_commands(cli):
    """Add ``zoo reconstruct``: originals over their reconstructions, as a PNG grid."""
    from zoo_vae.commands import add_commands

    add_commands(cli)
