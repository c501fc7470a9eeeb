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
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo_core.errors import DatasetError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

#: Characters of the glyph datasets; a glyph's label is its index here (class = character).
GLYPH_CLASSES = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

#: Built-in glyph specs -> (image size, channels).
GLYPH_SPECS = {"glyphs-28": (28, 1), "glyphs-64": (64, 1), "glyphs-28-rgb": (28, 3), "glyphs-64-rgb": (64, 3)}

#: Default number of images per split of the glyph datasets.
GLYPH_SIZES = {"train": 12000, "test": 2000}

KERAS_DATASETS = ("mnist", "fashion_mnist")

#: Built-in datasets read from scikit-learn's bundled data -> (image size, train images of the fixed split).
SKLEARN_SPECS = {"digits-28": (28, 1500)}
IMAGE_FILE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
SPLITS = ("train", "test")

# System fonts used when present (in this order, after Pillow's own font). A missing one is
# skipped, so the glyph datasets depend on the fonts installed: ``fonts="pillow"`` gives the
# same data on every machine with the same Pillow.
SYSTEM_FONTS = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSansCondensed.ttf",
    "DejaVuSansCondensed-Bold.ttf", "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSerifCondensed.ttf",
    "LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf", "LiberationSerif-Regular.ttf",
    "LiberationMono-Regular.ttf", "FreeSans.ttf", "FreeSansBold.ttf", "FreeSerif.ttf", "FreeMono.ttf",
)
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")

_NPZ_IMAGE_KEYS = {"train": ("images", "x", "x_train", "train_images", "arr_0"),
                   "test": ("x_test", "test_images")}
_NPZ_LABEL_KEYS = {"train": ("labels", "y", "y_train", "train_labels", "arr_1"),
                   "test": ("y_test", "test_labels")}


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
    :param size: resize to ``size x size`` (bilinear) if the images have another size.
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
        text = os.fspath(spec)
        where = text
        if text in GLYPH_SPECS:
            images, labels = glyphs(text, split, n=n, seed=seed, fonts=fonts)
            n = None
        elif text in KERAS_DATASETS:
            images, labels = _keras_dataset(text, split)
        elif text in SKLEARN_SPECS:
            images, labels = digits(text, split)
        else:
            images, labels = _load_path(Path(text).expanduser(), split)
    else:
        raise DatasetError(f"cannot read a dataset from a {type(spec).__name__}; "
                           "pass a name, a .npy/.npz path, an image folder or a numpy array")
    images = check_images(images, where)
    if labels is not None:
        labels = _check_labels(labels, len(images), where)
    if n is not None:
        images = images[:n]
        labels = None if labels is None else labels[:n]
    if channels is not None:
        images = convert_channels(images, channels)
    if size is not None and images.shape[1:3] != (size, size):
        images = resize(images, size)
    return images, labels


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


# ---------------------------------------------------------------------------------------------
# Glyphs


def glyphs(spec: str, split: str = "train", n: int | None = None, seed: int = 0,
           fonts: str = "all") -> tuple[np.ndarray, np.ndarray]:
    """Generate a glyph dataset (see :data:`GLYPH_SPECS`); cached, returned as fresh copies.

    Each image shows one character of :data:`GLYPH_CLASSES` (chosen uniformly) in a random
    font of :func:`glyph_fonts`, with a random stroke width and a random affine distortion
    (rotation, shear, anisotropic scale, translation), rendered at 4x (2x for 64 px) and box-filtered down.
    Grey sets draw a light glyph on black (like MNIST); RGB sets use a random colour pair of
    contrasting brightness.
    """
    if spec not in GLYPH_SPECS:
        raise DatasetError(f"unknown glyph set '{spec}' (known: {', '.join(GLYPH_SPECS)})")
    if fonts not in ("all", "pillow"):
        raise DatasetError(f"fonts must be 'all' or 'pillow', not {fonts!r}")
    count = GLYPH_SIZES[split] if n is None else int(n)
    images, labels = _glyphs_cached(spec, split, count, int(seed), fonts)
    return images.copy(), labels.copy()


