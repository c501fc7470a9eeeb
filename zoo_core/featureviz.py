"""Feature visualisation by gradient ascent: the input pattern that makes a conv feature map fire.

The algorithm follows the "OIP" (optimal input pattern) recipe of the seed article, for any model
whose :class:`~zoo_core.layers.FeatureProbe` gives the mean activation of a map and its gradient:

1. the start image is a superposition of random fluctuations at several length scales: small
   squares of uniform noise in ``[-1, 1]`` (e.g. 3x3, 7x7, 14x14 and 28x28 cells for a 28x28
   input), each upscaled bicubically to the input size, weighted and summed, then standardised;
2. each step computes the mean activation of the chosen map and its gradient, divides the
   gradient by its RMS (a unit-size step), adds ``epsilon`` times it to the image, and
   standardises the image again (per image: zero mean, unit std) - without this the ascent
   would climb a linear ReLU ramp for ever;
3. convergence: after 10 steps, a relative change ``(a_t - a_{t-1}) / a_t`` below
   ``conv_criterion`` on ``patience`` successive steps stops that image (if ``stop_on_convergence``);
4. a map that never fires (activation and gradient exactly zero on more than 10 steps) is
   retried from a new start made of longer length scales only.

Switchable improvements used by lucid/lucent and tf-keras-vis (all off in :meth:`Recipe.seed`):
random jitter, small rotations and rescalings applied before each gradient evaluation
(robustness transforms), a total-variation penalty, and a Fourier-space parametrisation with a
``1/f`` spectrum scaling. All of them are written in numpy with their exact adjoints, so that the
same code drives torch and keras models; only the probe touches a framework.

>>> import zoo_core
>>> m = zoo_core.load("glyph-cnn")                                       # doctest: +SKIP
>>> zoo_core.visualize(m, "conv_3", range(16)).shape                     # doctest: +SKIP
(16, 28, 28, 1)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from zoo_core.layers import FeatureProbe, probe_for

#: ``callback(step, logs)`` after each ascent step (``logs``: ``{"activation": mean over images}``).
StepCallback = Callable[[int, dict], Any]


@dataclass(frozen=True)
class Recipe:
    """Every knob of the ascent. :meth:`seed` is the article's plain recipe, :meth:`default` ours.

    :param steps: maximum ascent steps per attempt.
    :param epsilon: step size in standardised pixel units (the gradient is RMS-normalised).
    :param scales: length scales of the start image, as fractions of the input side (cells per side
        = ``round(fraction * side)``, at least 2).
    :param scale_weights: weight of each length scale in the superposition.
    :param conv_criterion: relative activation change below which a step counts as converged.
    :param patience: converged steps in a row that stop an image (when ``stop_on_convergence``).
    :param stop_on_convergence: stop images that converged (the seed's ``b_stop_with_convergence``).
    :param max_zero_steps: steps with zero activation and zero gradient after which a map is dead.
    :param retries: new starts (with longer length scales) for a dead map.
    :param jitter: maximum random shift in pixels before each gradient evaluation (0: off).
    :param rotate: maximum random rotation in degrees (0: off).
    :param scale_jitter: maximum relative random rescaling, e.g. 0.05 for 0.95..1.05 (0: off).
    :param tv_weight: weight of the total-variation penalty (0: off); the image is standardised,
        so the weight is relative to a unit-variance image.
    :param fourier: optimise a ``1/f``-scaled Fourier spectrum instead of pixels.
    :param fourier_decay: exponent of the ``1/f`` spectrum scaling.
    """

    steps: int = 600
    epsilon: float = 0.01
    scales: tuple[float, ...] = (0.11, 0.25, 0.5, 1.0)
    scale_weights: tuple[float, ...] = (0.5, 0.5, 0.5, 0.5)
    conv_criterion: float = 5e-4
    patience: int = 4
    stop_on_convergence: bool = True
    max_zero_steps: int = 10
    retries: int = 3
    jitter: int = 0
    rotate: float = 0.0
    scale_jitter: float = 0.0
    tv_weight: float = 0.0
    fourier: bool = False
    fourier_decay: float = 1.0

    def __post_init__(self) -> None:
        """Every knob finite and inside the range the ascent can run; :class:`ConfigError` names it."""
        import math

        from zoo_core.errors import ConfigError

        def number(name: str, value: Any, low: float, high: float, integer: bool = False, low_open: bool = False):
            kind = (int,) if integer else (int, float)
            if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value) or \
                    value < low or value > high or (low_open and value == low):
                bound = f"({low}, {high}]" if low_open else f"[{low}, {high}]"
                raise ConfigError(f"recipe field '{name}': {value!r} is not a finite "
                                  f"{'integer' if integer else 'number'} in {bound}")

        number("steps", self.steps, 1, 100_000, integer=True)
        number("epsilon", self.epsilon, 0.0, 10.0, low_open=True)
        number("conv_criterion", self.conv_criterion, 0.0, 1.0)
        number("patience", self.patience, 1, 100_000, integer=True)
        number("max_zero_steps", self.max_zero_steps, 1, 100_000, integer=True)
        number("retries", self.retries, 0, 16, integer=True)
        number("jitter", self.jitter, 0, 64, integer=True)
        number("rotate", self.rotate, 0.0, 180.0)
        number("scale_jitter", self.scale_jitter, 0.0, 0.9)
        number("tv_weight", self.tv_weight, 0.0, 1000.0)
        number("fourier_decay", self.fourier_decay, 0.0, 4.0)
        if not self.scales or len(self.scales) != len(self.scale_weights) or len(self.scales) > 16:
            raise ConfigError("recipe fields 'scales' and 'scale_weights': 1 to 16 values each, as many of one "
                              "as of the other")
        for value in self.scales:
            number("scales", value, 0.0, 4.0, low_open=True)
        for value in self.scale_weights:
            number("scale_weights", value, 0.0, 100.0)

    @classmethod
    def seed(cls, **changes: Any) -> "Recipe":
        """The seed article's recipe: pixels, no transforms, no regulariser."""
        return replace(cls(), **changes)

    @classmethod
    def default(cls, **changes: Any) -> "Recipe":
        """The recipe ``zoo visualize`` uses (chosen by measurement, see docs/filterviz.md)."""
        return replace(cls(steps=300, epsilon=0.05, jitter=1, rotate=5.0, scale_jitter=0.05, tv_weight=0.05,
                           fourier=False, stop_on_convergence=False), **changes)


@dataclass
class AscentResult:
    """What :func:`ascend` found, one row per requested channel.

    :param images: the final patterns, standardised float32 NHWC.
    :param start: mean activation of each map on its random start image.
    :param final: mean activation of each map on its final image (no transforms applied).
    :param steps_run: ascent steps taken (of the successful attempt).
    :param converged: whether the convergence criterion stopped the image.
    :param dead: whether the map never fired on any start.
    :param attempts: starts used (1 = no retry).
    :param snapshots: ``{step: images}`` at the seed's logarithmic steps (when requested).
    :param seconds: wall time of the whole ascent.
    """

    layer: str
    channels: list[int]
    images: np.ndarray
    start: np.ndarray
    final: np.ndarray
    steps_run: np.ndarray
    converged: np.ndarray
    dead: np.ndarray
    attempts: np.ndarray
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def gain(self) -> np.ndarray:
        """``final / start`` per channel (``inf`` where the start did not fire but the end does)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(self.start > 0, self.final / np.where(self.start > 0, self.start, 1.0),
                             np.where(self.final > 0, np.inf, 0.0))
        return ratio


# ---------------------------------------------------------------------------------------------
# Image helpers (numpy only)


def standardize(x: np.ndarray) -> np.ndarray:
    """Per-image standardisation like ``tf.image.per_image_standardization``: zero mean, unit std.

    The std is floored at ``1/sqrt(pixels)`` so that a constant image does not blow up.
    """
    axes = tuple(range(1, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    n = int(np.prod(x.shape[1:]))
    std = np.maximum(x.std(axis=axes, keepdims=True), 1.0 / math.sqrt(n))
    return ((x - mean) / std).astype(np.float32)


def _bicubic(cells: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bicubic upscaling of one ``(h, w)`` float array to ``size`` (Pillow, float mode)."""
    from PIL import Image

    if cells.shape == size:
        return cells.astype(np.float32)
    img = Image.fromarray(cells.astype(np.float32), mode="F")
    return np.asarray(img.resize((size[1], size[0]), Image.BICUBIC), dtype=np.float32)


def initial_images(n: int, shape: Sequence[int], scales: Sequence[float], weights: Sequence[float],
                   rng: np.random.Generator) -> np.ndarray:
    """The seed's start images: weighted sum of uniform noise at several length scales, standardised.

    :param shape: ``(H, W, C)``; each channel gets its own fluctuations.
    :param scales: cells per side as fractions of the side (1.0: one cell per pixel).
    """
    h, w, c = (int(s) for s in shape)
    out = np.zeros((n, h, w, c), dtype=np.float32)
    for frac, weight in zip(scales, weights):
        ch, cw = max(2, round(frac * h)), max(2, round(frac * w))
        noise = rng.uniform(-1.0, 1.0, size=(n, ch, cw, c)).astype(np.float32)
        for i in range(n):
            for k in range(c):
                out[i, :, :, k] += weight * _bicubic(noise[i, :, :, k], (h, w))
    return standardize(out)


def snapshot_steps(steps: int, intervals: int = 6) -> list[int]:
    """The seed's logarithmic snapshot steps: 0, n, 2n, 4n, ... and the last (0, 9, 18, 36, 72, 144, 288, 599)."""
    base = max(1, steps // 2 ** intervals)
    out = {0, steps - 1}
    out.update(base * 2 ** j for j in range(intervals) if base * 2 ** j < steps)
    return sorted(out)


# -- robustness transforms with exact adjoints -------------------------------------------------


class _Warp:
    """A batch of random shift + rotation + rescaling warps (bilinear, edge-clamped) and their adjoint."""

    def __init__(self, shape: tuple[int, int, int, int], recipe: Recipe, rng: np.random.Generator) -> None:
        n, h, w, _ = shape
        self.shape = shape
        self.shift = rng.integers(-recipe.jitter, recipe.jitter + 1, size=(n, 2)) if recipe.jitter else None
        self.affine = bool(recipe.rotate or recipe.scale_jitter)
        if not self.affine:
            return
        angle = np.deg2rad(rng.uniform(-recipe.rotate, recipe.rotate, size=n))
        scale = 1.0 + rng.uniform(-recipe.scale_jitter, recipe.scale_jitter, size=n)
        yy, xx = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
        cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
        dy, dx = yy - cy, xx - cx
        cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
        s = scale[:, None, None]
        # output pixel p samples the input at R(-angle) p / scale (inverse mapping)
        sy = (cos * dy - sin * dx) / s + cy
        sx = (sin * dy + cos * dx) / s + cx
        y0, x0 = np.floor(sy), np.floor(sx)
        fy, fx = sy - y0, sx - x0
        self.index, self.weight = [], []
        for oy, ox, wgt in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)),
                            (1, 1, fy * fx)):
            iy = np.clip(y0 + oy, 0, h - 1).astype(np.int64)
            ix = np.clip(x0 + ox, 0, w - 1).astype(np.int64)
            flat = (np.arange(n)[:, None, None] * h * w + iy * w + ix).reshape(-1)
            self.index.append(flat)
            self.weight.append(wgt.reshape(-1, 1).astype(np.float32))

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Apply shift then rotation/rescaling."""
        n, h, w, c = x.shape
        if self.shift is not None:
            x = np.stack([np.roll(x[i], tuple(self.shift[i]), axis=(0, 1)) for i in range(n)])
        if self.affine:
            flat = x.reshape(n * h * w, c)
            x = sum(wt * flat[ix] for ix, wt in zip(self.index, self.weight)).reshape(n, h, w, c)
        return x.astype(np.float32)

    def adjoint(self, g: np.ndarray) -> np.ndarray:
        """The transpose of :meth:`forward` applied to a gradient."""
        n, h, w, c = g.shape
        if self.affine:
            flat = g.reshape(n * h * w, c)
            acc = np.zeros_like(flat)
            for ix, wt in zip(self.index, self.weight):
                np.add.at(acc, ix, wt * flat)
            g = acc.reshape(n, h, w, c)
        if self.shift is not None:
            g = np.stack([np.roll(g[i], tuple(-self.shift[i]), axis=(0, 1)) for i in range(n)])
        return g.astype(np.float32)


def total_variation(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed isotropic-free TV per image, ``sum(sqrt(dx^2 + eps) + sqrt(dy^2 + eps)) / pixels``, and its gradient."""
    eps = 1e-4
    dx = np.diff(x, axis=2)
    dy = np.diff(x, axis=1)
    px = int(np.prod(x.shape[1:]))
    ax, ay = np.sqrt(dx * dx + eps), np.sqrt(dy * dy + eps)
    value = (ax.sum(axis=(1, 2, 3)) + ay.sum(axis=(1, 2, 3))) / px
    gx, gy = dx / ax, dy / ay
    grad = np.zeros_like(x)
    grad[:, :, 1:] += gx
    grad[:, :, :-1] -= gx
    grad[:, 1:] += gy
    grad[:, :-1] -= gy
    return value, (grad / px).astype(np.float32)


