"""How glyph-like a set of glyphs is: ink, how much they differ, how much they share a template.

Pure numpy (no torch), so it can score any images, e.g. ``zoo sample`` output or a dataset.
Every figure is computed on binarised images: a pixel value (each channel of a colour pixel
counts as its own value) is ink when it is at least half the full scale.
"""

from __future__ import annotations

import numpy as np

__all__ = ["binarise", "glyph_statistics", "pairwise_hamming"]


def binarise(images: np.ndarray) -> np.ndarray:
    """``(n, ...)`` images, uint8 (0..255) or float (0..1) -> ``bool (n, d)``: value >= half scale."""
    images = np.asarray(images)
    flat = images.reshape(images.shape[0], -1)
    if images.dtype == np.uint8:
        return flat >= 128  # 127.5 on the 0..255 scale
    return flat >= 0.5


def glyph_statistics(binary: np.ndarray) -> dict[str, float]:
    """``ink``, ``hamming``, ``hamming_ratio`` and ``mean_correlation`` of binarised images ``(n, d)``.

    * ``ink``: the mean ink fraction ``p`` over every value of every image.
    * ``hamming``: the mean over all pairs ``i < j`` of the fraction of values where images i and
      j differ (exact, from per-pixel ink counts: ``sum_k c_k (n - c_k) / (d n (n-1) / 2)``).
    * ``hamming_ratio``: ``hamming / (2 p (1 - p))``, the Hamming distance of independent images
      with that much ink: 1 for unrelated images, 0 for copies of one template.
    * ``mean_correlation``: the mean Pearson correlation of an image with the mean image; an
      image with no variance (blank or all ink) counts as 0.
    """
    x = np.asarray(binary, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise ValueError(f"need (n >= 2, d >= 1) binarised images, got shape {x.shape}")
    n, d = x.shape
    counts = x.sum(axis=0)
    p = float(counts.sum() / (n * d))
    hamming = float((counts * (n - counts)).sum() / (d * n * (n - 1) / 2))
    independent = 2.0 * p * (1.0 - p)
    mean = counts / n
    xc = x - x.mean(axis=1, keepdims=True)
    mc = mean - mean.mean()
    norms = np.sqrt((xc ** 2).sum(axis=1)) * np.sqrt((mc ** 2).sum())
    corr = np.divide(xc @ mc, norms, out=np.zeros(n), where=norms > 0)
    return {"ink": p, "hamming": hamming, "hamming_ratio": hamming / independent if independent > 0 else 0.0,
            "mean_correlation": float(corr.mean())}


def pairwise_hamming(binary: np.ndarray) -> np.ndarray:
    """``(n, n)`` fractions of differing values between every two binarised images ``(n, d)``."""
    x = np.asarray(binary, dtype=np.float32)
    ones = x.sum(axis=1)
    both = x @ x.T
    return (ones[:, None] + ones[None, :] - 2.0 * both) / x.shape[1]
