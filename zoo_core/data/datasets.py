"""Datasets for training and evaluating zoo models, offline by default.

One public entry point, :func:`load_dataset`, turns a *spec* into ``(images, labels)`` where
``images`` is ``uint8`` NHWC and ``labels`` is an ``int64`` vector or ``None``:

* built-in, generated here (no download): ``glyphs-28``, ``glyphs-64``, ``glyphs-28-rgb``,
  ``glyphs-64-rgb``: digits and upper-case letters rendered from fonts with a random affine
  distortion; the label is the character's index in :data:`GLYPH_CLASSES`;
* files: ``.npy`` (images), ``.npz`` (``images``/``x``/``x_train``... and optional
  ``labels``/``y``/``y_train``...), or a folder of images (labels from sub-folder names);
* ``digits-28``: scikit-learn's bundled handwritten digits (``load_digits``: 1,797 8x8 images,
  shipped inside the scikit-learn wheel, no download) upscaled to 28x28; a fixed split of 1,500
  train / 297 test images (``pip install 'zoo[digits]'``);
* ``mnist`` / ``fashion_mnist`` through ``keras.datasets`` (needs keras and a network, or
  keras' download cache).

Only numpy and Pillow are used (imported lazily); every problem with the data is raised as a
one-line :class:`DatasetError`.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo_core.data.datafiles import check_labels, load_path
from zoo_core.data.glyphs import GLYPH_CLASSES, GLYPH_SPECS, glyph_fonts, glyphs
from zoo_core.errors import DatasetError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["GLYPH_CLASSES", "GLYPH_SPECS", "KERAS_DATASETS", "SKLEARN_SPECS", "SPLITS", "check_images",
           "convert_channels", "digits", "glyph_fonts", "glyphs", "load_dataset", "resize"]


KERAS_DATASETS = ("mnist", "fashion_mnist")


#: The most a data set's height and width may differ (either way) for zoo to resize it to a square.
MAX_ASPECT = 2.0


def _spec_name(spec: Any) -> str:
    return "the array" if not isinstance(spec, (str, os.PathLike)) else str(spec)[:200]


#: Built-in datasets read from scikit-learn's bundled data -> (image size, train images of the fixed split).
SKLEARN_SPECS = {"digits-28": (28, 1500)}


SPLITS = ("train", "test")


def load_dataset(spec: Any, split: str = "train", *, n: int | None = None, seed: int = 0,
                 size: int | None = None, channels: int | None = None,
                 fonts: str = "all") -> tuple[np.ndarray, np.ndarray | None]:
    """Load or generate a dataset as ``(images uint8 (N, H, W, C), labels int64 (N,) or None)``.

    :param spec: a built-in name (``glyphs-28``, ``glyphs-64``, ``glyphs-28-rgb``,
        ``glyphs-64-rgb``, ``digits-28``, ``mnist``, ``fashion_mnist``), a path to a ``.npy`` / ``.npz`` file or
        an image folder, or an array of images (N x H x W or N x H x W x C; uint8 in [0, 255]
        or float in [0, 1]).
    :param split: ``"train"`` or ``"test"``. Glyph splits are disjoint random streams; a
        ``.npz`` with ``x_test`` serves its test split; other files return all their images
        for either split.
    :param n: number of images (glyphs: how many to generate, default 12000 train / 2000 test;
        others: the first ``n``).
    :param seed: seed of the glyph generator: same spec, split, n, seed and fonts, same bytes.
    :param size: resize to ``size x size`` (bilinear) if the images have another size; images
        whose height and width differ by more than :data:`MAX_ASPECT` (2x) are refused instead of
        being squeezed (a :class:`DatasetError`).
    :param channels: convert to 1 (grey) or 3 (RGB) channels if they differ.
    :param fonts: glyphs only: ``"all"`` (Pillow's font plus the system fonts found) or
        ``"pillow"`` (Pillow's font only; identical on every machine).

    >>> images, labels = load_dataset("glyphs-28", n=8)
    >>> images.shape, images.dtype, GLYPH_CLASSES[labels[0]] in GLYPH_CLASSES
    ((8, 28, 28, 1), dtype('uint8'), True)
    """
    import numpy as np

    if split not in SPLITS:
        raise DatasetError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    if n is not None and (not isinstance(n, int) or n < 1):
        raise DatasetError(f"n must be a positive int, not {n!r}")
    if isinstance(spec, np.ndarray):
        images, labels, where = spec, None, "the array"
    elif isinstance(spec, (str, os.PathLike)):
        where = os.fspath(spec)
        images, labels = _source(where, split, n=n, seed=seed, fonts=fonts)
        n = None if where in GLYPH_SPECS else n  # glyphs are generated n at a time
    else:
        raise DatasetError(f"cannot read a dataset from a {type(spec).__name__}; "
                           "pass a name, a .npy/.npz path, an image folder or a numpy array")
    images = check_images(images, where)
    labels = None if labels is None else check_labels(labels, len(images), where)
    if n is not None:
        images = images[:n]
        labels = None if labels is None else labels[:n]
    if channels is not None:
        images = convert_channels(images, channels)
    if size is not None and images.shape[1:3] != (size, size):
        height, width = images.shape[1:3]
        if not 1 / MAX_ASPECT <= height / max(width, 1) <= MAX_ASPECT:
            raise DatasetError(f"{_spec_name(spec)}: images of {height}x{width} pixels would be squeezed into "
                               f"{size}x{size}; zoo resizes data whose sides differ by at most {MAX_ASPECT}x "
                               "(crop or pad them square first)")
        images = resize(images, size)
    return images, labels


def _source(text: str, split: str, *, n: int | None, seed: int, fonts: str) -> tuple[Any, Any]:
    """The raw images and labels a named dataset or a path gives."""
    if text in GLYPH_SPECS:
        return glyphs(text, split, n=n, seed=seed, fonts=fonts)
    if text in KERAS_DATASETS:
        return _keras_dataset(text, split)
    if text in SKLEARN_SPECS:
        return digits(text, split)
    path = Path(text).expanduser()
    if not path.exists():
        known = ", ".join(list(GLYPH_SPECS) + list(SKLEARN_SPECS) + list(KERAS_DATASETS))
        raise DatasetError(f"no dataset '{path}': neither a built-in ({known}) nor an existing file or folder")
    return load_path(path, split)


def check_images(images: Any, where: str = "the data") -> np.ndarray:
    """Validate an image batch and return it as ``uint8 (N, H, W, C)`` with C in {1, 3}.

    Accepts N x H x W (grey) or N x H x W x C with C in {1, 3, 4} (alpha is dropped); uint8
    (or other integers in [0, 255]) or floats in [0, 1]. Anything else raises
    :class:`DatasetError`.
    """
    import numpy as np

    images = np.asarray(images)
    if images.dtype == object or images.dtype.kind not in "biuf":
        raise DatasetError(f"{where}: images must be numbers, got dtype {images.dtype}")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
        raise DatasetError(f"{where}: expected images of shape N x H x W or N x H x W x C with C in 1, 3, 4; "
                           f"got shape {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise DatasetError(f"{where}: no images (shape {tuple(images.shape)})")
    if min(images.shape[1:3]) < 4:
        raise DatasetError(f"{where}: images of {images.shape[1]}x{images.shape[2]} pixels are too small; "
                           "is the array N x H x W x C (channels last)?")
    if images.shape[-1] == 4:
        images = images[..., :3]
    if images.dtype == np.uint8:
        return np.ascontiguousarray(images)
    if images.dtype.kind == "f":
        if not np.all(np.isfinite(images)):
            raise DatasetError(f"{where}: images contain NaN or infinity")
        lo, hi = float(images.min()), float(images.max())
        if lo < 0.0 or hi > 1.0:
            raise DatasetError(f"{where}: float images must lie in [0, 1], found values in [{lo:.4g}, {hi:.4g}]; "
                               "scale them (x / 255) or save them as uint8")
        return np.rint(images * 255.0).astype(np.uint8)
    lo, hi = int(images.min()), int(images.max())
    if lo < 0 or hi > 255:
        raise DatasetError(f"{where}: integer images must lie in [0, 255], found values in [{lo}, {hi}]")
    return images.astype(np.uint8)


def convert_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """Grey <-> RGB: 3 -> 1 by ITU-R 601 luma, 1 -> 3 by repetition."""
    import numpy as np

    if channels not in (1, 3):
        raise DatasetError(f"channels must be 1 or 3, not {channels!r}")
    have = images.shape[-1]
    if have == channels:
        return images
    if channels == 3:
        return np.repeat(images, 3, axis=-1)
    luma = images.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.clip(np.rint(luma), 0, 255).astype(np.uint8)[..., None]


def resize(images: np.ndarray, size: int) -> np.ndarray:
    """Resize every image to ``size x size`` with Pillow (bilinear, antialiased when shrinking)."""
    import numpy as np
    from PIL import Image

    if not isinstance(size, int) or size < 4:
        raise DatasetError(f"size must be an int >= 4, not {size!r}")
    out = np.empty((len(images), size, size, images.shape[-1]), dtype=np.uint8)
    for i, image in enumerate(images):
        pic = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
        out[i] = np.asarray(pic.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=None)).reshape(
            size, size, -1)
    return out


def digits(spec: str = "digits-28", split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's handwritten digits (``sklearn.datasets.load_digits``) as 28x28 grey images.

    The 1,797 8x8 images (ink 0..16) are scaled to 0..255 (light digit on black, like MNIST and
    the glyphs) and upscaled to 28x28 with Pillow's bilinear filter; labels are the digits 0-9.
    The split is fixed: a permutation seeded with 0 puts 1,500 images in ``train`` and the
    other 297 in ``test``. Cached; returned as fresh copies.
    """
    if spec not in SKLEARN_SPECS:
        raise DatasetError(f"unknown scikit-learn set '{spec}' (known: {', '.join(SKLEARN_SPECS)})")
    images, labels = _digits_cached(spec, split)
    return images.copy(), labels.copy()


@functools.lru_cache(maxsize=4)
def _digits_cached(spec: str, split: str):
    import numpy as np

    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DatasetError(f"dataset '{spec}' needs scikit-learn (its data ships in the wheel): "
                           "pip install 'zoo[digits]'") from None
    size, n_train = SKLEARN_SPECS[spec]
    bunch = load_digits()
    small = np.rint(np.asarray(bunch.images, dtype=np.float64) / 16.0 * 255.0).clip(0, 255).astype(np.uint8)
    order = np.random.default_rng(0).permutation(len(small))
    pick = order[:n_train] if split == "train" else order[n_train:]
    images = resize(small[pick][..., None], size)
    labels = np.asarray(bunch.target, dtype=np.int64)[pick]
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def _keras_dataset(name: str, split: str) -> tuple[Any, Any]:
    try:
        import keras
    except ImportError:
        raise DatasetError(f"dataset '{name}' is loaded through keras.datasets, which is not installed; "
                           f"pass a file instead: --data {name}.npz (arrays 'images' uint8 N x 28 x 28, "
                           "optional 'labels')") from None
    loader = getattr(keras.datasets, name)
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as exc:  # noqa: BLE001 - any download failure means the same to the user
        reason = re.sub(r"\s+", " ", str(exc))[:120] or type(exc).__name__
        raise DatasetError(f"cannot download '{name}' (offline? {reason}); pass a file instead: "
                           f"--data {name}.npz (arrays 'images' uint8 N x 28 x 28, optional 'labels')") from None
    return (x_train, y_train) if split == "train" else (x_test, y_test)
