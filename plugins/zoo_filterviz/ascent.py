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
``1/f`` spectrum scaling (:mod:`zoo_filterviz.transforms`). Only the probe touches a framework.

>>> import zoo_core, zoo_filterviz
>>> m = zoo_core.load("glyph-cnn")                                       # doctest: +SKIP
>>> zoo_filterviz.visualize(m, "conv_3", range(16)).shape                # doctest: +SKIP
(16, 28, 28, 1)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zoo_core.layers import FeatureProbe
from zoo_filterviz.probes import parse_channels, probe_for
from zoo_filterviz.recipe import Recipe, make_recipe
from zoo_filterviz.transforms import (
    Fourier,
    Warp,
    initial_images,
    rms,
    snapshot_steps,
    standardize,
    to_display,
    total_variation,
)

#: ``callback(step, logs)`` after each ascent step (``logs``: ``{"activation": mean over images}``).
StepCallback = Callable[[int, dict], Any]


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

    @classmethod
    def empty(cls, layer: str, channels: list[int], shape: Sequence[int]) -> AscentResult:
        """A result for ``channels`` with nothing found yet (every map dead until an attempt fires it)."""
        n = len(channels)
        return cls(layer=layer, channels=channels, images=np.zeros((n, *shape), dtype=np.float32),
                   start=np.zeros(n), final=np.zeros(n), steps_run=np.zeros(n, dtype=np.int64),
                   converged=np.zeros(n, dtype=bool), dead=np.ones(n, dtype=bool),
                   attempts=np.zeros(n, dtype=np.int64))

    @property
    def gain(self) -> np.ndarray:
        """``final / start`` per channel (``inf`` where the start did not fire but the end does)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(self.start > 0, self.final / np.where(self.start > 0, self.start, 1.0),
                             np.where(self.final > 0, np.inf, 0.0))
        return ratio


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
    result = AscentResult.empty(layer, channels, probe.input_shape)
    todo = np.arange(len(channels))
    for attempt, (scales, weights) in enumerate(_retry_scales(recipe)):
        if attempt and not len(todo):
            break
        if init is not None and attempt == 0:
            x0 = standardize(np.asarray(init, dtype=np.float32)[todo])
        else:
            x0 = initial_images(len(todo), probe.input_shape, scales, weights, rng)
        out = _ascend_batch(probe, layer, [channels[i] for i in todo], x0, recipe, rng,
                            snapshots and attempt == 0, callback, step_offset=attempt * recipe.steps)
        _merge(result, todo, attempt, out)
        todo = todo[out["dead"]]
    result.seconds = time.perf_counter() - t0
    return result


def _merge(result: AscentResult, todo: np.ndarray, attempt: int, out: dict) -> None:
    """Write one attempt's outcome for the images ``todo`` into ``result`` (the start of the first attempt)."""
    result.attempts[todo] = attempt + 1
    result.images[todo] = out["images"]
    result.start[todo] = np.where(attempt == 0, out["start"], result.start[todo])
    result.final[todo] = out["final"]
    result.steps_run[todo] = out["steps"]
    result.converged[todo] = out["converged"]
    result.dead[todo] = out["dead"]
    if attempt == 0:
        result.snapshots = out["snapshots"]


def _retry_scales(recipe: Recipe) -> list[tuple[tuple[float, ...], tuple[float, ...]]]:
    """The first start uses every scale; each retry drops the finest remaining one (longer waves only)."""
    pairs = sorted(zip(recipe.scales, recipe.scale_weights, strict=True))
    sets = [(tuple(s for s, _ in pairs), tuple(w for _, w in pairs))]
    for k in range(1, recipe.retries + 1):
        keep = pairs[:max(1, len(pairs) - k)]
        sets.append((tuple(s for s, _ in keep), tuple(w for _, w in keep)))
    return sets


class _Batch:
    """The state of one attempt: the images (and their spectra), and per image the seed's counters."""

    def __init__(self, x: np.ndarray, fourier: Fourier | None) -> None:
        n = len(x)
        self.x = x
        self.params = fourier.from_image(x) if fourier else None
        self.active = np.ones(n, dtype=bool)
        self.converged = np.zeros(n, dtype=bool)
        self.dead = np.zeros(n, dtype=bool)
        self.zeros = np.zeros(n, dtype=np.int64)
        self.streak = np.zeros(n, dtype=np.int64)
        self.steps = np.zeros(n, dtype=np.int64)
        self.old = np.zeros(n)

    def record(self, idx: np.ndarray, j: int, value: np.ndarray, grad: np.ndarray, recipe: Recipe) -> np.ndarray:
        """The seed's checks at step ``j``, on the value actually ascended; the images that stop now."""
        diff = value - self.old[idx]
        self.old[idx] = value
        if j > 10:
            rel = diff / (np.abs(value) + 1e-7)
            self.streak[idx] = np.where(rel < recipe.conv_criterion, self.streak[idx] + 1, 0)
        flat = np.abs(grad).reshape(len(idx), -1).max(axis=1)
        self.zeros[idx] += (value == 0.0) & (flat == 0.0)
        newly_dead = idx[self.zeros[idx] > recipe.max_zero_steps]
        self.dead[newly_dead] = True
        done = idx[self.streak[idx] >= recipe.patience] if recipe.stop_on_convergence else idx[:0]
        self.converged[done] = True
        self.steps[idx] = j + 1
        return np.concatenate([newly_dead, done])


