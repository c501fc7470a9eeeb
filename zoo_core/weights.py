"""Safetensors weight files: atomic writes, sha256 checks, and readable errors.

Every model's state is a flat ``{name: numpy array}`` dict; torch and keras plugins convert to
and from numpy at the edge. No pickle is ever read or written.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from zoo_core.errors import WeightsError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

# numpy and safetensors are imported inside the functions that need them: `zoo list` checks
# whether packaged weights exist (through this module) and must not pay for numpy.

_PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
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


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the mode open() would
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_tensors(tensors: Mapping[str, np.ndarray], path: str | os.PathLike,
                 metadata: Mapping[str, str] | None = None) -> str:
    """Write tensors as safetensors atomically; return the file's sha256."""
    import numpy as np
    from safetensors.numpy import save

    # np.asarray(order="C") keeps 0-d arrays 0-d (np.ascontiguousarray would make them 1-d).
    arrays = {name: np.asarray(value, order="C") for name, value in tensors.items()}
    data = save(arrays, metadata=dict(metadata) if metadata else None)
    atomic_write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


def load_tensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a safetensors file into numpy arrays; any malformed file raises :class:`WeightsError`."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise WeightsError(f"weights file not found: {path}") from None
    except OSError as exc:
        raise WeightsError(f"cannot read weights file {path}: {exc.strerror}") from None
    if data.startswith(_PICKLE_MAGIC) or data.startswith(b"PK\x03\x04"):
        raise WeightsError(f"{path} is a pickle/zip file, not safetensors; zoo never unpickles weights")
    try:
        return load(data)
    except (SafetensorError, ValueError, OverflowError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WeightsError(f"{path} is not a valid safetensors file ({reason}); it may be truncated") from None


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
