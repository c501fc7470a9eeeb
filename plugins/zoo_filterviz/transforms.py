"""The numpy pieces of the ascent: start images, standardisation, robustness transforms with exact
adjoints, the total-variation penalty, the Fourier parametrisation and the display conversion.

No framework is imported: the same code drives torch and keras models (only the probe touches a
framework). Each transform's adjoint is tested by a dot-product check (tests/plugins/filterviz/test_filterviz.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from zoo_filterviz.recipe import Recipe


def standardize(x: np.ndarray) -> np.ndarray:
    """Per-image standardisation like ``tf.image.per_image_standardization``: zero mean, unit std.

    The std is floored at ``1/sqrt(pixels)`` so that a constant image does not blow up.
    """
    axes = tuple(range(1, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    n = int(np.prod(x.shape[1:]))
    std = np.maximum(x.std(axis=axes, keepdims=True), 1.0 / math.sqrt(n))
    return ((x - mean) / std).astype(np.float32)


def rms(g: np.ndarray) -> np.ndarray:
    """Per-image root mean square (the seed's gradient normalisation), broadcastable."""
    return np.sqrt(np.mean(np.abs(g) ** 2, axis=tuple(range(1, g.ndim)), keepdims=True))


def _bicubic(cells: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bicubic upscaling of one ``(h, w)`` float array to ``size`` (Pillow, float mode)."""
    from PIL import Image

    if cells.shape == size:
        return cells.astype(np.float32)
    img = Image.fromarray(cells.astype(np.float32), mode="F")
    return np.asarray(img.resize((size[1], size[0]), Image.Resampling.BICUBIC), dtype=np.float32)


def initial_images(n: int, shape: Sequence[int], scales: Sequence[float], weights: Sequence[float],
                   rng: np.random.Generator) -> np.ndarray:
    """The seed's start images: weighted sum of uniform noise at several length scales, standardised.

    :param shape: ``(H, W, C)``; each channel gets its own fluctuations.
    :param scales: cells per side as fractions of the side (1.0: one cell per pixel).
    """
    h, w, c = (int(s) for s in shape)
    out = np.zeros((n, h, w, c), dtype=np.float32)
    for frac, weight in zip(scales, weights, strict=True):
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


class Warp:
    """A batch of random shift + rotation + rescaling warps (bilinear, edge-clamped) and their adjoint."""

    def __init__(self, shape: tuple[int, int, int, int], recipe: Recipe, rng: np.random.Generator) -> None:
        n = shape[0]
        self.shape = shape
        self.shift = rng.integers(-recipe.jitter, recipe.jitter + 1, size=(n, 2)) if recipe.jitter else None
        self.affine = bool(recipe.rotate or recipe.scale_jitter)
        if self.affine:
            angle = np.deg2rad(rng.uniform(-recipe.rotate, recipe.rotate, size=n))
            scale = 1.0 + rng.uniform(-recipe.scale_jitter, recipe.scale_jitter, size=n)
            self.index, self.weight = self._bilinear_taps(shape, angle, scale)

    @staticmethod
    def _bilinear_taps(shape: tuple[int, int, int, int], angle: np.ndarray,
                       scale: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Flat source indices and weights of the four bilinear taps of every output pixel."""
        n, h, w, _ = shape
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
        index, weight = [], []
        for oy, ox, wgt in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)),
                            (1, 1, fy * fx)):
            iy = np.clip(y0 + oy, 0, h - 1).astype(np.int64)
            ix = np.clip(x0 + ox, 0, w - 1).astype(np.int64)
            index.append((np.arange(n)[:, None, None] * h * w + iy * w + ix).reshape(-1))
            weight.append(wgt.reshape(-1, 1).astype(np.float32))
        return index, weight

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Apply shift then rotation/rescaling."""
        n, h, w, c = x.shape
        if self.shift is not None:
            x = np.stack([np.roll(x[i], tuple(self.shift[i]), axis=(0, 1)) for i in range(n)])
        if self.affine:
            flat = x.reshape(n * h * w, c)
            x = sum(wt * flat[ix] for ix, wt in zip(self.index, self.weight, strict=True)).reshape(n, h, w, c)
        return x.astype(np.float32)

    def adjoint(self, g: np.ndarray) -> np.ndarray:
        """The transpose of :meth:`forward` applied to a gradient."""
        n, h, w, c = g.shape
        if self.affine:
            flat = g.reshape(n * h * w, c)
            acc = np.zeros_like(flat)
            for ix, wt in zip(self.index, self.weight, strict=True):
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


class Fourier:
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


def to_display(images: np.ndarray, percentile: float = 1.0) -> np.ndarray:
    """Standardised float NHWC -> uint8, each image stretched between its low and high percentiles."""
    images = np.asarray(images, dtype=np.float32)
    out = np.empty(images.shape, dtype=np.uint8)
    for i, img in enumerate(images):
        lo, hi = np.percentile(img, [percentile, 100.0 - percentile])
        out[i] = np.clip(np.rint((img - lo) / max(hi - lo, 1e-6) * 255.0), 0, 255).astype(np.uint8)
    return out


__all__ = ["Fourier", "Warp", "initial_images", "rms", "snapshot_steps", "standardize", "to_display",
           "total_variation"]