class _Fourier:
    """Image = ``irfft2(spectrum * scale)`` with a ``1/f^decay`` scale (lucid's decorrelated parametrisation)."""

    def __init__(self, h: int, w: int, decay: float) -> None:
        fy = np.fft.fftfreq(h)[:, None]
        fx = np.fft.rfftfreq(w)[None, :]
        freq = np.sqrt(fy * fy + fx * fx)
        self.scale = (1.0 / np.maximum(freq, 1.0 / max(h, w)) ** decay)[None, :, :, None]
        self.scale = self.scale / self.scale.max()
        self.h, self.w = h, w
        # columns of the half spectrum that stand for two columns of the full one
        self.mult = np.full((1, 1, fx.shape[1], 1), 2.0)
        self.mult[:, :, 0] = 1.0
        if w % 2 == 0:
            self.mult[:, :, -1] = 1.0

    def to_image(self, spec: np.ndarray) -> np.ndarray:
        """Spectrum parameters (complex) -> image."""
        return np.fft.irfft2(spec * self.scale, s=(self.h, self.w), axes=(1, 2), norm="ortho").astype(np.float32)

    def from_image(self, x: np.ndarray) -> np.ndarray:
        """The parameters whose image is ``x``."""
        return np.fft.rfft2(x, axes=(1, 2), norm="ortho") / self.scale

    def adjoint(self, g: np.ndarray) -> np.ndarray:
        """Gradient w.r.t. the spectrum (as ``d/dRe + i d/dIm``) from the gradient w.r.t. the image."""
        return np.fft.rfft2(g, axes=(1, 2), norm="ortho") * self.mult * self.scale


