"""The knobs of the ascent: :class:`Recipe` (the seed article's plain recipe and ours) and :func:`make_recipe`.

Only the standard library and zoo_core's errors are imported here, so the CLI can check a recipe
before it loads a model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from zoo_core.errors import ConfigError


def _check_number(name: str, value: Any, low: float, high: float, integer: bool = False,
                  low_open: bool = False) -> None:
    """Raise :class:`ConfigError` unless ``value`` is a finite number (an integer if asked) in range."""
    kind = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value) or \
            value < low or value > high or (low_open and value == low):
        bound = f"({low}, {high}]" if low_open else f"[{low}, {high}]"
        raise ConfigError(f"recipe field '{name}': {value!r} is not a finite "
                          f"{'integer' if integer else 'number'} in {bound}")


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
        _check_number("steps", self.steps, 1, 100_000, integer=True)
        _check_number("epsilon", self.epsilon, 0.0, 10.0, low_open=True)
        _check_number("conv_criterion", self.conv_criterion, 0.0, 1.0)
        _check_number("patience", self.patience, 1, 100_000, integer=True)
        _check_number("max_zero_steps", self.max_zero_steps, 1, 100_000, integer=True)
        _check_number("retries", self.retries, 0, 16, integer=True)
        _check_number("jitter", self.jitter, 0, 64, integer=True)
        _check_number("rotate", self.rotate, 0.0, 180.0)
        _check_number("scale_jitter", self.scale_jitter, 0.0, 0.9)
        _check_number("tv_weight", self.tv_weight, 0.0, 1000.0)
        _check_number("fourier_decay", self.fourier_decay, 0.0, 4.0)
        if not self.scales or len(self.scales) != len(self.scale_weights) or len(self.scales) > 16:
            raise ConfigError("recipe fields 'scales' and 'scale_weights': 1 to 16 values each, as many of one "
                              "as of the other")
        for value in self.scales:
            _check_number("scales", value, 0.0, 4.0, low_open=True)
        for value in self.scale_weights:
            _check_number("scale_weights", value, 0.0, 100.0)

    @property
    def transformed(self) -> bool:
        """Whether a random warp (jitter, rotation or rescaling) precedes each gradient evaluation."""
        return bool(self.jitter or self.rotate or self.scale_jitter)

    @classmethod
    def seed(cls, **changes: Any) -> Recipe:
        """The seed article's recipe: pixels, no transforms, no regulariser."""
        return replace(cls(), **changes)

    @classmethod
    def default(cls, **changes: Any) -> Recipe:
        """The recipe ``zoo visualize`` uses (chosen by measurement, see docs/filterviz.md)."""
        return replace(cls(steps=300, epsilon=0.05, jitter=1, rotate=5.0, scale_jitter=0.05, tv_weight=0.05,
                           fourier=False, stop_on_convergence=False), **changes)


def make_recipe(recipe: Recipe | str | None = None, **changes: Any) -> Recipe:
    """A :class:`Recipe` from a name (``"default"``, ``"seed"``) or an instance, with field overrides."""
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


__all__ = ["Recipe", "make_recipe"]
