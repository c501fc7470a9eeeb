"""Run folders: the saved model, ``checkpoint/``, the ``run.json`` manifest and a lock while training."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo_core.errors import ZooError
from zoo_core.io.files import CHECKPOINT_DIR, LOCK_FILE, RUN_FILE

if TYPE_CHECKING:  # pragma: no cover
    from zoo_core.model import ZooModel

def describe_data(data: Any) -> dict | None:
    """The run manifest's ``data``: None, or the source, its sha256 and (later) its example count."""
    if data is None:
        return None
    try:
        import numpy as np

        if isinstance(data, np.ndarray):
            return {"source": "array", "sha256": hashlib.sha256(np.ascontiguousarray(data).tobytes()).hexdigest(),
                    "examples": int(len(data))}
    except ImportError:  # pragma: no cover
        pass
    text = str(data)
    path = Path(text)
    if path.exists():
        return {"source": str(path.resolve()), "sha256": _path_sha256(path), "examples": None}
    return {"source": text, "sha256": None, "examples": None}  # a built-in dataset spec


def _path_sha256(path: Path) -> str:
    from zoo_core.io.weights import sha256_file

    if path.is_file():
        return sha256_file(path)
    digest = hashlib.sha256()
    for child in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(child.relative_to(path)).encode() + b"\0" + sha256_file(child).encode())
    return digest.hexdigest()


def versions(model: ZooModel) -> dict[str, str]:
    """zoo, the plugin's distribution, python and the frameworks already imported."""
    from importlib import metadata

    from zoo_core import __version__

    out = {"zoo": __version__, "python": platform.python_version()}
    plugin = getattr(model.family, "plugin", "") if model.family else ""
    if plugin:
        from zoo_core.plugins import get_registry

        info = get_registry().plugins.get(plugin)
        if info is not None and info.distribution:
            out["plugin"] = f"{info.distribution} {info.version}"
    for module, dist in (("torch", "torch"), ("tensorflow", "tensorflow"), ("keras", "keras")):
        if module in sys.modules:
            try:
                out[module] = metadata.version(dist if module != "tensorflow" else _tf_dist())
            except metadata.PackageNotFoundError:
                out[module] = str(getattr(sys.modules[module], "__version__", "?"))
    return out


def _tf_dist() -> str:
    from importlib import metadata

    for name in ("tensorflow", "tensorflow-cpu"):
        try:
            metadata.version(name)
            return name
        except metadata.PackageNotFoundError:
            continue
    return "tensorflow"


# -- run folders ---------------------------------------------------------------------------------


class RunFolder:
    """A run folder: the saved model, ``checkpoint/``, ``run.json`` and a lock while training."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.checkpoints = self.path / CHECKPOINT_DIR
        self.manifest_path = self.path / RUN_FILE

    def read_manifest(self) -> dict:
        """``run.json`` as a dict; a missing or malformed one is a one-line error."""
        from zoo_core.io.files import read_family_json

        return read_family_json(self.manifest_path, "run manifest", "run folder",
                                f"{self.path} has no {RUN_FILE}; it is not a zoo run folder")

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        """Rewrite ``run.json`` atomically."""
        from zoo_core.io.weights import atomic_write_bytes

        atomic_write_bytes(self.manifest_path, (json.dumps(manifest, indent=2, default=str) + "\n").encode())

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold an exclusive lock on the folder; a second trainer gets a one-line error.

        ``flock`` locks die with their process, so a killed run leaves no stale lock.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        handle = open(self.path / LOCK_FILE, "a+")
        try:
            try:
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except ImportError:  # pragma: no cover - Windows: no lock
                pass
            except OSError:
                raise ZooError(f"run folder '{self.path}' is in use by another training process") from None
            self._remove_stray_temporaries()
            yield
        finally:
            handle.close()

    def _remove_stray_temporaries(self) -> None:
        """Temporary files of writes killed midway (``.NAME.XXXX.tmp``); safe while the lock is held."""
        for folder in (self.path, self.checkpoints):
            if folder.is_dir():
                for stray in folder.glob(".*.tmp"):
                    stray.unlink(missing_ok=True)


def is_run_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding a ``run.json``."""
    return (Path(path) / RUN_FILE).is_file()


def run_data(ref: str | Path) -> str | None:
    """The data source a run folder trained on (its ``run.json``), or None (not a run, or the default)."""
    if not is_run_folder(ref):
        return None
    data = RunFolder(ref).read_manifest().get("data")
    source = data.get("source") if isinstance(data, dict) else None
    return source if isinstance(source, str) and source != "array" else None


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")

