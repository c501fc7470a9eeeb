"""The random CNN: a countable class of generative image models whose weights are not learned.

A model of the class turns ``noise`` bits of binary input into an ``H x W x C`` image of 4 bits per
pixel channel (``H*W*C*4`` uncompressed bits) with a CNN whose weights take ``soph`` bits: every
weight is one of the ``2^bpw + 1`` equiprobable values of a quantized Laplace distribution
(``bits_per_weight`` bits, 5 by default), drawn with ``numpy.random.default_rng(seed)``. ``soph``
and ``noise`` are config fractions of the uncompressed bits. The network reverses a classifier:
blocks of 7x7 ``same`` convolutions without bias, ReLU between them, 2x upsampling between
blocks (bilinear; the seed's nearest with ``upsampling=nearest``), a fixed 3x3 binomial low-pass
after every convolution (``smoothing``; none in the seed), channel counts decaying by a constant
factor toward the image, and a sigmoid output discretised to 16 levels (mapped to uint8 as
``level * 17``). With ``split=random`` the budgets are the seed's random split of the
uncompressed bits (:func:`random_split`, drawn from ``seed``) instead of ``soph`` and ``noise``.

The hyper-parameter search is the seed notebook's (``possible_depths`` / ``depth_to_factor`` /
``adhoc_params``, see :mod:`zoo_random_cnn.architecture`): for each depth, bisect the depth factor
that spends ``soph / bpw`` weights; the input is ``reshapesize x reshapesize x reshapedepth`` so
that it holds ``noise`` values; keep the depth with the most blocks (smallest input), the deepest
such. The Keras model is built in :mod:`zoo_random_cnn.model` (only building and sampling import
Keras); ``zoo random-cnn-grid`` draws the seed's soph x noise triangle, measures its information
(:mod:`zoo_random_cnn.information`) and serves the seed's sliders (:mod:`zoo_random_cnn.explorer`).
docs/random-cnn.md has the measurements behind the choices below.

What changed against the seed, and why
--------------------------------------

* **Parameter count matches the budget.** The seed picks depth and factor from the budget, then
  snaps the input to a power-of-two fraction of the image, recomputes ``reshapedepth`` from the
  noise and re-derives the factor from it, which lands the count anywhere from 0.49x to 0.96x of
  ``soph / bpw`` on the 256x256 grid. We keep the seed's depth and block count and the input it
  implies, and bisect the decay factor on the *rounded* channel counts (widths ``max(C,
  round(D0 / f^i))``, last conv ``C``) so the count lands within 0.8-1.05x. With ``f = (D0 /
  C)^(1/depth)`` this is exactly the seed's profile; the search only moves ``f``.
* **Always an architecture.** Where the seed returns None (e.g. small or colour images: the
  continuous input size fails its bounds for every depth) or its choice cannot be fitted, the
  search tries the neighbouring (depth, block count) pairs, nearest the seed's choice first (block
  count 1 and depth 1 when the seed has none). All 120 cells of the seed's 256x256 grey grid keep
  the seed's own choice. A config that still has no fit (weights come in 7x7 steps, so a tiny
  budget cannot be met) is a one-line :class:`zoo_core.ConfigError` naming the nearest miss.
* **Blocks.** The seed gives every block ``ceil(depth / numblocks)`` convolutions and the last one
  the rest, which is empty (or negative) for e.g. depth 4 with 3 blocks: its output is then an
  upsampled, blocky map. Convolutions are spread evenly instead, the last always at full size.
  Non-square images use the geometric-mean side in the search and a centre crop of the upsampled
  output.
* **The signal no longer dies.** In the seed every conv, the last included, is followed by ReLU,
  so the sigmoid sees values >= 0 (outputs in [0.5, 1)), and the ad-hoc Laplace scales
  ``(1 + b/numblocks) / k^2`` shrink activations by about ``k`` per layer: most cells are flat.
  The scales are now derived from the fan-in (He et al.): a pre-activation ``y = sum w x`` over
  ``fan_in = k^2 C_in`` inputs has ``E[y^2] = fan_in Var(w) E[x^2]``; binary {0,1} inputs and ReLU
  outputs of a symmetric unit-variance ``y`` both have ``E[x^2] = 1/2``, so ``Var(w) = 2 / fan_in``
  and, as the seed's quantized Laplace of scale ``b`` has ``Var(w) = b^2 v_bpw`` (``v_5 = 1.380``),
  ``b = sqrt(2 / (fan_in v_bpw))``. That fixes the *expected* variance, but the grid's networks
  are narrow (1-3 channels near the image, up to 30 layers) and per draw the log-variance drifts
  down layer by layer: with fan-in scales alone 53 of the 120 cells were still flat at seed 0.
  So each feature map is also standardised per image (zero spatial mean, unit variance; no
  parameters, so no bits) before its ReLU. The last conv has no ReLU; its output is standardised
  jointly over height, width and channels (so a colour image keeps the weights' colour balance),
  multiplied by ``OUTPUT_GAIN`` = 1.5 and goes through the sigmoid. Every cell now has real
  contrast (8-bit std >= 0.22 on the 256x256 grid, see docs/benchmarks.md). The normalisation
  makes outputs invariant to each layer's scale; the fan-in scales keep pre-normalisation
  activations O(1).
* **Images a generic coder can read.** Random 7x7 kernels have a flat expected spectrum, so a
  chain of them (renormalised at every layer) ends on whatever band its product of spectra
  peaks at, mostly high frequencies, and nearest upsampling adds block edges: the images were
  static to lzma, PNG and WebP (median 0.97 of the raw bits on the 256x256 grid, whatever the
  budget). Bilinear upsampling and a fixed binomial low-pass after each convolution (no
  parameters, no bits) leave blobs and strokes whose size follows the input grid; see
  docs/random-cnn.md for the before/after numbers and why the sizes still do not follow soph.
* **Reproducible.** Weights come from ``numpy.random.default_rng(config seed)`` (not numpy's
  global state, not Keras initialisers), layer by layer; inputs from ``default_rng(sample seed)``.
"""

