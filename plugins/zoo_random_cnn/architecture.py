"""Pure-python hyper-parameter search of the random CNN (no numpy, no framework).

The seed's search is kept: :func:`number_of_weights`, :func:`depth_to_factor`,
:func:`possible_depths` and :func:`adhoc_params` are the seed's functions with the image size
passed in instead of read from globals. :func:`search` then turns their choice into an
:class:`Architecture` whose realised (rounded) parameter count matches the sophistication budget;
see the package docstring for what changed against the seed and why.

Everything here is plain ``math`` so that ``zoo list``/``zoo info`` and config validation never
import numpy or keras.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

#: bits per pixel channel of the (uncompressed) output image: 16 grey levels per channel.
BITS_PER_CHANNEL = 4
#: the parameter count must land in [LOW, HIGH] x (soph_bits / bits_per_weight).
RATIO_LOW, RATIO_HIGH = 0.8, 1.05
#: deepest network the search will build (a guard against absurd configs, e.g. no noise at all).
MAX_DEPTH = 160


class NoArchitecture(ValueError):
    """No architecture of the model class fits the given budgets (message is one line)."""


def uncompressed_bits(height: int, width: int, channels: int) -> int:
    """Bits of the uncompressed image: ``H * W * C * 4``."""
    return height * width * channels * BITS_PER_CHANNEL


# ---------------------------------------------------------------------------------------------
# The seed's search (same formulas; image size and channels are arguments)


def number_of_weights(kernel_size: int, depth: int, depth_factor: float, channels: int) -> float:
    """Weights of ``depth`` convolutions whose depth grows by ``depth_factor`` per layer away from the image.

    Layer ``i`` (counted from the image, 1-based) maps ``channels * f**i`` to ``channels * f**(i-1)``
    channels with a ``k x k`` kernel, so the total is the geometric sum
    ``k^2 c^2 f (f^(2 depth) - 1) / (f^2 - 1)``.
    """
    try:
        return (kernel_size ** 2 * channels ** 2 * depth_factor * (depth_factor ** (2 * depth) - 1)
                / (depth_factor ** 2 - 1))
    except OverflowError:
        return math.inf


def depth_to_factor(weights: float, kernel_size: int, depth: int, channels: int) -> float | None:
    """The depth factor that spends (at most) ``weights`` weights on ``depth`` layers, or None.

    None when even factor 1 (constant depth ``channels``) needs more than ``weights``. Bisection on
    ``1 / factor`` in (0, 1) with 30 steps, as in the seed.
    """
    if kernel_size ** 2 * channels ** 2 * depth > weights:
        return None
    low, high = 0.0, 1.0
    for _ in range(30):
        candidate = (low + high) / 2
        if number_of_weights(kernel_size, depth, 1 / candidate, channels) < weights:
            high = candidate
        else:
            low = candidate
    return 1 / high  # the last factor known not to need too many weights


def possible_depths(noise: float, weights: float, kernel_size: int, side: float,
                    channels: int) -> Iterator[tuple[int, float, float]]:
    """Yield ``(depth, depth_factor, reshape_size)`` for every depth the budgets allow.

    The input is ``reshape_size^2 x channels * factor^depth`` so that it holds ``noise`` values;
    it must be no larger than the image (``side``) and reachable with one 2x upsampling per layer.
    ``side`` is the image's side (the geometric mean of height and width for non-square images).
    """
    depth = 1
    while True:
        factor = depth_to_factor(weights, kernel_size, depth, channels)
        if factor is None:
            break
        reshape_size = math.sqrt(noise / (channels * factor ** depth))
        if side >= reshape_size and side / 2 ** depth <= reshape_size:
            yield depth, factor, reshape_size
        depth += 1


@dataclass(frozen=True)
class SeedChoice:
    """What the seed's ``adhoc_params`` picks: depth and number of blocks (None-free)."""

    depth: int
    numblocks: int


def adhoc_params(soph: float, noise: float, side: float, channels: int, bits_per_weight: int = 5,
                 kernel_size: int = 7) -> SeedChoice | None:
    """The seed's ad-hoc choice: the most blocks (smallest input), and then the deepest such network.

    Returns None where the seed does (no depth passes :func:`possible_depths`). The seed's derived
    quantities (block depth, reshape size, reshape depth, recomputed factor) are computed by
    :func:`search` instead, with the fixes described in the package docstring.
    """
    depth = numblocks = 0
    for d, _factor, reshape_size in possible_depths(noise, soph / bits_per_weight, kernel_size, side, channels):
        blocks = 1 + math.log2(side / reshape_size)
        if blocks >= numblocks:
            numblocks, depth = int(blocks), d
        else:
            break
    return SeedChoice(depth, numblocks) if numblocks else None


