"""Run folders: the saved model, ``checkpoint/``, the ``run.json`` manifest and a lock while training."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo_core.config import MAX_SEED, MAX_STEPS
from zoo_core.errors import ConfigError, ZooError
from zoo_core.io.files import CARD_FILE, CHECKPOINT_DIR, CONFIG_FILE, EVAL_FILE, LOCK_FILE, RUN_FILE, WEIGHTS_FILE

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


#: the entries of a run folder that zoo reads, writes or deletes (none may be a symbolic link)
RUN_ENTRIES = (CHECKPOINT_DIR, RUN_FILE, LOCK_FILE, CONFIG_FILE, WEIGHTS_FILE, EVAL_FILE, CARD_FILE)
#: the most sessions a run's ``schedule`` may list
MAX_SCHEDULE = 10_000


class RunFolder:
    """A run folder: the saved model, ``checkpoint/``, ``run.json`` and a lock while training.

    A run folder is contained: zoo refuses (one line) to read, write or delete through a
    symbolic link among its own entries (:data:`RUN_ENTRIES`, and every file in ``checkpoint/``),
    so a link can never make a run touch another folder.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.checkpoints = self.path / CHECKPOINT_DIR
        self.manifest_path = self.path / RUN_FILE

    def check_contained(self) -> None:
        """Refuse (one line) when an entry zoo uses in this run folder is a symbolic link."""
        entries = [self.path / name for name in RUN_ENTRIES]
        if self.checkpoints.is_dir() and not self.checkpoints.is_symlink():
            try:
                entries += sorted(self.checkpoints.iterdir())
            except OSError as exc:
                raise ZooError(f"cannot read {self.checkpoints}: {exc.strerror or exc}") from None
        for entry in entries:
            if entry.is_symlink():
                raise ZooError(f"run folder '{self.path}': {entry.relative_to(self.path)} is a symbolic link "
                               f"(to {os.readlink(entry)}); zoo does not follow links out of a run folder")

    def clear(self) -> None:
        """What ``--force`` deletes: ``checkpoint/`` and ``run.json`` (a link among them is removed,
        never followed); anything that cannot be removed is a one-line error naming it."""
        import shutil

        for entry in (self.checkpoints, self.manifest_path):
            try:
                if entry.is_symlink() or (entry.exists() and not entry.is_dir()):
                    entry.unlink()
                elif entry.is_dir():
                    shutil.rmtree(entry)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise ZooError(f"--force cannot remove {entry}: {exc.strerror or exc}; remove it yourself "
                               "or use a new run folder") from None
            if os.path.lexists(entry):
                raise ZooError(f"--force cannot remove {entry}; remove it yourself or use a new run folder")

    def read_manifest(self) -> dict:
        """``run.json`` as a dict, checked (:func:`check_manifest`); a missing or malformed one is one line."""
        from zoo_core.io.files import read_family_json

        self.check_contained()
        manifest = read_family_json(self.manifest_path, "run manifest", "run folder",
                                    f"{self.path} has no {RUN_FILE}; it is not a zoo run folder")
        return check_manifest(manifest, f"{self.manifest_path}")

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
        self.check_contained()
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            handle = os.fdopen(os.open(self.path / LOCK_FILE, flags, 0o644), "a+")
        except OSError as exc:
            raise ZooError(f"cannot lock run folder '{self.path}': {exc.strerror or exc}") from None
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


def _count(value: Any, key: str, where: str, low: int, high: int, *, none: bool = False) -> int | None:
    """An int in ``low..high`` (never a bool, a float or a string), else a one-line ConfigError."""
    if value is None and none:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        shown = json.dumps(value, default=str)
        raise ConfigError(f"{where}: {key} must be an integer in {low}..{high}, not "
                          f"{shown if len(shown) <= 40 else shown[:40] + '...'}")
    return value


def check_manifest(manifest: dict, where: str = RUN_FILE) -> dict:
    """``run.json`` is data: check every field the run's behaviour depends on, typed and bounded
    like the config (steps and step counts 1..MAX_STEPS, the schedule a list of sessions, the
    checkpoint interval, the seed 0..MAX_SEED, data a source record); return it unchanged."""
    steps = _count(manifest.get("steps"), "steps", where, 1, MAX_STEPS, none="steps" not in manifest)
    _count(manifest.get("step", 0), "step", where, 0, MAX_STEPS)
    _count(manifest.get("checkpoint_every"), "checkpoint_every", where, 1, MAX_STEPS, none=True)
    _count(manifest.get("seed"), "seed", where, 0, MAX_SEED, none=True)
    schedule = manifest.get("schedule", [])
    if schedule is None:
        schedule = []
    if not isinstance(schedule, list) or len(schedule) > MAX_SCHEDULE:
        raise ConfigError(f"{where}: schedule must be a list of at most {MAX_SCHEDULE} sessions "
                          f"({{\"from\": step, \"steps\": total}}), not {type(schedule).__name__}")
    for i, session in enumerate(schedule):
        if not isinstance(session, dict):
            raise ConfigError(f"{where}: schedule[{i}] must be an object {{\"from\": step, \"steps\": total}}, "
                              f"not {type(session).__name__}")
        _count(session.get("from"), f"schedule[{i}].from", where, 0, MAX_STEPS)
        _count(session.get("steps"), f"schedule[{i}].steps", where, 1, MAX_STEPS)
        if not isinstance(session.get("config", {}), dict):
            raise ConfigError(f"{where}: schedule[{i}].config must be an object")
    data = manifest.get("data")
    if data is not None and not (isinstance(data, dict) and isinstance(data.get("source"), str)
                                 and isinstance(data.get("sha256"), (str, type(None)))):
        raise ConfigError(f"{where}: data must be null or an object with a 'source' string")
    for key in ("base_model", "started"):
        if not isinstance(manifest.get(key), (str, type(None))):
            raise ConfigError(f"{where}: {key} must be a string or null")
    if steps is not None and manifest.get("step", 0) > steps:
        raise ConfigError(f"{where}: step {manifest['step']} is past the run's steps {steps}")
    return manifest


def check_resume_config(family: Any, saved: Mapping[str, Any], config: Mapping[str, Any], where: str,
                        error: type[ZooError] = ConfigError) -> None:
    """The resume rule, spelled once: only the family's resume-safe keys may differ between the
    config a run was saved with and the one it continues with (else one line naming the keys)."""
    from zoo_core.families import RESUME_SAFE

    safe = set(getattr(family, "resume_safe", RESUME_SAFE) if family is not None else RESUME_SAFE)
    changed = sorted(k for k in set(saved) | set(config) if k not in safe and saved.get(k) != config.get(k))
    if changed:
        shown = ", ".join(f"{k} {saved.get(k)!r} -> {config.get(k)!r}" for k in changed[:4])
        raise error(f"{where} belongs to another config: {changed[0]} cannot change on a resume ({shown}); "
                    f"resume-safe keys of '{getattr(family, 'name', '?')}': {', '.join(sorted(safe))}; "
                    "use a new run folder")


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