@functools.lru_cache(maxsize=8)
def _glyphs_cached(spec: str, split: str, n: int, seed: int, fonts: str):
    import numpy as np
    from PIL import Image, ImageDraw

    size, channels = GLYPH_SPECS[spec]
    faces = [font for _, font in _font_objects(fonts)]
    # One independent stream per (spec, split, seed): train and test never share a draw.
    stream = zlib.crc32(f"{spec}/{split}".encode())
    rng = np.random.default_rng([seed, stream])
    scale = 4 if size <= 32 else 2  # supersampling factor of the rendering
    big = size * scale
    images = np.empty((n, size, size, channels), dtype=np.uint8)
    labels = rng.integers(0, len(GLYPH_CLASSES), size=n).astype(np.int64)
    rendered: dict = {}  # (font, char, stroke) -> (canvas, glyph width, glyph height)
    for i in range(n):
        char = GLYPH_CLASSES[labels[i]]
        face = int(rng.integers(len(faces)))
        stroke = int(rng.integers(0, 3)) * scale // 2
        key = (face, char, stroke)
        if key not in rendered:
            # The glyph centred on a canvas twice the output size (room for the distortion).
            canvas = Image.new("L", (2 * big, 2 * big), 0)
            draw = ImageDraw.Draw(canvas)
            left, top, right, bottom = draw.textbbox((0, 0), char, font=faces[face], stroke_width=stroke)
            draw.text((big - (left + right) / 2, big - (top + bottom) / 2), char, fill=255, font=faces[face],
                      stroke_width=stroke, stroke_fill=255)
            rendered[key] = (canvas, max(right - left, 1), max(bottom - top, 1))
        canvas, width, height = rendered[key]
        # Random affine map from output pixels to canvas pixels: the glyph's height becomes
        # 58-80% of the image (its width at most 85%), with rotation, shear and a small offset.
        zoom = max(height / (rng.uniform(0.58, 0.8) * big), width / (0.85 * big))
        angle = np.deg2rad(rng.uniform(-14, 14))
        shear = rng.uniform(-0.25, 0.25)
        squeeze = rng.uniform(0.85, 1.15)
        cos, sin = np.cos(angle), np.sin(angle)
        m = zoom * np.array([[cos * squeeze, -sin + shear], [sin * squeeze, cos]])
        shift = rng.uniform(-0.08, 0.08, size=2) * big
        centre_out = np.array([big / 2, big / 2]) + shift
        offset = np.array([big, big]) - m @ centre_out
        coeffs = (m[0, 0], m[0, 1], offset[0], m[1, 0], m[1, 1], offset[1])
        mask = canvas.transform((big, big), Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BILINEAR)
        small = np.asarray(mask.reduce(scale), dtype=np.float32) / 255.0
        if channels == 1:
            images[i, ..., 0] = np.rint(small * 255.0).astype(np.uint8)
        else:
            fg, bg = _colour_pair(rng)
            images[i] = np.rint(bg + small[..., None] * (fg - bg)).astype(np.uint8)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def _colour_pair(rng) -> tuple[np.ndarray, np.ndarray]:
    """A random foreground and background colour whose luma differ by at least 100 of 255."""
    import numpy as np

    weights = np.array([0.299, 0.587, 0.114])
    while True:
        fg, bg = rng.uniform(0, 255, size=3), rng.uniform(0, 255, size=3)
        if abs(float(fg @ weights - bg @ weights)) >= 100:
            return fg.astype(np.float32), bg.astype(np.float32)


def glyph_fonts(fonts: str = "all") -> list[str]:
    """Names of the fonts the glyph datasets draw with: ``"pillow"`` (Pillow's own), then font files."""
    return [name for name, _ in _font_objects(fonts)]


def _font_sources(fonts: str) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = [("pillow", None)]
    if fonts == "pillow":
        return found
    by_name: dict[str, str] = {}
    for folder in FONT_DIRS:
        root = Path(folder).expanduser()
        if root.is_dir():
            for dirpath, _, files in sorted(os.walk(root)):
                for file in sorted(files):
                    by_name.setdefault(file, os.path.join(dirpath, file))
    return found + [(name, by_name[name]) for name in SYSTEM_FONTS if name in by_name]


