"""Training checkpoints: safetensors files that carry and verify their own sha256 and step.

A checkpoint is ``<dir>/step-<8 digits>.safetensors``: every tensor of a training session's
state (weights, optimizer slots, RNG states, the history so far) plus one header entry,
``zoo_checkpoint``, a small JSON with the format, the step, the family, the config and the
sha256 of the tensor data, so truncation *and* bit flips are detected before anything is
restored. Files are written atomically (temporary file + rename) and only the newest ``keep``
are kept, so a run killed at any moment still has a whole checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo_core.errors import WeightsError
from zoo_core.io.weights import atomic_write_bytes

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

FORMAT = "zoo-checkpoint/2"
_NAME = re.compile(r"^step-(\d{8,})\.safetensors$")


def checkpoint_name(step: int) -> str:
    """File name of the checkpoint after ``step``."""
    return f"step-{int(step):08d}.safetensors"


def _data_sha256(blob: bytes) -> str:
    header = int.from_bytes(blob[:8], "little")
    return hashlib.sha256(blob[8 + header:]).hexdigest()


def save_checkpoint(directory: str | Path, step: int, tensors: Mapping[str, np.ndarray],
                    meta: Mapping[str, Any], keep: int = 3) -> Path:
    """Write ``tensors`` as the checkpoint of ``step`` into ``directory``; prune to the newest ``keep``."""
    import numpy as np
    from safetensors.numpy import save

    arrays = {k: np.asarray(v, order="C") for k, v in tensors.items()}  # 0-d arrays stay 0-d (not ascontiguousarray)
    info = {"format": FORMAT, "step": int(step), **meta}
    first = save(arrays, metadata={"zoo_checkpoint": json.dumps(info, sort_keys=True)})
    info["data_sha256"] = _data_sha256(first)
    blob = save(arrays, metadata={"zoo_checkpoint": json.dumps(info, sort_keys=True)})
    if _data_sha256(blob) != info["data_sha256"]:  # the data section must not move with the header
        raise RuntimeError("safetensors changed the tensor data when the header changed")
    directory = Path(directory)
    path = directory / checkpoint_name(step)
    atomic_write_bytes(path, blob)
    for old in list_checkpoints(directory)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
    return path


def list_checkpoints(directory: str | Path) -> list[Path]:
    """Checkpoint files in ``directory``, oldest first (by step)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(directory: str | Path) -> Path | None:
    """The newest checkpoint in ``directory``, or None."""
    found = list_checkpoints(directory)
    return found[-1] if found else None


def read_checkpoint(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """The tensors and header of a checkpoint; anything malformed is one-line :class:`WeightsError`."""
    from safetensors.numpy import load

    from zoo_core.io.safeio import limit, read_bytes

    path = Path(path)
    try:
        blob = read_bytes(path, limit("weights"), "checkpoint", WeightsError)  # a regular file, bounded
    except OSError as exc:
        raise WeightsError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from None
    try:
        if len(blob) < 8:
            raise ValueError("truncated header")
        header_len = int.from_bytes(blob[:8], "little")
        if header_len > len(blob) - 8 or header_len > 100_000_000:
            raise ValueError("truncated header")
        header = json.loads(blob[8:8 + header_len])
        meta = json.loads(header["__metadata__"]["zoo_checkpoint"])
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format') if isinstance(meta, dict) else None!r}, expected {FORMAT}")
        if _data_sha256(blob) != meta.get("data_sha256"):
            raise ValueError("tensor data does not match its sha256")
        step = meta.get("step")
        if not isinstance(step, int) or isinstance(step, bool) or step < 0:
            raise ValueError(f"bad step {step!r}")
        match = _NAME.match(path.name)
        if match and int(match.group(1)) != step:
            raise ValueError(f"file name says step {int(match.group(1))}, header says {step}")
        tensors = load(blob)
    except Exception as exc:  # noqa: BLE001 - any malformation is reported the same way
        reason = (str(exc).splitlines() or [""])[0] or type(exc).__name__
        raise WeightsError(f"checkpoint {path} is corrupt ({type(exc).__name__}: {reason}); "
                           "delete it or start a new run folder") from None
    return tensors, meta
