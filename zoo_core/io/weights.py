"""Safetensors weight files: atomic writes, sha256 checks, and readable errors.

Every model's state is a flat ``{name: numpy array}`` dict; torch and keras plugins convert to
and from numpy at the edge. No pickle is ever read or written.
"""

from __future__ import annotations

import errno
import hashlib
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from zoo_core.errors import WeightsError
from zoo_core.io.files import CONFIG_FILE

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

# numpy and safetensors are imported inside the functions that need them: `zoo list` checks
# whether packaged weights exist (through this module) and must not pay for numpy.

_PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a regular file (at most ``ZOO_MAX_WEIGHTS_BYTES``), read in 1 MiB chunks."""
    from zoo_core.io.safeio import check_file, limit

    check_file(path, limit("weights"), "weights file", WeightsError)
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: str | os.PathLike, expected: str) -> None:
    """Raise :class:`WeightsError` unless the file's sha256 is ``expected``."""
    actual = sha256_file(path)
    if actual != expected:
        raise WeightsError(f"sha256 mismatch for {path}: expected {expected[:12]}..., got {actual[:12]}...; "
                           "the file is corrupt or not the published weights")


def _pid_of(name: str, marker: str) -> int | None:
    """The writer's pid in a temporary name ``.<target>.<marker><pid>-...``, or None."""
    _, found, rest = name.partition(marker)
    digits = rest.split("-", 1)[0]
    return int(digits) if found and digits.isdigit() else None


def _stale(path: Path, pid: int | None, max_age: float = 3600.0) -> bool:
    """Whether a temporary file or folder was left by a writer that is gone (dead pid, or old)."""
    import time

    try:
        age = time.time() - path.lstat().st_mtime
    except OSError:
        return False
    if age > max_age:
        return True
    if pid is None or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists but not ours (EPERM): alive
        return False
    return False


def clean_stray_temps(path: str | os.PathLike) -> int:
    """Delete temporary files that killed writes of ``path`` left beside it; return how many.

    A temporary file is ``.<name>.w<pid>-<random>.tmp``; it is stray when its writer's process
    is gone or it is more than an hour old. Live writers' files are left alone.
    """
    path = Path(path)
    removed = 0
    try:
        candidates = list(path.parent.glob(f".{path.name}.w*.tmp"))
    except OSError:
        return 0
    for tmp in candidates:
        if _stale(tmp, _pid_of(tmp.name[len(path.name) + 1:], ".w")):
            try:
                tmp.unlink()
                removed += 1
            except OSError:
                pass
    return removed


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it into place.

    Temporary files that earlier, killed writes of ``path`` left behind are deleted first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stray_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.w{os.getpid()}-", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the mode open() would
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _recover_folder_temps(directory: Path, managed: set[str]) -> None:
    """Finish or undo what killed :func:`replace_files` calls left beside ``directory``.

    Leftover sibling folders ``.<name>.zoo-<pid>-...`` of dead writers are removed; any entry in
    them that is not one of the ``managed`` files and that ``directory`` lacks (e.g. a run's
    ``checkpoint`` folder, caught between the swap and its move back) is moved back first.
    """
    import shutil

    try:
        leftovers = list(directory.parent.glob(f".{directory.name}.zoo-*"))
    except OSError:
        return
    for folder in leftovers:
        if not folder.is_dir() or not _stale(folder, _pid_of(folder.name[len(directory.name) + 1:], "zoo-")):
            continue
        if directory.is_dir():
            for item in list(folder.iterdir()):
                if item.name not in managed and not (directory / item.name).exists():
                    os.rename(item, directory / item.name)
        elif (folder / CONFIG_FILE).is_file():  # killed between the two renames of the fallback
            os.rename(folder, directory)
            continue
        shutil.rmtree(folder, ignore_errors=True)