@functools.lru_cache(maxsize=2)
def _font_objects(fonts: str) -> tuple:
    from PIL import ImageFont, features

    size = 96  # rendering size in pixels; the affine map scales glyphs to the image
    faces = []
    for name, path in _font_sources(fonts):
        try:
            if path is not None:
                faces.append((name, ImageFont.truetype(path, size=size)))
            elif features.check("freetype2"):
                # Pillow >= 10.1 ships a scalable font; older versions take no size (TypeError).
                faces.append((name, ImageFont.load_default(size=size)))
        except (OSError, TypeError):
            continue  # an unreadable font is skipped, not fatal
    if not faces:
        raise DatasetError("no scalable font for the glyph datasets: they need Pillow >= 10.1 built with FreeType "
                           "(pip install -U pillow) or TrueType fonts under /usr/share/fonts")
    return tuple(faces)


# ---------------------------------------------------------------------------------------------
# scikit-learn's digits


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


# ---------------------------------------------------------------------------------------------
# Files, folders, keras.datasets


def _load_path(path: Path, split: str) -> tuple[Any, Any]:
    if not path.exists():
        known = ", ".join(list(GLYPH_SPECS) + list(SKLEARN_SPECS) + list(KERAS_DATASETS))
        raise DatasetError(f"no dataset '{path}': neither a built-in ({known}) nor an existing file or folder")
    if path.is_dir():
        return _load_folder(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _np_load(path), None
    if suffix == ".npz":
        return _load_npz(path, split)
    if suffix in IMAGE_FILE_SUFFIXES:
        return _read_images([path], path), None
    raise DatasetError(f"cannot read '{path}': use a .npy or .npz file or a folder of images")


def _npy_nbytes(fh: Any, where: str) -> int:
    """Read a ``.npy`` header from ``fh`` and return the bytes its array needs (nothing allocated)."""
    import numpy as np

    try:
        version = np.lib.format.read_magic(fh)
        reader = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in reader:
            raise ValueError(f"unsupported .npy version {version}")
        shape, _, dtype = reader[version](fh, max_header_size=10000)
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as exc:
        raise DatasetError(f"{where}: not a readable numpy file ({str(exc).splitlines()[0] if str(exc) else exc!r})") \
            from None
    if dtype.hasobject:
        raise DatasetError(f"{where}: holds Python objects, which need pickle; zoo never unpickles data")
    count = 1
    for d in shape:
        count *= int(d)
    return count * dtype.itemsize


def _check_numpy_file(path: Path) -> None:
    """Refuse a ``.npy``/``.npz`` whose declared arrays do not fit the file or exceed ``ZOO_MAX_DATA_BYTES``.

    Runs before numpy allocates anything: a header claiming 10^15 elements, a non-zip ``.npz``,
    or an archive member that would inflate past the limit is one :class:`DatasetError`.
    """
    import zipfile

    from zoo_core.safeio import check_file, limit

    cap = limit("data")
    size = check_file(path, cap, "data file", DatasetError)
    too_big = f"{path}: its arrays need more than the limit of {cap} bytes (ZOO_MAX_DATA_BYTES)"
    if path.suffix.lower() == ".npy":
        with open(path, "rb") as fh:
            need = _npy_nbytes(fh, str(path))
            if need > cap:
                raise DatasetError(too_big)
            if fh.tell() + need != size:
                raise DatasetError(f"{path}: its header declares {need} bytes of data but the file holds "
                                   f"{size - fh.tell()}; it is truncated or forged")
        return
    if not zipfile.is_zipfile(path):
        raise DatasetError(f"{path}: not a .npz file (not a zip archive)")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > 1000:
                raise DatasetError(f"{path}: {len(members)} arrays; a dataset .npz holds a few")
            total = 0
            for info in members:
                total += info.file_size
                if total > cap:
                    raise DatasetError(too_big)
                if not info.filename.endswith(".npy"):
                    continue
                with archive.open(info) as fh:
                    need = _npy_nbytes(fh, f"{path}:{info.filename}")
                    if fh.tell() + need != info.file_size:
                        raise DatasetError(f"{path}: member {info.filename} declares {need} bytes of data but "
                                           f"holds {info.file_size - fh.tell()}; it is truncated or forged")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise DatasetError(f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})".splitlines()[0]) \
            from None


