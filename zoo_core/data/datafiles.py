"""Reading datasets from files: ``.npy``, ``.npz`` and folders of images, headers checked before allocation.

Used by :func:`zoo_core.data.datasets.load_dataset`; numpy and Pillow are imported lazily.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo_core.errors import DatasetError

IMAGE_FILE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


_NPZ_IMAGE_KEYS = {"train": ("images", "x", "x_train", "train_images", "arr_0"),
                   "test": ("x_test", "test_images")}


_NPZ_LABEL_KEYS = {"train": ("labels", "y", "y_train", "train_labels", "arr_1"),
                   "test": ("y_test", "test_labels")}


def load_path(path: Path, split: str) -> tuple[Any, Any]:
    """Images (and labels, if the file has them) of an existing ``.npy``, ``.npz``, image file or folder."""
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

    from zoo_core.io.safeio import check_file, limit

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
    """Decode image files with the one safe decoder (:func:`zoo_core.io.imagefile.decode_image`);
    the decoded total may not pass ``ZOO_MAX_DATA_BYTES`` (checked before each decode)."""
    import numpy as np

    from zoo_core.io.imagefile import decode_image
    from zoo_core.io.safeio import limit

    cap = limit("data")
    arrays = []
    total = 0

    def budget(pic: Any) -> None:
        nonlocal total
        total += pic.width * pic.height * 3
        if total > cap:
            raise DatasetError(f"{where}: the images decode to more than the limit of {cap} bytes "
                               "(ZOO_MAX_DATA_BYTES)")

    for file in files:
        pic = decode_image(file, DatasetError, check=budget)
        pic = pic.convert("RGB") if pic.mode not in ("L", "RGB") else pic
        arrays.append(np.asarray(pic))
    shapes = {a.shape[:2] for a in arrays}
    if len(shapes) > 1:
        sizes = ", ".join(f"{h}x{w}" for h, w in sorted(shapes))
        raise DatasetError(f"{where}: images have different sizes ({sizes}); resize them to one size first")
    if any(a.ndim == 3 for a in arrays):
        arrays = [np.repeat(a[..., None], 3, axis=-1) if a.ndim == 2 else a for a in arrays]
    return np.stack(arrays)


def check_labels(labels: Any, count: int, where: str):
    import numpy as np

    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or len(labels) != count:
        raise DatasetError(f"{where}: labels of shape {tuple(labels.shape)} do not match {count} images")
    if labels.dtype.kind not in "biu":
        raise DatasetError(f"{where}: labels must be integers, got dtype {labels.dtype}")
    return labels.astype(np.int64)
