"""The ``vae`` and ``ae`` models: Keras 3 networks on TensorFlow, behind :class:`zoo_core.LatentModel`.

This module imports Keras and TensorFlow (through :mod:`zoo_vae._backend`, which pins the
backend): it is imported only when a ``vae`` or ``ae`` model is built, never by ``zoo list``.

Both families share one trainer, :class:`AutoencoderTrainer`, a ``keras.Model`` subclass whose
``train_step`` records the forward pass on a ``tf.GradientTape`` and keeps three
``keras.metrics.Mean`` trackers named ``total_loss``, ``reco_loss`` and ``kl_loss``. The
results are returned under exactly those names (the keras.io example returns its total under
``loss``, a name no tracker has, and its printed total then is not the sum of its parts).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import nullcontext
from typing import Any

import numpy as np

from zoo_core.data.datasets import load_dataset
from zoo_core.errors import ConfigError, ZooError
from zoo_core.model import LatentModel, to_uint8
from zoo_core.runtime.distributed import current_world
from zoo_vae import stage_strides
from zoo_vae._backend import keras, tf
from zoo_vae.training import STEPS_PER_CALL, AutoencoderSession, compile_chunk, strategy_for  # noqa: F401 - re-exports STEPS_PER_CALL

EVAL_IMAGES = 2000
#: prior samples scored by the reference classifier in ``evaluate`` (zoo_core.media.quality)
QUALITY_SAMPLES = 2000
#: training images used to recompute the batch-norm statistics at the end of training
BN_IMAGES = 4096
#: bounds of the logistic likelihood's learnable log-scale (exp(-7) is a quarter of a grey level)
LOG_SCALE_MIN, LOG_SCALE_MAX = -7.0, 2.0
#: initial logistic log-scale: scale 0.1 (about 25 grey levels)
LOG_SCALE_INIT = float(np.log(0.1))
#: the learnable variable holds log-scale / LOG_SCALE_SPEED: Adam moves every variable by about
#: ``lr`` per step, and at lr 1e-3 a log-scale stored as itself needs ~4000 steps to fall by 4
LOG_SCALE_SPEED = 10.0


# ---------------------------------------------------------------------------------------------
# Networks


def _initializer(activation: str, seed: int):
    """LeCun-normal for SELU (self-normalising nets need it), Glorot-uniform otherwise; seeded."""
    if activation == "selu":
        return keras.initializers.LecunNormal(seed=seed)
    return keras.initializers.GlorotUniform(seed=seed)


def _activation(name: str, layer_name: str):
    if name == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=0.2, name=layer_name)
    return keras.layers.Activation(name, name=layer_name)


def _dropout(rate: float, activation: str, seed: int, name: str):
    # SELU keeps activations at zero mean / unit variance; plain dropout would break that, so
    # SELU gets AlphaDropout, which drops to the SELU saturation value and rescales.
    if activation == "selu":
        return keras.layers.AlphaDropout(rate, seed=seed, name=name)
    return keras.layers.Dropout(rate, seed=seed, name=name)


class ICNR(keras.initializers.Initializer):
    """Sub-pixel kernel initialiser "ICNR" (Aitken et al. 2017): each of the ``s * s`` sub-pixel
    channel groups starts with the same kernel, drawn from ``inner`` for ``filters / (s * s)``
    outputs, so that at initialisation Conv2D + depth-to-space equals nearest-neighbour
    upsampling followed by a convolution: no checkerboard to unlearn."""

    def __init__(self, inner, scale: int) -> None:
        self.inner = inner
        self.scale = int(scale)

    def __call__(self, shape, dtype=None):
        *kernel, cin, cout = shape
        groups = self.scale * self.scale
        base = self.inner((*kernel, cin, cout // groups), dtype=dtype)
        # depth_to_space reads channel (block * C + c) for output channel c: tile, not repeat
        return tf.tile(base, [1] * (len(shape) - 1) + [groups])

    def get_config(self):
        return {"scale": self.scale}


class DepthToSpace(keras.layers.Layer):
    """``tf.nn.depth_to_space``: (H, W, C * s * s) -> (H * s, W * s, C), the sub-pixel shuffle."""

    def __init__(self, block_size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.block_size = int(block_size)

    def call(self, x):
        return tf.nn.depth_to_space(x, self.block_size)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        s = self.block_size
        return (b, None if h is None else h * s, None if w is None else w * s, c // (s * s))


def build_conv_vae(config: Mapping[str, Any]) -> tuple[keras.Model, keras.Model]:
    """The ``vae`` encoder ``x -> [mu, log_var]`` and decoder ``z -> x`` (sigmoid pixels).

    Encoder: per layer Conv2D(filters, kernel, stride, 'same') [-> BatchNorm] -> activation
    [-> dropout], then Flatten and two Dense heads. Decoder: Dense -> Reshape to the encoder's
    last feature map -> upsampling layers mirroring the encoder (filters reversed, ending with
    ``channels``) -> sigmoid. ``decoder: transpose`` upsamples with Conv2DTranspose;
    ``decoder: subpixel`` with a Conv2D of ``s * s`` times the filters followed by depth-to-space
    (Shi et al. 2016), which has no uneven kernel overlap, initialised with ICNR so that it also
    starts without the sub-pixel layout's own checkerboard. Every
    layer has a fixed name, so variable paths (the safetensors keys) are the same in every process.
    """
    size, channels = config["image_size"], config["channels"]
    encoder, feature_shape = _conv_encoder(config)
    decoder = _conv_decoder(config, feature_shape)
    if tuple(decoder.output.shape[1:]) != (size, size, channels):  # guarded by the config check
        raise ConfigError(f"decoder output {tuple(decoder.output.shape[1:])} != image shape {(size, size, channels)}")
    return encoder, decoder


def _norm_act_drop(x, config: Mapping[str, Any], prefix: str, i: int, dropout_seed: int):
    """After a (transposed) convolution: [BatchNorm ->] activation [-> dropout], named ``{prefix}_bn{i}`` etc."""
    act = config["activation"]
    if config["batch_norm"]:
        x = keras.layers.BatchNormalization(name=f"{prefix}_bn{i}")(x)
    x = _activation(act, f"{prefix}_act{i}")(x)
    if config["dropout"] > 0:
        x = _dropout(config["dropout"], act, dropout_seed, f"{prefix}_drop{i}")(x)
    return x


def _conv_encoder(config: Mapping[str, Any]) -> tuple[keras.Model, tuple[int, ...]]:
    """The ``vae`` encoder ``x -> [mu, log_var]`` and the shape of its last feature map."""
    size, channels, z_dim = config["image_size"], config["channels"], config["z_dim"]
    act, seed = config["activation"], config["seed"]
    inputs = keras.Input((size, size, channels), name="images")
    x = inputs
    for i, (f, k, s) in enumerate(zip(config["filters"], config["kernel_sizes"], stage_strides(config), strict=True)):
        x = keras.layers.Conv2D(f, k, strides=s, padding="same", kernel_initializer=_initializer(act, seed + i),
                                name=f"enc_conv{i}")(x)
        x = _norm_act_drop(x, config, "enc", i, seed + 100 + i)
    feature_shape = tuple(int(d) for d in x.shape[1:])
    x = keras.layers.Flatten(name="enc_flatten")(x)
    mu = keras.layers.Dense(z_dim, kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 200),
                            name="mu")(x)
    log_var = keras.layers.Dense(z_dim, kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 201),
                                 name="log_var")(x)
    return keras.Model(inputs, [mu, log_var], name="encoder"), feature_shape


def _upsample(y, f: int, k: int, s: int, init, subpixel: bool, i: int):
    """One decoder stage's upsampling by ``s`` to ``f`` channels: Conv2DTranspose, or Conv2D + depth-to-space."""
    if not subpixel:
        return keras.layers.Conv2DTranspose(f, k, strides=s, padding="same", kernel_initializer=init,
                                            name=f"dec_convt{i}")(y)
    y = keras.layers.Conv2D(f * s * s, k, padding="same", kernel_initializer=ICNR(init, s) if s > 1 else init,
                            name=f"dec_conv{i}")(y)
    return DepthToSpace(s, name=f"dec_d2s{i}")(y) if s > 1 else y