def _np_load(path: Path):
    import zipfile

    import numpy as np

    _check_numpy_file(path)
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:  # object arrays need pickle, which zoo never loads
        raise DatasetError(f"{path}: cannot load without pickle ({exc}); save plain numeric arrays") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"{path}: not a readable numpy file ({exc})") from None


def _load_npz(path: Path, split: str) -> tuple[Any, Any]:
    import zipfile

    archive = _np_load(path)
    with archive:
        keys = list(archive.keys())
        image_keys = _NPZ_IMAGE_KEYS[split] + (_NPZ_IMAGE_KEYS["train"] if split == "test" else ())
        label_keys = _NPZ_LABEL_KEYS[split] if any(k in keys for k in _NPZ_IMAGE_KEYS[split]) else \
            _NPZ_LABEL_KEYS["train"]
        image_key = next((k for k in image_keys if k in keys), None)
        if image_key is None:
            raise DatasetError(f"{path}: no image array (looked for keys {', '.join(_NPZ_IMAGE_KEYS['train'])}; "
                               f"found {', '.join(keys) or 'none'})")
        label_key = next((k for k in label_keys if k in keys), None)
        try:
            images = archive[image_key]
            labels = archive[label_key] if label_key else None
        except ValueError as exc:
            raise DatasetError(f"{path}: cannot load without pickle ({exc}); save plain numeric arrays") from None
        except (OSError, EOFError, zipfile.BadZipFile) as exc:  # e.g. a CRC error while inflating
            raise DatasetError(f"{path}: not a readable .npz file ({exc})".splitlines()[0]) from None
    return images, labels


def _load_folder(folder: Path) -> tuple[Any, Any]:
    import numpy as np

    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_FILE_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    if not files:
        raise DatasetError(f"{folder}: no image files ({', '.join(IMAGE_FILE_SUFFIXES)}) in this folder")
    images = _read_images(files, folder)
    parents = [p.parent.relative_to(folder) for p in files]
    if any(str(parent) == "." for parent in parents):
        return images, None  # images at the top level: no labels
    classes = sorted({parent.parts[0] for parent in parents})
    index = {name: i for i, name in enumerate(classes)}
    return images, np.array([index[parent.parts[0]] for parent in parents], dtype=np.int64)


def _read_images(files: list[Path], where: Path):
    """Decode image files, each a regular file; Pillow's decompression-bomb guard is an error here,
    and the decoded total may not pass ``ZOO_MAX_DATA_BYTES`` (checked before each decode)."""
    import warnings

    import numpy as np
    from PIL import Image, UnidentifiedImageError

    from zoo_core.safeio import check_file, limit

    cap = limit("data")
    arrays = []
    total = 0
    for file in files:
        check_file(file, cap, "image", DatasetError)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(file) as pic:
                    total += pic.width * pic.height * 3
                    if total > cap:
                        raise DatasetError(f"{where}: the images decode to more than the limit of {cap} bytes "
                                           "(ZOO_MAX_DATA_BYTES)")
                    pic = pic.convert("RGB") if pic.mode not in ("L", "RGB") else pic.copy()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise DatasetError(f"{file}: refusing a possible decompression bomb ({exc})".splitlines()[0]) from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise DatasetError(f"{file}: not a readable image ({type(exc).__name__})") from None
        arrays.append(np.asarray(pic))
    shapes = {a.shape[:2] for a in arrays}
    if len(shapes) > 1:
        sizes = ", ".join(f"{h}x{w}" for h, w in sorted(shapes))
        raise DatasetError(f"{where}: images have different sizes ({sizes}); resize them to one size first")
    if any(a.ndim == 3 for a in arrays):
        arrays = [np.repeat(a[..., None], 3, axis=-1) if a.ndim == 2 else a for a in arrays]
    return np.stack(arrays)


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


def _check_labels(labels: Any, count: int, where: str):
    import numpy as np

    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or len(labels) != count:
        raise DatasetError(f"{where}: labels of shape {tuple(labels.shape)} do not match {count} images")
    if labels.dtype.kind not in "biu":
        raise DatasetError(f"{where}: labels must be integers, got dtype {labels.dtype}")
    return labels.astype(np.int64)