# ---------------------------------------------------------------------------------------------
# The ascent


def ascend(probe: FeatureProbe, layer: str, channels: Sequence[int], recipe: Recipe | None = None, *,
           seed: int = 0, snapshots: bool = False, callback: StepCallback | None = None,
           init: np.ndarray | None = None) -> AscentResult:
    """Maximise the mean activation of each map in ``channels`` of ``layer``, all in one batch.

    :param init: optional start images (NHWC, standardised here); default: the seed's multi-scale noise.
    :param callback: called after every step with ``{"activation": mean over live images}``.
    :returns: an :class:`AscentResult`.
    """
    recipe = recipe or Recipe.default()
    channels = probe.check_channels(layer, list(channels))
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    n = len(channels)
    shape = probe.input_shape
    scale_sets = _retry_scales(recipe)
    images = np.zeros((n, *shape), dtype=np.float32)
    start = np.zeros(n)
    final = np.zeros(n)
    steps_run = np.zeros(n, dtype=np.int64)
    converged = np.zeros(n, dtype=bool)
    dead = np.ones(n, dtype=bool)
    attempts = np.zeros(n, dtype=np.int64)
    snaps: dict[int, np.ndarray] = {}
    todo = np.arange(n)
    total_steps = recipe.steps
    for attempt, (scales, weights) in enumerate(scale_sets):
        if attempt and not len(todo):
            break
        if init is not None and attempt == 0:
            x0 = standardize(np.asarray(init, dtype=np.float32)[todo])
        else:
            x0 = initial_images(len(todo), shape, scales, weights, rng)
        sub = [channels[i] for i in todo]
        out = _ascend_batch(probe, layer, sub, x0, recipe, rng, snapshots and attempt == 0, callback,
                            step_offset=attempt * total_steps)
        attempts[todo] = attempt + 1
        images[todo] = out["images"]
        start[todo] = np.where(attempt == 0, out["start"], start[todo])
        final[todo] = out["final"]
        steps_run[todo] = out["steps"]
        converged[todo] = out["converged"]
        dead[todo] = out["dead"]
        if attempt == 0:
            snaps = out["snapshots"]
        todo = todo[out["dead"]]
    return AscentResult(layer=layer, channels=channels, images=images, start=start, final=final,
                        steps_run=steps_run, converged=converged, dead=dead, attempts=attempts,
                        snapshots=snaps, seconds=time.perf_counter() - t0)