def _conv_decoder(config: Mapping[str, Any], feature_shape: tuple[int, ...]) -> keras.Model:
    """The ``vae`` decoder ``z -> x``: Dense, Reshape to ``feature_shape``, the encoder's stages mirrored, sigmoid."""
    filters, kernels, strides = config["filters"], config["kernel_sizes"], stage_strides(config)
    act, seed = config["activation"], config["seed"]
    latent = keras.Input((config["z_dim"],), name="z")
    y = keras.layers.Dense(int(np.prod(feature_shape)), kernel_initializer=_initializer(act, seed + 300),
                           name="dec_dense")(latent)
    y = keras.layers.Reshape(feature_shape, name="dec_reshape")(y)
    outs = list(reversed(filters[:-1])) + [config["channels"]]
    subpixel = config.get("decoder", "transpose") == "subpixel"
    for i, (f, k, s) in enumerate(zip(outs, reversed(kernels), reversed(strides), strict=True)):
        last = i == len(outs) - 1
        y = _upsample(y, f, k, s, _initializer("relu" if last else act, seed + 400 + i), subpixel, i)
        if last:
            y = keras.layers.Activation("sigmoid", name="dec_sigmoid")(y)
            break
        y = _norm_act_drop(y, config, "dec", i, seed + 500 + i)
    return keras.Model(latent, y, name="decoder")

def build_dense_ae(config: Mapping[str, Any]) -> tuple[keras.Model, keras.Model]:
    """The ``ae`` encoder ``x -> code`` and decoder ``code -> x``: Dense layers only.

    With the defaults this is the network of the lecture notes: 784 pixels -> Dense(30, relu)
    -> Dense(784). The output uses a sigmoid (the notes use relu) so pixels stay in [0, 1].
    """
    size, channels, z_dim = config["image_size"], config["channels"], config["z_dim"]
    act, seed = config["activation"], config["seed"]
    pixels = size * size * channels
    inputs = keras.Input((size, size, channels), name="images")
    x = keras.layers.Flatten(name="enc_flatten")(inputs)
    for i, width in enumerate(config["hidden"]):
        x = keras.layers.Dense(width, activation=act, kernel_initializer=_initializer(act, seed + i),
                               name=f"enc_dense{i}")(x)
    code = keras.layers.Dense(z_dim, activation=act, kernel_initializer=_initializer(act, seed + 100), name="code")(x)
    encoder = keras.Model(inputs, code, name="encoder")

    latent = keras.Input((z_dim,), name="z")
    y = latent
    for i, width in enumerate(reversed(config["hidden"])):
        y = keras.layers.Dense(width, activation=act, kernel_initializer=_initializer(act, seed + 200 + i),
                               name=f"dec_dense{i}")(y)
    y = keras.layers.Dense(pixels, activation="sigmoid", kernel_initializer=_initializer("relu", seed + 300),
                           name="dec_out")(y)
    y = keras.layers.Reshape((size, size, channels), name="dec_reshape")(y)
    decoder = keras.Model(latent, y, name="decoder")
    return encoder, decoder