def replace_files(directory: str | os.PathLike, files: Mapping[str, bytes]) -> Path:
    """Replace ``files`` (name -> bytes) in ``directory`` as one whole: all old or all new, never mixed.

    The new files are written and fsynced in a sibling folder, which is then swapped with
    ``directory`` in one atomic ``renameat2(RENAME_EXCHANGE)``; other entries of the folder
    (a run's ``checkpoint``, a README) are moved over afterwards. Where the exchange is not
    available, the old folder is renamed aside and the new one renamed in (a reader may briefly
    find no folder, never a mixed one). What a killed call left is cleaned up by the next one.
    """
    import shutil

    directory = Path(directory)
    if directory.is_symlink():
        directory = directory.resolve()
    if directory.exists() and not directory.is_dir():
        raise WeightsError(f"cannot save into {directory}: it exists and is not a folder")
    directory.parent.mkdir(parents=True, exist_ok=True)
    _recover_folder_temps(directory, set(files))
    if directory.is_dir():
        for name in files:  # temporary files of killed single-file writes (older zoo, checkpoints)
            clean_stray_temps(directory / name)
    new = Path(tempfile.mkdtemp(prefix=f".{directory.name}.zoo-{os.getpid()}-", dir=directory.parent))
    swapped = False
    try:
        os.chmod(new, 0o777 & ~_umask())
        for name, data in files.items():
            with open(new / name, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        _fsync_dir(new)
        if not directory.exists():
            os.rename(new, directory)
            _fsync_dir(directory.parent)
            return directory
        if _exchange(new, directory):
            old = new  # after the swap, the sibling path holds the old folder
        else:
            old = directory.parent / f".{directory.name}.zoo-{os.getpid()}-old"
            os.rename(directory, old)
            os.rename(new, directory)
        swapped = True
        _fsync_dir(directory.parent)
        for item in list(old.iterdir()):
            if item.name not in files and not (directory / item.name).exists():
                os.rename(item, directory / item.name)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        if not swapped:  # the old folder is untouched: drop the partial new one
            shutil.rmtree(new, ignore_errors=True)
        raise
    return directory


def tensors_bytes(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None) -> tuple[bytes, str]:
    """Tensors serialized as safetensors, and the sha256 of those bytes."""
    import numpy as np
    from safetensors.numpy import save

    # np.asarray(order="C") keeps 0-d arrays 0-d (np.ascontiguousarray would make them 1-d).
    arrays = {name: np.asarray(value, order="C") for name, value in tensors.items()}
    data = save(arrays, metadata=dict(metadata) if metadata else None)
    return data, hashlib.sha256(data).hexdigest()


def save_tensors(tensors: Mapping[str, np.ndarray], path: str | os.PathLike,
                 metadata: Mapping[str, str] | None = None) -> str:
    """Write tensors as safetensors atomically; return the file's sha256."""
    data, sha = tensors_bytes(tensors, metadata)
    atomic_write_bytes(path, data)
    return sha


def load_tensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a safetensors file into numpy arrays; any malformed file raises :class:`WeightsError`."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    from zoo_core.io.safeio import limit, read_bytes

    path = Path(path)
    try:
        data = read_bytes(path, limit("weights"), "weights file", WeightsError)
    except FileNotFoundError:
        raise WeightsError(f"weights file not found: {path}") from None
    except OSError as exc:
        raise WeightsError(f"cannot read weights file {path}: {exc.strerror}") from None
    if data.startswith(_PICKLE_MAGIC) or data.startswith(b"PK\x03\x04"):
        raise WeightsError(f"{path} is a pickle/zip file, not safetensors; zoo never unpickles weights")
    check_header(data, str(path))
    try:
        return load(data)
    except (SafetensorError, ValueError, OverflowError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WeightsError(f"{path} is not a valid safetensors file ({reason}); it may be truncated") from None


_ITEMSIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
             "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
_MAX_HEADER = 100 << 20  # safetensors' own limit


def check_header(data: bytes, source: str) -> dict:
    """Check a safetensors file's header against the file before anything is allocated.

    The 8-byte header length must fit the file, the header must be a JSON object of tensors with
    known dtypes, non-negative integer shapes and ``data_offsets`` inside the data, each exactly
    ``prod(shape) * itemsize`` bytes long. Returns the parsed header.
    """
    from zoo_core.io.safeio import parse_json

    def bad(reason: str) -> WeightsError:
        return WeightsError(f"{source} is not a valid safetensors file ({reason}); it may be truncated or forged")

    if len(data) < 8:
        raise bad("shorter than its 8-byte header length")
    n = int.from_bytes(data[:8], "little")
    if n > _MAX_HEADER or 8 + n > len(data):
        raise bad(f"header length {n} does not fit the file of {len(data)} bytes")
    header = parse_json(data[8:8 + n], "its header", WeightsError) if n else None
    if not isinstance(header, dict):
        raise bad("header is not a JSON object")
    body = len(data) - 8 - n
    for name, info in header.items():
        if name == "__metadata__":
            if not isinstance(info, dict) or not all(isinstance(v, str) for v in info.values()):
                raise bad("__metadata__ must map strings to strings")
            continue
        if not isinstance(info, dict):
            raise bad(f"tensor {name!r} is not described by an object")
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if dtype not in _ITEMSIZE:
            raise bad(f"tensor {name!r} has unknown dtype {dtype!r}")
        if not isinstance(shape, list) or len(shape) > 16 or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise bad(f"tensor {name!r} has a malformed shape")
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(
                isinstance(o, int) and not isinstance(o, bool) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= body):
            raise bad(f"tensor {name!r} has data offsets outside the file")
        count = 1
        for d in shape:
            count *= d
        if count * _ITEMSIZE[dtype] != offsets[1] - offsets[0]:
            raise bad(f"tensor {name!r}: shape {shape} needs {count * _ITEMSIZE[dtype]} bytes, "
                      f"its data offsets give {offsets[1] - offsets[0]}")
    return header


def check_state(expected: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray], source: str) -> None:
    """Raise one :class:`WeightsError` listing every missing, unexpected or mismatched tensor."""
    problems = []
    for name in sorted(set(expected) - set(got)):
        problems.append(f"missing {name}")
    for name in sorted(set(got) - set(expected)):
        problems.append(f"unexpected {name}")
    for name in sorted(set(expected) & set(got)):
        want, have = expected[name], got[name]
        if tuple(want.shape) != tuple(have.shape):
            problems.append(f"{name} shape {tuple(have.shape)} != expected {tuple(want.shape)}")
        elif want.dtype != have.dtype:
            problems.append(f"{name} dtype {have.dtype} != expected {want.dtype}")
    if problems:
        shown = "; ".join(problems[:6]) + (f"; and {len(problems) - 6} more" if len(problems) > 6 else "")
        raise WeightsError(f"weights in {source} do not fit the model: {shown}")