def _retry_scales(recipe: Recipe) -> list[tuple[tuple[float, ...], tuple[float, ...]]]:
    """The first start uses every scale; each retry drops the finest remaining one (longer waves only)."""
    pairs = sorted(zip(recipe.scales, recipe.scale_weights))
    sets = [(tuple(s for s, _ in pairs), tuple(w for _, w in pairs))]
    for k in range(1, recipe.retries + 1):
        keep = pairs[:max(1, len(pairs) - k)]
        sets.append((tuple(s for s, _ in keep), tuple(w for _, w in keep)))
    return sets


def _ascend_batch(probe: FeatureProbe, layer: str, channels: list[int], x: np.ndarray, recipe: Recipe,
                  rng: np.random.Generator, want_snapshots: bool, callback: StepCallback | None,
                  step_offset: int = 0) -> dict:
    n = len(channels)
    h, w = x.shape[1], x.shape[2]
    fourier = _Fourier(h, w, recipe.fourier_decay) if recipe.fourier else None
    params = fourier.from_image(x) if fourier else x.copy()
    start, _ = probe.value_and_grad(x, layer, channels)
    active = np.ones(n, dtype=bool)
    converged = np.zeros(n, dtype=bool)
    dead = np.zeros(n, dtype=bool)
    zeros = np.zeros(n, dtype=np.int64)
    streak = np.zeros(n, dtype=np.int64)
    steps = np.zeros(n, dtype=np.int64)
    old = np.zeros(n)
    marks = set(snapshot_steps(recipe.steps)) if want_snapshots else set()
    snaps: dict[int, np.ndarray] = {}
    transformed = bool(recipe.jitter or recipe.rotate or recipe.scale_jitter)
    for j in range(recipe.steps):
        if j in marks:
            snaps[j] = x.copy()
        idx = np.flatnonzero(active)
        if not len(idx):
            break
        xs = x[idx]
        warp = _Warp(xs.shape, recipe, rng) if transformed else None
        value, grad = probe.value_and_grad(warp.forward(xs) if warp else xs, layer, [channels[i] for i in idx])
        if warp:
            grad = warp.adjoint(grad)
        # the seed's checks, on the value actually ascended
        diff = value - old[idx]
        old[idx] = value
        if j > 10:
            rel = diff / (np.abs(value) + 1e-7)
            streak[idx] = np.where(rel < recipe.conv_criterion, streak[idx] + 1, 0)
        flat = np.abs(grad).reshape(len(idx), -1).max(axis=1)
        zeros[idx] += (value == 0.0) & (flat == 0.0)
        newly_dead = idx[zeros[idx] > recipe.max_zero_steps]
        dead[newly_dead] = True
        if recipe.stop_on_convergence:
            done = idx[streak[idx] >= recipe.patience]
            converged[done] = True
        else:
            done = np.array([], dtype=np.int64)
        if recipe.tv_weight:  # relative to the unit-RMS activation gradient
            _, tv_grad = total_variation(xs)
            grad = grad / (_rms(grad) + 1e-12) - recipe.tv_weight * tv_grad * float(np.prod(xs.shape[1:]))
        steps[idx] = j + 1
        if fourier:
            grad = fourier.adjoint(grad)
        step = recipe.epsilon * grad / (_rms(grad) + 1e-7)
        if fourier:
            params[idx] = params[idx] + step
            xs_new = standardize(fourier.to_image(params[idx]))
            params[idx] = fourier.from_image(xs_new)
        else:
            xs_new = standardize(xs + step)
        keep = np.isin(idx, np.concatenate([newly_dead, done]), invert=True)
        x[idx[keep]] = xs_new[keep]
        active[newly_dead] = False
        active[done] = False
        if callback is not None:
            callback(step_offset + j + 1, {"activation": float(np.mean(value))})
    if want_snapshots:
        last = max(marks)
        snaps.setdefault(last, x.copy())
    final, _ = probe.value_and_grad(x, layer, channels)
    return {"images": x, "start": start, "final": final, "steps": steps, "converged": converged,
            "dead": dead & ~(final > 0), "snapshots": dict(sorted(snaps.items()))}