# ---------------------------------------------------------------------------------------------
# The trainer: a keras.Model whose train_step uses tf.GradientTape


def reconstruction_loss(x, x_hat, kind: str):
    """Per-image reconstruction loss, summed over pixels and channels: ``bce`` or ``mse``."""
    if kind == "bce":
        eps = 1e-7
        x_hat = tf.clip_by_value(x_hat, eps, 1.0 - eps)
        per_pixel = -(x * tf.math.log(x_hat) + (1.0 - x) * tf.math.log(1.0 - x_hat))
    else:
        per_pixel = tf.square(x - x_hat)
    return tf.reduce_sum(per_pixel, axis=[1, 2, 3])


_HALF_BIN = 1.0 / 510.0  # half the distance between two of the 256 grey levels k / 255
_LOG_SQRT_2PI = 0.5 * float(np.log(2.0 * np.pi))


def _log_normal_cdf(t):
    """log Phi(t), accurate in the far left tail (asymptotic series below t = -5)."""
    safe = tf.maximum(t, -5.0)
    direct = tf.math.log(tf.maximum(0.5 * tf.math.erfc(-safe / np.sqrt(2.0)), 1e-30))
    far = tf.minimum(t, -5.0)
    tail = -0.5 * tf.square(far) - tf.math.log(-far) - _LOG_SQRT_2PI
    return tf.where(t < -5.0, tail, direct)


def discretized_nll(x, mean, log_scale, dist: str):
    """Per-image negative log-likelihood (nats) of 8-bit images under a discretized distribution.

    ``x`` holds the grey levels ``k / 255`` (k = 0..255), ``mean`` the decoder output in [0, 1],
    ``log_scale`` a tensor broadcastable to them. Each pixel's probability is the mass of the bin
    ``[x - 1/510, x + 1/510]`` under a logistic (``dist="logistic"``) or a Gaussian
    (``"gaussian"``, ``log_scale`` = log sigma) centred on ``mean``; the bins of levels 0 and
    255 extend to -inf and +inf, so the 256 probabilities of a pixel sum to 1 (a proper
    distribution of 8-bit data, unlike the hackathon notebook's version without edge bins).
    Where a bin's mass underflows float32 the density at the bin centre times the bin width
    stands in for it.
    """
    log_scale = tf.clip_by_value(log_scale, LOG_SCALE_MIN, LOG_SCALE_MAX)
    inv = tf.exp(-log_scale)
    centred = x - mean
    plus, minus, mid = (centred + _HALF_BIN) * inv, (centred - _HALF_BIN) * inv, centred * inv
    if dist == "logistic":
        log_cdf_plus = plus - tf.nn.softplus(plus)  # log sigmoid(plus)
        log_sf_minus = -tf.nn.softplus(minus)  # log (1 - sigmoid(minus))
        delta = tf.sigmoid(plus) - tf.sigmoid(minus)
        log_pdf_mid = mid - log_scale - 2.0 * tf.nn.softplus(mid)
    else:
        log_cdf_plus = _log_normal_cdf(plus)
        log_sf_minus = _log_normal_cdf(-minus)
        delta = 0.5 * (tf.math.erfc(-plus / np.sqrt(2.0)) - tf.math.erfc(-minus / np.sqrt(2.0)))
        log_pdf_mid = -0.5 * tf.square(mid) - log_scale - _LOG_SQRT_2PI
    inner = tf.where(delta > 1e-5, tf.math.log(tf.maximum(delta, 1e-12)), log_pdf_mid + float(np.log(2 * _HALF_BIN)))
    logp = tf.where(x < 0.001, log_cdf_plus, tf.where(x > 0.999, log_sf_minus, inner))
    return -tf.reduce_sum(logp, axis=[1, 2, 3])


def binomial_nll(x, p):
    """Per-image negative log-likelihood (nats) of 8-bit images under Binomial(255, p) per pixel.

    This is how the Bernoulli decoder is scored as a distribution of 8-bit data: with grey levels
    k = 255 x, ``255 * BCE(x, p) = -log Binomial(k | 255, p) + log C(255, k)``, so BCE training
    fits exactly this distribution's ``p`` (the KL weight aside); BCE itself, with grey-level
    targets, is not the log-likelihood of anything.
    """
    k = tf.round(x * 255.0)
    p = tf.clip_by_value(p, 1e-7, 1.0 - 1e-7)
    log_choose = tf.math.lgamma(256.0) - tf.math.lgamma(k + 1.0) - tf.math.lgamma(256.0 - k)
    logp = log_choose + k * tf.math.log(p) + (255.0 - k) * tf.math.log(1.0 - p)
    return -tf.reduce_sum(logp, axis=[1, 2, 3])


def kl_divergence(mu, log_var):
    """Per-image KL(N(mu, exp(log_var)) || N(0, 1)), summed over latent dimensions."""
    return -0.5 * tf.reduce_sum(1.0 + log_var - tf.square(mu) - tf.exp(log_var), axis=1)


def loss_weights(config: Mapping[str, Any], pixels: int, z_dim: int) -> tuple[float, float]:
    """``(reco_weight, kl_weight)``: what the per-image sums of reconstruction NLL and KL are multiplied by.

    The TF2 series' solution types 0 (KL layer), 1 (mu / log_var passed to extra outputs) and
    2 (``model.add_loss``) all compute ``-fact * mean(1 + log_var - mu^2 - exp(log_var))`` over
    batch *and* latent dimensions, i.e. ``2 * fact / z_dim`` times the KL; type 3 (the
    GradientTape ``train_step``, this trainer) sums over latent dimensions: ``fact`` times the
    KL. ``scale_by_pixels`` divides the reconstruction sum by the pixel count, as the series'
    commented-out ``scale_fact`` does.
    """
    fact = float(config.get("fact", 0.0))
    kl_weight = fact if int(config.get("kl_solution", 3)) == 3 else 2.0 * fact / z_dim
    reco_weight = 1.0 / pixels if config.get("scale_by_pixels", False) else 1.0
    return reco_weight, kl_weight


