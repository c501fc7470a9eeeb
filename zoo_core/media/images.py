"""Image output: tiling a batch into a grid, and writing PNG, NPY, NPZ, GIF and WebP files."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from zoo_core.errors import ZooError
from zoo_core.io.files import ANIMATION_SUFFIXES, IMAGE_SUFFIXES, check_suffix


def tile(images: np.ndarray, ncols: int | None = None, pad: int = 2, pad_value: int = 255) -> np.ndarray:
    """Tile ``(N, H, W, C)`` uint8 images into one ``(rows*H', cols*W', C)`` image.

    :param ncols: columns; default ``ceil(sqrt(N))``, a near-square grid.
    :param pad: pixels of ``pad_value`` between and around the tiles.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"tile expects N x H x W x C images, got shape {images.shape}")
    n, h, w, c = images.shape
    ncols = max(1, min(n, ncols or math.ceil(math.sqrt(n))))
    nrows = math.ceil(n / ncols)
    grid = np.full((pad + nrows * (h + pad), pad + ncols * (w + pad), c), pad_value, dtype=images.dtype)
    for i in range(n):
        r, col = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y:y + h, x:x + w] = images[i]
    return grid


def _pil(array: np.ndarray):
    from PIL import Image  # imported here: Pillow is only needed when writing images

    return Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)


def save_images(images: np.ndarray, path: str | Path, ncols: int | None = None) -> Path:
    """Write a batch: ``.png`` as a tiled grid, ``.npy`` as the raw array, ``.npz`` under key ``images``."""
    path = check_suffix(path, IMAGE_SUFFIXES)
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".npy":
        np.save(path, images)
    elif suffix == ".npz":
        np.savez_compressed(path, images=images)
    else:
        _pil(tile(images, ncols)).save(path, format="PNG", optimize=False)
    return path


def upscale(images: np.ndarray, min_size: int) -> np.ndarray:
    """Nearest-neighbour upscale by an integer factor so that each side is at least ``min_size``."""
    factor = max(1, math.ceil(min_size / max(1, min(images.shape[1:3]))))
    if factor == 1:
        return images
    return images.repeat(factor, axis=1).repeat(factor, axis=2)


def save_animation(frames: np.ndarray | Sequence[np.ndarray], path: str | Path, fps: int = 20) -> Path:
    """Write ``(T, H, W, C)`` uint8 frames as a looping GIF or WebP."""
    path = check_suffix(path, ANIMATION_SUFFIXES)
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    pictures = [_pil(frame) for frame in frames]
    options = {"lossless": True} if suffix == ".webp" else {}
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=max(1, round(1000 / fps)),
                     loop=0, **options)
    return path


def read_image(path: str | Path):
    """A decoded Pillow image from an untrusted file, or one :class:`~zoo_core.errors.ZooError` line
    (the one safe decoder, :func:`zoo_core.io.imagefile.decode_image`)."""
    from zoo_core.io.imagefile import decode_image

    return decode_image(path, ZooError)