def _rms(g: np.ndarray) -> np.ndarray:
    """Per-image root mean square (the seed's gradient normalisation), broadcastable."""
    return np.sqrt(np.mean(np.abs(g) ** 2, axis=tuple(range(1, g.ndim)), keepdims=True))


# ---------------------------------------------------------------------------------------------
# Display and the public API


def to_display(images: np.ndarray, percentile: float = 1.0) -> np.ndarray:
    """Standardised float NHWC -> uint8, each image stretched between its low and high percentiles."""
    images = np.asarray(images, dtype=np.float32)
    out = np.empty(images.shape, dtype=np.uint8)
    for i, img in enumerate(images):
        lo, hi = np.percentile(img, [percentile, 100.0 - percentile])
        out[i] = np.clip(np.rint((img - lo) / max(hi - lo, 1e-6) * 255.0), 0, 255).astype(np.uint8)
    return out


def visualize(model: Any, layer: str, channels: Iterable[int] | str | None = None, *,
              recipe: Recipe | str | None = None, seed: int = 0, callback: StepCallback | None = None,
              input_shape: Sequence[int] | None = None, **changes: Any) -> np.ndarray:
    """The input pattern that makes each chosen feature map of ``layer`` fire most, as uint8 NHWC.

    :param model: a zoo model (torch or keras family), an ``nn.Module`` (with ``input_shape``) or a
        ``keras.Model``; see :func:`zoo_core.layers.probe_for`.
    :param channels: indices, a string like ``"0:16"``, or None for every channel of the layer.
    :param recipe: a :class:`Recipe`, ``"default"`` or ``"seed"`` (the plain article recipe).
    :param changes: fields of :class:`Recipe` to override, e.g. ``steps=100``.
    :raises UnknownLayerError, ChannelError: listing the valid layers or channel range.
    """
    probe = probe_for(model, input_shape)
    result = ascend(probe, layer, _channels(probe, layer, channels), make_recipe(recipe, **changes),
                    seed=seed, callback=callback)
    return to_display(result.images)