class AutoencoderTrainer(keras.Model):
    """Encoder + decoder with a custom ``train_step``: total = reco + fact * KL (KL only if variational).

    ``reco_loss`` is the reconstruction loss (BCE, squared error, or the discretized-logistic
    negative log-likelihood) summed over pixels, times ``reco_weight``, averaged over the batch;
    ``kl_loss`` is ``fact`` (the effective KL weight) times the KL divergence averaged over the
    batch (0 for the plain autoencoder); ``total_loss`` is their sum, and it is the quantity
    differentiated.
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model, *, variational: bool, fact: float,
                 loss: str, seed: int, reco_weight: float = 1.0, scale_shape: tuple | None = None,
                 kl_warmup: int = 0, free_bits: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kl_warmup = int(kl_warmup)  # steps of the linear KL ramp 0 -> fact (0: none)
        self.free_bits = float(free_bits)  # nats per latent dimension not penalised (0: plain KL)
        self.encoder = encoder
        self.decoder = decoder
        self.variational = variational
        self.fact = float(fact)  # the KL weight actually applied (see loss_weights)
        self.reco_weight = float(reco_weight)
        self.loss_kind = loss  # "bce", "mse" or "logistic"
        self.noise = keras.random.SeedGenerator(seed, name="noise")
        # The logistic likelihood's learnable log-scale: one per pixel or one global value,
        # stored divided by LOG_SCALE_SPEED (a per-parameter learning-rate multiplier).
        self.log_scale_var = None
        if loss == "logistic":
            self.log_scale_var = self.add_weight(
                shape=scale_shape, initializer=keras.initializers.Constant(LOG_SCALE_INIT / LOG_SCALE_SPEED),
                trainable=True, name="output_log_scale_tenth")
        self.distribute_scale = tf.distribute.has_strategy()
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reco_loss_tracker = keras.metrics.Mean(name="reco_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def output_log_scale(self):
        """The logistic likelihood's log-scale tensor (None for other likelihoods)."""
        return None if self.log_scale_var is None else self.log_scale_var * LOG_SCALE_SPEED

    @property
    def metrics(self):
        """The three trackers, so Keras resets them at each epoch of ``fit``."""
        return [self.total_loss_tracker, self.reco_loss_tracker, self.kl_loss_tracker]

    def encode(self, x, training: bool = False):
        """``(z, mu, log_var)``; for the plain autoencoder ``z = mu = code`` and ``log_var = None``."""
        if not self.variational:
            code = self.encoder(x, training=training)
            return code, code, None
        mu, log_var = self.encoder(x, training=training)
        # Reparameterisation: z = mu + sigma * eps with eps ~ N(0, 1) drawn outside the
        # parameters, so gradients flow through mu and log_var.
        eps = keras.random.normal(tf.shape(mu), seed=self.noise)
        return mu + tf.exp(0.5 * log_var) * eps, mu, log_var

    def call(self, x, training: bool = False):
        """Reconstruct ``x`` (a posterior sample for the VAE)."""
        z, _, _ = self.encode(x, training=training)
        return self.decoder(z, training=training)

    def compute_losses(self, x, training: bool = False):
        """``(reco_loss, kl_loss)`` averaged over the batch; ``kl_loss`` already includes ``fact``."""
        z, mu, log_var = self.encode(x, training=training)
        x_hat = self.decoder(z, training=training)
        reco = self.reco_weight * tf.reduce_mean(self.reconstruction(x, x_hat))
        if log_var is None:
            kl = tf.zeros_like(reco)
        elif self.free_bits > 0:  # each dimension's batch-mean KL, floored at free_bits (Kingma et al. 2016)
            per_dim = tf.reduce_mean(-0.5 * (1.0 + log_var - tf.square(mu) - tf.exp(log_var)), axis=0)
            kl = self.fact * tf.reduce_sum(tf.maximum(per_dim, self.free_bits))
        else:
            kl = self.fact * tf.reduce_mean(kl_divergence(mu, log_var))
        if log_var is not None and self.kl_warmup > 0 and training:
            # step s (from 1) weighs the KL by s / (kl_warmup + 1): full weight after kl_warmup steps, and
            # kl_warmup=1 (a half-weight first step) differs from no warm-up
            ramp = tf.cast(self.optimizer.iterations + 1, kl.dtype) / float(self.kl_warmup + 1)
            kl = kl * tf.minimum(ramp, 1.0)
        return reco, kl

    def reconstruction(self, x, x_hat):
        """Per-image reconstruction loss of the trainer's kind (unweighted sum over pixels)."""
        if self.loss_kind == "logistic":
            return discretized_nll(x, x_hat, self.output_log_scale, "logistic")
        return reconstruction_loss(x, x_hat, self.loss_kind)

    def train_step(self, data):
        """One optimisation step on a batch of float images in [0, 1]; returns the tracker results."""
        x = data[0] if isinstance(data, (tuple, list)) else data
        with tf.GradientTape() as tape:
            reco, kl = self.compute_losses(x, training=True)
            total = reco + kl
            # Under a tf.distribute strategy the optimizer sums the replicas' gradients: scale each
            # replica's loss by 1/replicas so the update is that of the global batch's mean.
            scaled = total / tf.distribute.get_strategy().num_replicas_in_sync if self.distribute_scale else total
        grads = tape.gradient(scaled, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        self.total_loss_tracker.update_state(total)
        self.reco_loss_tracker.update_state(reco)
        self.kl_loss_tracker.update_state(kl)
        return {m.name: m.result() for m in self.metrics}


# ---------------------------------------------------------------------------------------------
# The zoo models


class _KerasAutoencoder(LatentModel):
    """Shared zoo behaviour of ``vae`` and ``ae``: weights, training loop, checkpoints, evaluation."""

    variational = True

    def __init__(self, config: Mapping[str, Any], family=None) -> None:
        super().__init__(config, family)
        self.latent_size = int(self.config["z_dim"])
        self.strategy = strategy_for(current_world())
        with self.strategy.scope() if self.strategy is not None else nullcontext():
            self._build_trainer()
        self._train_fn: Any = None  # compiled tf.functions, built on first use
        self._train_images: tuple[tuple[str, Any], np.ndarray] | None = None
        self._decode_fn: Any = None
        self._encode_fn: Any = None
        #: the fitted prior mixture's tensors (``prior: mixture`` only; see zoo_vae.prior)
        self.prior_tensors: dict[str, np.ndarray] | None = None
        if self.config.get("prior", "normal") == "mixture":
            from zoo_vae.prior import standard_mixture

            self.prior_tensors = standard_mixture(int(self.config["mixture_components"]), self.latent_size)

    def _build_trainer(self) -> None:
        encoder, decoder = self._build_networks()
        pixels = int(np.prod(self._image_shape()))
        reco_weight, kl_weight = loss_weights(self.config, pixels, self.latent_size)
        scale_shape = self._image_shape() if self.config.get("logistic_scale") == "pixel" else (1, 1, 1)
        self.trainer = AutoencoderTrainer(encoder, decoder, variational=self.variational, fact=kl_weight,
                                          loss=self.loss_kind, seed=int(self.config["seed"]),
                                          reco_weight=reco_weight, scale_shape=scale_shape,
                                          kl_warmup=int(self.config.get("kl_warmup", 0)),
                                          free_bits=float(self.config.get("free_bits", 0.0)), name=self.family_name)
        self.trainer.compile(optimizer=keras.optimizers.Adam(learning_rate=self.config["lr"]),
                             jit_compile=bool(self.config["jit_compile"]))
        # Create Adam's slots now: variables must not first appear inside the compiled step.
        self.trainer.optimizer.build(self.trainer.trainable_variables)

    def _build_networks(self):  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def loss_kind(self) -> str:
        """The trainer's reconstruction loss: ``bce``, ``mse`` or ``logistic``."""
        if "likelihood" in self.config:
            return {"bernoulli": "bce", "gaussian": "mse", "logistic": "logistic"}[self.config["likelihood"]]
        return self.config["loss"]

    @property
    def likelihood(self) -> str:
        """``bernoulli``, ``gaussian`` or ``logistic``."""
        return {"bce": "bernoulli", "mse": "gaussian", "logistic": "logistic"}[self.loss_kind]

    def output_scale(self) -> np.ndarray | None:
        """The logistic likelihood's learnt scale ``exp(log_scale)`` as ``float32 (H, W, C)`` (None otherwise)."""
        if self.trainer.log_scale_var is None:
            return None
        log_scale = np.clip(self.trainer.output_log_scale.numpy(), LOG_SCALE_MIN, LOG_SCALE_MAX)
        return np.broadcast_to(np.exp(log_scale), self._image_shape()).astype(np.float32)

    @property
    def encoder(self) -> keras.Model:
        """The Keras encoder."""
        return self.trainer.encoder

    @property
    def decoder(self) -> keras.Model:
        """The Keras decoder (``z -> images`` in [0, 1])."""
        return self.trainer.decoder

    def keras_models(self) -> dict:
        """Networks that ``zoo layers`` / ``zoo visualize`` inspect (see zoo_core.layers)."""
        return {"encoder": self.encoder}

    # -- weights ---------------------------------------------------------------------------------

    def _variables(self) -> list:
        # ``weights`` (trainable + BatchNorm statistics), not ``variables``: the latter also
        # holds the dropout layers' random-seed states, which are not part of the model.
        extra = [self.trainer.log_scale_var] if self.trainer.log_scale_var is not None else []
        return list(self.encoder.weights) + list(self.decoder.weights) + extra

    def state_dict(self) -> dict[str, np.ndarray]:
        """Every encoder and decoder variable (BatchNorm statistics included), keyed by ``variable.path``,
        and with ``prior: mixture`` the mixture's ``prior/weights``, ``prior/means``, ``prior/covariances``."""
        out: dict[str, np.ndarray] = {}
        for var in self._variables():
            if var.path in out:
                raise ZooError(f"two variables share the path {var.path!r}; layer names must be unique")
            out[var.path] = np.array(var.numpy())
        if self.prior_tensors is not None:
            out.update({k: np.array(v) for k, v in self.prior_tensors.items()})
        return out

    def load_state_dict(self, tensors: Mapping[str, np.ndarray]) -> None:
        """Assign arrays (already checked by name, shape and dtype) to the variables of the same path."""
        for var in self._variables():
            var.assign(tensors[var.path])
        if self.prior_tensors is not None:
            self.prior_tensors = {k: np.array(tensors[k]) for k in self.prior_tensors}

    # -- prior -----------------------------------------------------------------------------------

    def sample_latent(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` codes from the model's prior: N(0, I), or with ``prior: mixture`` the fitted mixture."""
        if self.prior_tensors is None:
            return super().sample_latent(n, seed)
        from zoo_vae.prior import sample_mixture

        return sample_mixture(self.prior_tensors, n, seed)

    def fit_prior(self, images: np.ndarray) -> float | None:
        """With ``prior: mixture``: fit the mixture to the posterior means of ``images`` (uint8); returns
        the mean log-likelihood per code (None with ``prior: normal``)."""
        if self.prior_tensors is None:
            return None
        from zoo_vae.prior import fit_mixture

        self.prior_tensors, ll = fit_mixture(self.encode(images), int(self.config["mixture_components"]),
                                             seed=int(self.config["seed"]))
        return ll

    # -- sampling --------------------------------------------------------------------------------

    def decode(self, latents: np.ndarray) -> np.ndarray:
        """Decode latent vectors ``(n, z_dim)`` into ``uint8 (n, H, W, C)`` images."""
        latents = np.asarray(latents, dtype=np.float32)
        if latents.ndim != 2 or latents.shape[1] != self.latent_size:
            raise ZooError(f"latents must have shape (n, {self.latent_size}), got {latents.shape}")
        if self._decode_fn is None:
            # one trace per model whatever the batch size (a lambda per shape would retrace, and TF counts
            # the traces of every instance's lambda together and warns on stderr)
            spec = tf.TensorSpec([None, self.latent_size], tf.float32)
            self._decode_fn = tf.function(lambda z: self.decoder(z, training=False), input_signature=[spec])
        parts = [self._decode_fn(tf.constant(latents[i:i + 256])).numpy() for i in range(0, len(latents), 256)]
        return to_uint8(np.concatenate(parts) if parts else np.zeros((0, *self._image_shape()), np.float32))

    def encode(self, images: np.ndarray) -> np.ndarray:
        """Posterior means (the codes, for ``ae``) of ``uint8`` images, ``float32 (n, z_dim)``."""
        x = self._as_float(images)
        if self._encode_fn is None:
            spec = tf.TensorSpec([None, *self._image_shape()], tf.float32)
            self._encode_fn = tf.function(lambda b: self.trainer.encode(b, training=False)[1], input_signature=[spec])
        return np.concatenate([self._encode_fn(tf.constant(x[i:i + 256])).numpy() for i in range(0, len(x), 256)])

    def reconstruct(self, images: np.ndarray) -> np.ndarray:
        """Encode to the posterior mean and decode: ``uint8`` in, ``uint8`` out, same shape."""
        return self.decode(self.encode(images))

    def _image_shape(self) -> tuple[int, int, int]:
        return (self.config["image_size"], self.config["image_size"], self.config["channels"])

    def _as_float(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.shape[1:] != self._image_shape():
            raise ZooError(f"images of shape {images.shape[1:]} do not fit the model ({self._image_shape()}); "
                           f"resize them or build the model with image_size/channels to match")
        return images.astype(np.float32) / 255.0

    # -- data ------------------------------------------------------------------------------------

    def images_for(self, data: Any, split: str, n: int | None = None) -> np.ndarray:
        """Images from a spec/path/array (None: the config's dataset), resized to the model's shape."""
        spec = self.config["dataset"] if data is None else data
        if not isinstance(spec, np.ndarray):
            spec = str(spec)
        images, _ = load_dataset(spec, split, n=n, size=self.config["image_size"],
                                 channels=self.config["channels"])
        return images

    # -- training --------------------------------------------------------------------------------

    def training_session(self, data: Any, steps: int, ctx: Any) -> AutoencoderSession:
        """The VAE / AE algorithm for :func:`zoo_core.runtime.fit` (``model.train`` / ``zoo train``).

        :param data: a dataset spec or path (``zoo_core.data.datasets.load_dataset``), a uint8/float
            image array, or None for the config's ``dataset``; its ``train`` split is used.

        Adam at ``lr``; each step's logs are ``total_loss``, ``reco_loss``, ``kl_loss`` (batch
        means; total is exactly reco + kl in float32).
        """
        return AutoencoderSession(self, data, steps, ctx)

    def training_images(self, data: Any) -> np.ndarray:
        """The ``train`` split of ``data`` as uint8 images of the model's shape, cached per source."""
        key = ("array", id(data)) if isinstance(data, np.ndarray) else ("spec", str(data))
        if self._train_images is None or self._train_images[0] != key:
            self._train_images = (key, self.images_for(data, "train"))
        return self._train_images[1]

    def training_tensor(self, images: np.ndarray):
        """``images`` as a TensorFlow constant, cached while the same array is trained on."""
        cached = getattr(self, "_train_tensor", None)
        if cached is None or cached[0] is not images:
            self._train_tensor = (images, tf.constant(images))
        return self._train_tensor[1]

    def compiled_chunk(self):
        """The compiled multi-step training loop (built once per model, reused by every run)."""
        if self._train_fn is None:
            self._train_fn = compile_chunk(self.trainer, self.strategy, bool(self.config["jit_compile"]))
        return self._train_fn

    def device_scope(self):
        """TensorFlow device placement for this model's device."""
        from zoo_core.runtime.devices import tf_device_name

        return tf.device(tf_device_name(self.device))

    def to(self, device: str) -> _KerasAutoencoder:
        """Run on a resolved device (``cpu`` or ``cuda:N``) through TensorFlow's device placement."""
        self.device = device
        return self

    def recompute_batch_norm(self, images: np.ndarray, *, n: int = BN_IMAGES, batch: int = 256) -> bool:
        """Set every BatchNorm layer's moving mean/variance to the exact statistics of its inputs in inference mode.

        During training the moving averages (momentum 0.99) trail the weights: they mix batch
        statistics of the last few hundred steps' *older* weights, so after a short or fast-moving
        run, inference-mode outputs differ from what training saw. This recomputes them, layer by
        layer in network order, over up to ``n`` training images (a seeded random subset): each
        layer's inputs are computed with every earlier BatchNorm already using its recomputed
        statistics (and dropout off), exactly as at inference; the decoder's inputs are posterior
        samples ``z = mu + sigma * eps`` of those images, as in training. Mean and (biased)
        variance are accumulated in float64 over all pixels of all images. Returns whether the
        model has any BatchNorm layer.
        """
        layers = [(net, layer) for net in (self.encoder, self.decoder) for layer in net.layers
                  if isinstance(layer, keras.layers.BatchNormalization)]
        if not layers:
            return False
        rng = np.random.default_rng(int(self.config["seed"]) + 7919)
        pick = np.sort(rng.permutation(len(images))[:n]) if len(images) > n else np.arange(len(images))
        x = images[pick].astype(np.float32) / 255.0
        z: np.ndarray | None = None
        for net, layer in layers:
            if net is self.decoder and z is None:
                parts = []
                for i in range(0, len(x), batch):
                    out = self.encoder(tf.constant(x[i:i + batch]), training=False)
                    if self.variational:
                        mu, log_var = (np.asarray(t) for t in out)
                        parts.append(mu + np.exp(0.5 * log_var) * rng.standard_normal(mu.shape).astype(np.float32))
                    else:
                        parts.append(np.asarray(out))
                z = np.concatenate(parts)
            feed = x if net is self.encoder else z
            assert feed is not None  # the decoder's layers come after z is drawn
            probe = keras.Model(net.input, layer.input)
            total: np.ndarray | None = None
            total_sq: np.ndarray | None = None
            count = 0
            for i in range(0, len(feed), batch):
                a = np.asarray(probe(tf.constant(feed[i:i + batch]), training=False), dtype=np.float64)
                a = a.reshape(-1, a.shape[-1])
                total = a.sum(0) if total is None else total + a.sum(0)
                total_sq = (a * a).sum(0) if total_sq is None else total_sq + (a * a).sum(0)
                count += len(a)
            assert total is not None and total_sq is not None  # feed holds at least one batch
            mean = total / count
            var = np.maximum(total_sq / count - mean * mean, 0.0)
            layer.moving_mean.assign(mean.astype(np.float32))
            layer.moving_variance.assign(var.astype(np.float32))
        return True

    # -- evaluation ------------------------------------------------------------------------------

    def evaluate(self, data: Any = None, *, seed: int = 0) -> dict[str, Any]:
        """Held-out metrics (the ``test`` split of ``data``, default the config's dataset).

        Per image (means over up to 2000 held-out images, one seeded posterior draw each):

        * ``neg_elbo``: the negative ELBO in nats, ``nll + kl``, where ``nll`` is the negative
          log-likelihood of the *8-bit* pixel values under the decoder's distribution read as a
          proper distribution over the 256 grey levels: ``logistic``: the discretized logistic
          with the learnt scale; ``gaussian``: the discretized Gaussian whose sigma the training
          objective implies (MSE + w * KL is, up to a factor, the negative ELBO of a Gaussian
          decoder with sigma^2 = w / 2, ``gaussian_sigma``); ``bernoulli``: Binomial(255, p) per
          pixel (what BCE on grey levels fits); ``bits_per_dim`` = ``neg_elbo / (pixels * ln 2)``.
          These are upper bounds on the data's negative log-likelihood, comparable across models.
          Bernoulli models also report ``neg_elbo_bce`` = BCE + KL, the figure usually quoted (and
          the training objective at ``fact`` 1), which is not a likelihood of grey-level data.
        * ``reco_loss`` (the training kind, summed over pixels, unweighted), ``bce`` and
          ``mse_per_pixel`` (comparable across models), ``kl`` (nats, unweighted), ``kl_loss`` and
          ``total_loss`` (weighted exactly as in training), code statistics, and how close prior
          samples come to real images: ``prior_nn_mse`` is the mean squared distance from each of
          256 decoded N(0, 1) draws to its nearest held-out image, ``heldout_nn_mse`` the same for
          held-out images among themselves (the scale of "looks like data").
        """
        images = self.images_for(data, "test")[:EVAL_IMAGES]
        x = images.astype(np.float32) / 255.0
        pixels = int(np.prod(self._image_shape()))
        likelihood = self.likelihood
        out: dict[str, Any] = {"images": int(len(x)), "likelihood": likelihood}
        if likelihood == "gaussian" and self.variational:
            # sigma^2 = (KL weight / reconstruction weight) / 2, in [0, 1] pixel units
            out["gaussian_sigma"] = float(np.sqrt(max(self.trainer.fact / self.trainer.reco_weight, 1e-12) / 2.0))
        per_image = self._per_image_losses(x, np.random.default_rng(seed), likelihood, out.get("gaussian_sigma"))
        out.update(self._loss_metrics(per_image, pixels, likelihood))
        scale = self.output_scale()
        if scale is not None:
            out.update({"scale_mean": float(scale.mean()), "scale_min": float(scale.min()),
                        "scale_max": float(scale.max())})
        codes = per_image["codes"]
        out.update({"code_mean": float(codes.mean()), "code_std": float(codes.std())})
        out.update(self._sample_metrics(x, seed, pixels))
        out.update(self._quality_metrics(data, images, seed))
        return out

    def _quality_metrics(self, data: Any, images: np.ndarray, seed: int) -> dict[str, Any]:
        """``quality_*``: :func:`zoo_core.media.quality.sample_quality` of ``QUALITY_SAMPLES`` prior samples against
        the held-out images, when the dataset has a reference classifier (``digits-28``: ``digits-cnn``) that
        reads images of this model's shape."""
        from zoo_core.media.quality import reference_classifier, sample_quality

        dataset = self.config["dataset"] if data is None else data
        if reference_classifier(dataset, self._image_shape()) is None:  # no classifier for these images
            return {}
        try:
            figures = sample_quality(self.sample(QUALITY_SAMPLES, seed=seed), dataset, seed=seed, reference=images)
        except ZooError as exc:  # e.g. the classifier's framework (torch) is not installed
            return {"quality_error": str(exc).splitlines()[0]}
        return figures if figures is not None else {}  # None: no reference classifier, as above

    def _per_image_losses(self, x: np.ndarray, rng: np.random.Generator, likelihood: str,
                          gaussian_sigma: float | None) -> dict[str, np.ndarray]:
        """Per image of ``x`` (floats in [0, 1]), one posterior draw each from ``rng``: ``reco`` (the training
        kind), ``bce``, ``sq`` (summed squared error), ``codes`` (posterior means) and, for a VAE, ``kl`` and
        ``nll`` (of the 8-bit pixels)."""
        keys = ("reco", "bce", "sq", "codes") + (("kl", "nll") if self.variational else ())
        parts: dict[str, list[np.ndarray]] = {k: [] for k in keys}
        for i in range(0, len(x), 256):
            xb = tf.constant(x[i:i + 256])
            if self.variational:
                mu, log_var = self.encoder(xb, training=False)
                eps = rng.standard_normal(mu.shape).astype(np.float32)
                z = mu + tf.exp(0.5 * log_var) * eps
                parts["kl"].append(kl_divergence(mu, log_var).numpy())
            else:
                mu = z = self.encoder(xb, training=False)
            x_hat = self.decoder(z, training=False)
            parts["reco"].append(self.trainer.reconstruction(xb, x_hat).numpy())
            parts["bce"].append(reconstruction_loss(xb, x_hat, "bce").numpy())
            parts["sq"].append(reconstruction_loss(xb, x_hat, "mse").numpy())
            if self.variational:  # no posterior, no ELBO
                parts["nll"].append(self._pixel_nll(xb, x_hat, likelihood, gaussian_sigma))
            parts["codes"].append(np.asarray(mu))
        return {k: np.concatenate(v) for k, v in parts.items()}

    def _pixel_nll(self, xb, x_hat, likelihood: str, gaussian_sigma: float | None) -> np.ndarray:
        """Per image: the negative log-likelihood of the 8-bit pixels under the decoder's distribution."""
        if likelihood == "logistic":
            return discretized_nll(xb, x_hat, self.trainer.output_log_scale, "logistic").numpy()
        if likelihood == "gaussian":
            assert gaussian_sigma is not None  # evaluate() passes it with likelihood gaussian
            return discretized_nll(xb, x_hat, tf.constant(float(np.log(gaussian_sigma))), "gaussian").numpy()
        return binomial_nll(xb, x_hat).numpy()

    def _loss_metrics(self, per_image: dict[str, np.ndarray], pixels: int, likelihood: str) -> dict[str, float]:
        """Means of the per-image losses, weighted as in training where named so, and the ELBO of a VAE."""
        reco_weight, kl_weight = self.trainer.reco_weight, self.trainer.fact
        reco_v, bce_v, sq_v = per_image["reco"], per_image["bce"], per_image["sq"]
        out = {"reco_loss": float(reco_v.mean()), "bce": float(bce_v.mean()),
               "mse_per_pixel": float(sq_v.mean() / pixels)}
        if not self.variational:
            out["total_loss"] = float(reco_weight * reco_v.mean())
            return out
        nll_v, kl_v = per_image["nll"], per_image["kl"]
        out["nll"] = float(nll_v.mean())
        neg_elbo = float(nll_v.mean() + kl_v.mean())
        out.update({"kl": float(kl_v.mean()), "kl_loss": float(kl_weight * kl_v.mean()),
                    "total_loss": float(reco_weight * reco_v.mean() + kl_weight * kl_v.mean()),
                    "neg_elbo": neg_elbo, "bits_per_dim": neg_elbo / (pixels * float(np.log(2.0)))})
        if likelihood == "bernoulli":  # the usual figure: BCE + KL, not a likelihood of 8-bit data
            out["neg_elbo_bce"] = float(bce_v.mean() + kl_v.mean())
        return out

    def _sample_metrics(self, x: np.ndarray, seed: int, pixels: int) -> dict[str, float]:
        """How close 256 decoded prior draws come to held-out images, and held-out images to each other."""
        samples = self.sample(256, seed=seed).astype(np.float32).reshape(256, -1) / 255.0
        flat = x.reshape(len(x), -1)
        out = {"prior_nn_mse": float(_nearest_sq(samples, flat).mean() / pixels)}
        half = len(flat) // 2
        if half:
            out["heldout_nn_mse"] = float(_nearest_sq(flat[:min(half, 256)], flat[half:]).mean() / pixels)
        return out

def _nearest_sq(queries: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Squared L2 distance from each query row to its nearest row of ``pool``."""
    d = (queries ** 2).sum(1)[:, None] - 2.0 * queries @ pool.T + (pool ** 2).sum(1)[None, :]
    return np.maximum(d.min(axis=1), 0.0)


class ConvVAE(_KerasAutoencoder):
    """The ``vae`` family: convolutional VAE, sampled by decoding z ~ N(0, 1)."""

    variational = True

    def _build_networks(self):
        return build_conv_vae(self.config)


class DenseAE(_KerasAutoencoder):
    """The ``ae`` family: the plain dense autoencoder; decoding N(0, 1) codes shows why it is no generator."""

    variational = False

    def _build_networks(self):
        return build_dense_ae(self.config)