def _ascend_batch(probe: FeatureProbe, layer: str, channels: list[int], x: np.ndarray, recipe: Recipe,
                  rng: np.random.Generator, want_snapshots: bool, callback: StepCallback | None,
                  step_offset: int = 0) -> dict:
    """One attempt: ascend every image of ``x`` (image ``i`` on map ``channels[i]``) until it stops."""
    fourier = Fourier(x.shape[1], x.shape[2], recipe.fourier_decay) if recipe.fourier else None
    batch = _Batch(x, fourier)
    start, _ = probe.value_and_grad(x, layer, channels)
    marks = set(snapshot_steps(recipe.steps)) if want_snapshots else set()
    snaps: dict[int, np.ndarray] = {}
    for j in range(recipe.steps):
        if j in marks:
            snaps[j] = batch.x.copy()
        idx = np.flatnonzero(batch.active)
        if not len(idx):
            break
        value = _step(probe, layer, [channels[i] for i in idx], batch, idx, j, recipe, rng, fourier)
        if callback is not None:
            callback(step_offset + j + 1, {"activation": float(np.mean(value))})
    if want_snapshots:
        snaps.setdefault(max(marks), batch.x.copy())
    final, _ = probe.value_and_grad(batch.x, layer, channels)
    return {"images": batch.x, "start": start, "final": final, "steps": batch.steps, "converged": batch.converged,
            "dead": batch.dead & ~(final > 0), "snapshots": dict(sorted(snaps.items()))}


def _step(probe: FeatureProbe, layer: str, channels: list[int], batch: _Batch, idx: np.ndarray, j: int,
          recipe: Recipe, rng: np.random.Generator, fourier: Fourier | None) -> np.ndarray:
    """Ascent step ``j`` of the live images ``idx`` (on maps ``channels``); their activations."""
    xs = batch.x[idx]
    warp = Warp(xs.shape, recipe, rng) if recipe.transformed else None
    value, grad = probe.value_and_grad(warp.forward(xs) if warp else xs, layer, channels)
    if warp:
        grad = warp.adjoint(grad)
    finished = batch.record(idx, j, value, grad, recipe)
    xs_new = _move(batch, idx, xs, grad, recipe, fourier)
    keep = np.isin(idx, finished, invert=True)  # finished images are frozen as they were
    batch.x[idx[keep]] = xs_new[keep]
    batch.active[finished] = False
    return value


def _move(batch: _Batch, idx: np.ndarray, xs: np.ndarray, grad: np.ndarray, recipe: Recipe,
          fourier: Fourier | None) -> np.ndarray:
    """The images ``xs`` one unit-RMS step of ``epsilon`` up the (regularised) gradient, standardised."""
    if recipe.tv_weight:  # relative to the unit-RMS activation gradient
        _, tv_grad = total_variation(xs)
        grad = grad / (rms(grad) + 1e-12) - recipe.tv_weight * tv_grad * float(np.prod(xs.shape[1:]))
    if fourier is None:
        return standardize(xs + recipe.epsilon * grad / (rms(grad) + 1e-7))
    grad = fourier.adjoint(grad)
    assert batch.params is not None  # a Fourier batch holds its spectra
    batch.params[idx] = batch.params[idx] + recipe.epsilon * grad / (rms(grad) + 1e-7)
    xs_new = standardize(fourier.to_image(batch.params[idx]))
    batch.params[idx] = fourier.from_image(xs_new)
    return xs_new


def visualize(model: Any, layer: str, channels: Iterable[int] | str | None = None, *,
              recipe: Recipe | str | None = None, seed: int = 0, callback: StepCallback | None = None,
              input_shape: Sequence[int] | None = None, **changes: Any) -> np.ndarray:
    """The input pattern that makes each chosen feature map of ``layer`` fire most, as uint8 NHWC.

    :param model: a zoo model (torch or keras family), an ``nn.Module`` (with ``input_shape``) or a
        ``keras.Model``; see :func:`zoo_filterviz.probes.probe_for`.
    :param channels: indices, a string like ``"0:16"``, or None for every channel of the layer.
    :param recipe: a :class:`Recipe`, ``"default"`` or ``"seed"`` (the plain article recipe).
    :param changes: fields of :class:`Recipe` to override, e.g. ``steps=100``.
    :raises UnknownLayerError, ChannelError: listing the valid layers or channel range.
    """
    probe = probe_for(model, input_shape)
    result = ascend(probe, layer, _channels(probe, layer, channels), make_recipe(recipe, **changes),
                    seed=seed, callback=callback)
    return to_display(result.images)


def _channels(probe: FeatureProbe, layer: str, channels: Iterable[int] | str | None) -> list[int]:
    count = probe.layer(layer).channels
    if channels is None:
        return list(range(count))
    if isinstance(channels, str):
        return parse_channels(channels, count)
    return [int(c) for c in channels]


__all__ = ["AscentResult", "StepCallback", "ascend", "visualize"]