from __future__ import annotations

import zoo_core
from zoo_core.config import MAX_SEED, ConfigSpec, Param
from zoo_core.errors import ConfigError
from zoo_core.families import Family
from zoo_random_cnn.architecture import Architecture, NoArchitecture, search_bits, uncompressed_bits

__all__ = ["CONFIG", "architecture_of", "budgets", "check_config", "count_parameters", "random_split",
           "register_families", "register_commands"]


def random_split(uncompressed: int, seed: int) -> tuple[int, int, int]:
    """The notebook's random split of ``uncompressed`` bits: ``(soph, noise, redundancy)``.

    Two distinct cut points are drawn uniformly from ``0 .. uncompressed - 2`` and sorted, ``a <
    b``; then ``soph = a + 1``, ``noise = b - a`` and ``redundancy = uncompressed - 1 - b``: each is
    at least 1 and they sum to ``uncompressed``. The draw is a pure function of ``seed`` (pure
    python's ``random.Random``, seeded with ``("random-cnn split", seed)`` hashed to an int, so
    config validation stays free of numpy).
    """
    import random

    if uncompressed < 3:
        raise ConfigError(f"cannot split {uncompressed} bits into three non-empty parts")
    rng = random.Random(f"random-cnn split {seed}")
    a, b = sorted(rng.sample(range(uncompressed - 1), 2))
    return a + 1, b - a, uncompressed - 1 - b


def budgets(config: dict) -> tuple[int, int]:
    """``(soph_bits, noise_bits)`` of a config: its fractions of ``H*W*C*4`` bits, or with
    ``split=random`` the notebook's random split drawn from the config's ``seed``."""
    total = uncompressed_bits(config["height"], config["width"], config["channels"])
    if config.get("split", "fixed") == "random":
        soph, noise, _ = random_split(total, config["seed"])
        return soph, noise
    return round(config["soph"] * total), round(config["noise"] * total)