def make_recipe(recipe: Recipe | str | None = None, **changes: Any) -> Recipe:
    """A :class:`Recipe` from a name (``"default"``, ``"seed"``) or an instance, with field overrides."""
    from zoo_core.errors import ConfigError

    if recipe is None or recipe == "default":
        base = Recipe.default()
    elif recipe == "seed":
        base = Recipe.seed()
    elif isinstance(recipe, Recipe):
        base = recipe
    else:
        raise ConfigError(f"unknown recipe '{recipe}' (valid: default, seed)")
    changes = {k: v for k, v in changes.items() if v is not None}
    unknown = set(changes) - set(Recipe.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"unknown recipe field '{sorted(unknown)[0]}' "
                          f"(valid: {', '.join(Recipe.__dataclass_fields__)})")
    return replace(base, **changes)


def _channels(probe: FeatureProbe, layer: str, channels: Iterable[int] | str | None) -> list[int]:
    from zoo_core.layers import parse_channels

    count = probe.layer(layer).channels
    if channels is None:
        return list(range(count))
    if isinstance(channels, str):
        return parse_channels(channels, count)
    return [int(c) for c in channels]


__all__ = ["AscentResult", "Recipe", "ascend", "initial_images", "make_recipe", "snapshot_steps", "standardize",
           "to_display", "total_variation", "visualize"]