# ---------------------------------------------------------------------------------------------
# The architecture actually built


@dataclass(frozen=True)
class Architecture:
    """A fully determined random CNN: shapes, channel counts, blocks and weight scales.

    ``conv_channels[i]`` is the output depth of convolution ``i`` (the last is ``channels``);
    ``conv_blocks[i]`` its block: a 2x upsampling sits between consecutive convolutions whose
    blocks differ (once per block step). ``laplace_scales[i]`` is the scale of its quantized-Laplace
    weights. The output is cropped to ``height x width`` when the upsampled input is larger.
    """

    height: int
    width: int
    channels: int
    kernel_size: int
    bits_per_weight: int
    soph_bits: int
    noise_bits: int
    input_shape: tuple[int, int, int]
    conv_channels: tuple[int, ...]
    conv_blocks: tuple[int, ...]
    depth_factor: float
    laplace_scales: tuple[float, ...]
    seed_choice: SeedChoice | None
    numblocks: int

    @property
    def depth(self) -> int:
        """Number of convolutions."""
        return len(self.conv_channels)

    @property
    def budget(self) -> float:
        """Weights the sophistication pays for: ``soph_bits / bits_per_weight``."""
        return self.soph_bits / self.bits_per_weight

    @property
    def parameters(self) -> int:
        """Number of weights (convolutions have no bias)."""
        return _count(self.kernel_size, self.input_shape[2], self.conv_channels)

    @property
    def ratio(self) -> float:
        """``parameters / budget``; the search keeps it within [0.8, 1.05]."""
        return self.parameters / self.budget

    @property
    def kernel_shapes(self) -> list[tuple[int, int, int, int]]:
        """Keras kernel shapes ``(k, k, in, out)`` of every convolution."""
        ins = (self.input_shape[2],) + self.conv_channels[:-1]
        return [(self.kernel_size, self.kernel_size, a, b) for a, b in zip(ins, self.conv_channels, strict=True)]

    @property
    def input_bits(self) -> int:
        """Binary values in one input: ``noise_bits`` rounded down to whole input channels, or more
        only where the floor of ``channels`` input channels needs it (as in the seed)."""
        h, w, d = self.input_shape
        return h * w * d

    def describe(self) -> str:
        """One line: depth, blocks, input shape, channel profile, parameters vs budget."""
        chans = "-".join(str(c) for c in (self.input_shape[2],) + self.conv_channels)
        return (f"depth {self.depth}, {self.numblocks} blocks, input {'x'.join(map(str, self.input_shape))}, "
                f"channels {chans}, {self.parameters:,} weights ({self.ratio:.3f} x budget)")


def _count(kernel_size: int, in_depth: int, conv_channels: tuple[int, ...]) -> int:
    ins = (in_depth,) + tuple(conv_channels[:-1])
    return kernel_size ** 2 * sum(a * b for a, b in zip(ins, conv_channels, strict=True))


def _profile(in_depth: int, channels: int, depth: int, factor: float) -> tuple[int, ...]:
    """Channel counts decaying by ``factor`` per layer from the input, never below ``channels``.

    The last convolution always outputs ``channels`` (the image). With ``factor =
    (in_depth / channels) ** (1 / depth)`` this is exactly the seed's profile.
    """
    hidden = tuple(max(channels, round(in_depth / factor ** i)) for i in range(1, depth))
    return hidden + (channels,)


def _fit_factor(in_depth: int, channels: int, depth: int, kernel_size: int,
                budget: float) -> tuple[float, tuple[int, ...], float]:
    """Bisect the decay factor so that the rounded profile's weight count is closest to ``budget``.

    The count is non-increasing in the factor (each rounded width is), so bisection finds the two
    profiles around the budget (or the extreme one when the budget lies outside the depth's range).
    Returns ``(factor, profile, ratio)`` of the one nearest the budget; the caller checks the ratio.
    """
    def count(f: float) -> int:
        return _count(kernel_size, in_depth, _profile(in_depth, channels, depth, f))

    top = max(2.0 * in_depth / channels, 2.0)  # every hidden width is clamped to `channels` here
    if count(1.0) <= budget:
        lo = hi = 1.0
    elif count(top) > budget:
        lo = hi = top
    else:
        lo, hi = 1.0, top  # count(lo) > budget >= count(hi)
        for _ in range(60):
            mid = (lo + hi) / 2
            if count(mid) > budget:
                lo = mid
            else:
                hi = mid
    # within the band, prefer the ratio nearest 1; outside it, the nearest to the band
    best = min((hi, lo), key=lambda f: _miss(count(f) / budget))
    return best, _profile(in_depth, channels, depth, best), count(best) / budget


