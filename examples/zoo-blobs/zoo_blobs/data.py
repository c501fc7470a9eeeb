"""The training data of the blobs family: images of soft Gaussian blobs, generated on the fly."""

from __future__ import annotations

import numpy as np


def blob_images(n: int, size: int, channels: int, max_blobs: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` float32 images ``(n, size, size, channels)`` in [0, 1], each with 1..max_blobs blobs.

    Each blob is an isotropic Gaussian bump at a random place, with a random width, brightness and
    (for 3 channels) colour; overlapping blobs add up and are clipped at 1.
    """
    grid = (np.arange(size, dtype=np.float32) + 0.5) / size
    centre = rng.uniform(0.2, 0.8, size=(n, max_blobs, 2)).astype(np.float32)
    width = rng.uniform(0.06, 0.16, size=(n, max_blobs)).astype(np.float32)
    count = rng.integers(1, max_blobs + 1, size=n)
    present = (np.arange(max_blobs)[None, :] < count[:, None]).astype(np.float32)
    colour = rng.uniform(0.5, 1.0, size=(n, max_blobs, channels)).astype(np.float32)
    dy = (grid[None, None, :] - centre[..., 0:1]) ** 2  # (n, b, size)
    dx = (grid[None, None, :] - centre[..., 1:2]) ** 2
    bump = np.exp(-(dy[..., :, None] + dx[..., None, :]) / (2 * width[..., None, None] ** 2))  # (n, b, H, W)
    bump *= present[..., None, None]
    images = np.einsum("nbhw,nbc->nhwc", bump, colour)
    return np.clip(images, 0.0, 1.0).astype(np.float32)