def check_config(config: dict) -> None:
    """Cross-field check: ``soph + noise <= 1``, both > 0, odd kernel, and an architecture exists."""
    soph, noise = config["soph"], config["noise"]
    if config["split"] == "fixed":
        if soph <= 0 or noise <= 0:
            raise ConfigError(f"config keys 'soph' and 'noise' must be > 0 (got soph={soph}, noise={noise})")
        if soph + noise > 1:
            raise ConfigError(f"soph + noise = {soph + noise:g} exceeds 1: both are fractions of the "
                              f"H*W*C*4 uncompressed bits")
    if config["kernel_size"] % 2 == 0:
        raise ConfigError(f"config key 'kernel_size': {config['kernel_size']} is even; use an odd size")
    architecture_of(config)


def architecture_of(config: dict) -> Architecture:
    """The architecture a (validated) config describes; :class:`ConfigError` when none fits."""
    soph_bits, noise_bits = budgets(config)
    try:
        return search_bits(config["height"], config["width"], config["channels"], soph_bits, noise_bits,
                           config["bits_per_weight"], config["kernel_size"])
    except NoArchitecture as exc:
        note = (f" (split=random with seed {config['seed']} drew soph={soph_bits}, noise={noise_bits} bits; "
                f"try another seed)" if config.get("split") == "random" else "")
        raise ConfigError(f"{exc}{note}") from None


def count_parameters(config: dict) -> int:
    """Number of weights of the model ``config`` describes (pure python: no numpy, no keras)."""
    return architecture_of(config).parameters


CONFIG = ConfigSpec(
    {
        # 2048 x 2048 x 3 samples in ~30 s at 2.8 GB peak memory (measured; 4096 went past 4 GB)
        "height": Param(64, "int", "image height in pixels", min=4, max=2048),
        "width": Param(64, "int", "image width in pixels", min=4, max=2048),
        "channels": Param(1, "int", "1 (grey) or 3 (colour); 4 bits per pixel channel", choices=(1, 3)),
        "soph": Param(0.25, "float", "sophistication: fraction of the H*W*C*4 bits spent on weights",
                      min=0.0, max=1.0),
        "noise": Param(0.25, "float", "fraction of the H*W*C*4 bits fed in as binary noise", min=0.0, max=1.0),
        "split": Param("fixed", "str", "'fixed': soph and noise as given; 'random': the notebook's two uniform "
                       "cut points, drawn from seed (soph and noise are then ignored)",
                       choices=("fixed", "random")),
        "bits_per_weight": Param(5, "int", "quantized-Laplace bits per weight (2^bpw + 1 levels)", min=1, max=12),
        "kernel_size": Param(7, "int", "convolution kernel size (odd)", min=1, max=31),
        "upsampling": Param("bilinear", "str", "2x upsampling between blocks (the notebook: nearest)",
                            choices=("nearest", "bilinear")),
        "smoothing": Param("conv", "str", "fixed 3x3 binomial low-pass after every conv ('conv'), after "
                           "every upsampling ('upsample') or nowhere ('none', the notebook)",
                           choices=("conv", "upsample", "none")),
        "seed": Param(0, "int", "seed of the weights (numpy default_rng) and of a random split", min=0,
                      max=MAX_SEED),
    },
    check=check_config,
)


@zoo_core.hookimpl
def register_families(register):
    """Register the ``random-cnn`` family (Keras; its weights are a pure function of the config)."""
    register(Family(
        name="random-cnn", framework="keras", factory="zoo_random_cnn.model:RandomCNN", config=CONFIG,
        requires=("keras", "tensorflow"), extra="keras",
        description="random CNN with quantized-Laplace weights: soph bits of weights, noise bits of input",
        count_parameters=count_parameters))  # not trainable: RandomCNN keeps ZooModel.training_session


@zoo_core.hookimpl
def register_commands(cli):
    """Add ``zoo random-cnn-grid`` (the seed's soph x noise picture)."""
    from zoo_random_cnn.commands import grid_command

    cli.add_command(grid_command)