def _miss(ratio: float) -> tuple[float, float]:
    """Sort key: distance outside [RATIO_LOW, RATIO_HIGH] (log scale), then distance from 1."""
    outside = max(math.log(RATIO_LOW / ratio), math.log(ratio / RATIO_HIGH), 0.0)
    return outside, abs(math.log(ratio))


def _blocks(depth: int, numblocks: int) -> tuple[int, ...]:
    """Spread ``depth`` convolutions evenly over ``numblocks`` blocks; the last conv is in the last block."""
    blocks = [min(numblocks - 1, j * numblocks // depth) for j in range(depth)]
    blocks[-1] = numblocks - 1
    return tuple(blocks)


def _input_shape(height: int, width: int, channels: int, noise: float, numblocks: int) -> tuple[int, int, int]:
    up = 2 ** (numblocks - 1)
    rh, rw = -(-height // up), -(-width // up)
    return rh, rw, max(int(noise / (rh * rw)), channels)


def laplace_variance(bits_per_weight: int) -> float:
    """Variance of the seed's quantized Laplace with scale 1 (``2^bpw + 1`` equiprobable levels)."""
    levels = 2 ** bits_per_weight
    return 2.0 / (levels + 1) * sum(math.log(2 * (i + 1) / (levels + 2)) ** 2 for i in range(levels // 2))


def _laplace_scales(kernel_shapes: list[tuple[int, int, int, int]], bits_per_weight: int) -> tuple[float, ...]:
    """Per-layer Laplace scales that keep every pre-activation at unit variance.

    A convolution's pre-activation ``y = sum_j w_j x_j`` over its ``fan_in = k^2 * in`` inputs has
    ``E[y^2] = fan_in * Var(w) * E[x^2]`` for independent zero-mean weights. Binary {0,1} inputs and
    ReLU outputs of a symmetric unit-variance pre-activation both have ``E[x^2] = 1/2``, so
    ``Var(w) = 2 / fan_in`` keeps ``E[y^2] = 1`` through any depth (He et al., 2015). The seed's
    quantized Laplace with scale ``b`` has ``Var(w) = b^2 * laplace_variance(bpw)``, hence
    ``b = sqrt(2 / (fan_in * laplace_variance(bpw)))``, the same formula for the (linear) last
    convolution. These scales are a function of the architecture, so they cost no bits.
    """
    unit = laplace_variance(bits_per_weight)
    return tuple(math.sqrt(2.0 / (k1 * k2 * cin * unit)) for k1, k2, cin, _ in kernel_shapes)


def _candidates(seed: SeedChoice | None, max_blocks: int, noise: float, budget: float, kernel_size: int,
                height: int, width: int, channels: int) -> Iterator[tuple[int, int]]:
    """``(depth, numblocks)`` pairs to try: the seed's choice first, then its nearest neighbours.

    Block counts are tried nearest the seed's first (fewer blocks first on ties: a larger input
    lowers the input depth and so the minimum weight count); within a block count, depths nearest
    the seed's among those whose extreme profiles (all widths ``in_depth``, all widths ``channels``)
    bracket the budget. Where no depth brackets it, the nearest misses are still yielded so that
    the caller can say how close the model class gets.
    """
    nb0 = seed.numblocks if seed else 1
    d0 = seed.depth if seed else 1
    order = sorted(range(1, max_blocks + 1), key=lambda nb: (abs(nb - nb0), nb))
    k2 = kernel_size ** 2
    for nb in order:
        in_depth = _input_shape(height, width, channels, noise, nb)[2]
        # smallest depth whose widest profile (all in_depth) reaches the low end of the band
        need = RATIO_LOW * budget - k2 * in_depth * channels
        d_lo = 1 if need <= 0 else 1 + math.ceil(need / (k2 * in_depth * in_depth))
        # largest depth whose narrowest profile (all `channels`) stays under the high end
        spare = RATIO_HIGH * budget - k2 * in_depth * channels
        d_hi = 1 + int(spare // (k2 * channels * channels)) if spare >= 0 else 0
        d_hi = min(MAX_DEPTH, d_hi)
        if d_lo > d_hi:
            for d in sorted({max(1, min(MAX_DEPTH, d)) for d in (d_lo, d_hi)}):
                yield d, nb
            continue
        depths = sorted(range(d_lo, d_hi + 1), key=lambda d: (abs(d - d0), -d))
        for d in depths[:64]:
            yield d, nb


def search(height: int, width: int, channels: int, soph: float, noise: float, bits_per_weight: int = 5,
           kernel_size: int = 7) -> Architecture:
    """The architecture for budgets given as fractions of the uncompressed bits.

    :param soph: sophistication, a fraction of ``H*W*C*4`` bits spent on weights
        (``bits_per_weight`` bits each).
    :param noise: a fraction of ``H*W*C*4`` bits fed as binary input.
    :raises NoArchitecture: when no depth/block count of the model class fits.
    """
    total = uncompressed_bits(height, width, channels)
    return search_bits(height, width, channels, round(soph * total), round(noise * total), bits_per_weight,
                       kernel_size)


def search_bits(height: int, width: int, channels: int, soph_bits: int, noise_bits: int,
                bits_per_weight: int = 5, kernel_size: int = 7) -> Architecture:
    """Like :func:`search`, with the budgets in bits (as in the seed's grid)."""
    if soph_bits < 1 or noise_bits < 1:
        raise NoArchitecture("soph and noise must each be at least one bit")
    budget = soph_bits / bits_per_weight
    side = math.sqrt(height * width)
    seed = adhoc_params(soph_bits, noise_bits, side, channels, bits_per_weight, kernel_size)
    max_blocks = 1 + int(math.log2(min(height, width)))
    closest: tuple[tuple[float, float], int, int, int] | None = None
    for depth, numblocks in _candidates(seed, max_blocks, noise_bits, budget, kernel_size, height, width,
                                        channels):
        shape = _input_shape(height, width, channels, noise_bits, numblocks)
        factor, profile, ratio = _fit_factor(shape[2], channels, depth, kernel_size, budget)
        if not RATIO_LOW <= ratio <= RATIO_HIGH:
            if closest is None or _miss(ratio) < closest[0]:
                closest = (_miss(ratio), _count(kernel_size, shape[2], profile), depth, numblocks)
            continue
        ins = (shape[2],) + profile[:-1]
        kernel_shapes = [(kernel_size, kernel_size, a, b) for a, b in zip(ins, profile, strict=True)]
        return Architecture(
            height=height, width=width, channels=channels, kernel_size=kernel_size,
            bits_per_weight=bits_per_weight, soph_bits=soph_bits, noise_bits=noise_bits,
            input_shape=shape, conv_channels=profile, conv_blocks=_blocks(depth, numblocks),
            depth_factor=factor, laplace_scales=_laplace_scales(kernel_shapes, bits_per_weight),
            seed_choice=seed, numblocks=numblocks)
    head = (f"no random-CNN architecture spends {soph_bits} soph bits ({budget:.0f} weights of "
            f"{bits_per_weight} bits) within {RATIO_LOW}-{RATIO_HIGH}x with {noise_bits} noise bits")
    if closest is None:
        smallest = kernel_size ** 2 * channels * channels * bits_per_weight
        raise NoArchitecture(f"{head}: even one {kernel_size}x{kernel_size} convolution needs {smallest} bits "
                             f"or the noise is too large for the budget; raise soph")
    raise NoArchitecture(f"{head}: the nearest has {closest[1]} weights ({closest[1] / budget:.2f}x, "
                         f"depth {closest[2]}); weights come in steps of {kernel_size}x{kernel_size}, "
                         f"so change soph, noise or kernel_size")


def grid_cells(height: int, width: int, channels: int, n: int = 16) -> list[tuple[int, int, int, int]]:
    """The seed's soph x noise triangle: ``(s, q, soph_bits, noise_bits)`` for s = 1..n-1, q = 1..n-s.

    ``step = (uncompressed - 2) // n`` bits, ``soph = s * step``, ``noise = q * step``.
    """
    step = (uncompressed_bits(height, width, channels) - 2) // n
    return [(s, q, s * step, q * step) for s in range(1, n) for q in range(1, n - s + 1)]


def qlaplace_levels(bits_per_weight: int, scale: float) -> list[float]:
    """The seed's quantized Laplace: ``2^bpw + 1`` equiprobable values, 0 included.

    The negative half holds the Laplace(``scale``) quantiles ``scale * ln(2 (i+1) / (2^bpw + 2))``
    for ``i < 2^(bpw-1)``; then 0 and the mirror image. Ascending order.
    """
    half = [scale * math.log(2 * (i + 1) / (2 ** bits_per_weight + 2)) for i in range(2 ** (bits_per_weight - 1))]
    return half + [0.0] + [-q for q in reversed(half)]
