"""Golden samples: the sha256 of ``sample(4, seed=0)``'s bytes, recorded per catalog entry.

zoo promises "same seed, same bytes". A catalog entry's optional ``sample_sha256`` records the
digest of the uint8 array its model's ``sample(GOLDEN_N, seed=GOLDEN_SEED)`` returns (C order,
no header); :func:`verify` recomputes it, so an upgrade of zoo, a plugin or a framework that
changes the images is noticed (``zoo verify``). :func:`write_hashes` records fresh digests into a
catalog file (``zoo verify --write``), e.g. after retraining. docs/reproducibility.md says on
which platforms, devices and thread counts the bytes are promised equal.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from zoo_core.errors import RegistryError, ZooError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from zoo_core.model import ZooModel

GOLDEN_N = 4
GOLDEN_SEED = 0


def images_digest(images: np.ndarray) -> str:
    """sha256 of a uint8 image batch's bytes (C order)."""
    import numpy as np

    array = np.asarray(images)
    if array.dtype != np.uint8 or array.ndim != 4:
        raise ZooError(f"sample() returned {array.dtype} of shape {array.shape}; expected uint8 (N, H, W, C)")
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def sample_digest(model: ZooModel) -> str:
    """sha256 of ``model.sample(4, seed=0)``'s bytes: the golden sample."""
    return images_digest(model.sample(GOLDEN_N, seed=GOLDEN_SEED))


class Check(NamedTuple):
    """The outcome of verifying one catalog entry."""

    name: str
    status: str  # "ok", "drift", "unrecorded" (no sample_sha256 in the catalog), "skipped" (framework missing)
    expected: str | None
    actual: str | None
    detail: str = ""

    def line(self) -> str:
        """One line for ``zoo verify``."""
        actual, expected = self.actual or "", self.expected or ""  # each status has the digests it names
        if self.status == "ok":
            return f"ok          {self.name}: sample(4, seed=0) sha256 {actual[:16]} as recorded"
        if self.status == "drift":
            return (f"DRIFT       {self.name}: sample(4, seed=0) sha256 {actual[:16]}, catalog records "
                    f"{expected[:16]} ({self.detail})")
        if self.status == "unrecorded":
            return (f"unrecorded  {self.name}: no sample_sha256 in {self.detail}; now {actual[:16]} "
                    "(record it with 'zoo verify --write')")
        return f"skipped     {self.name}: {self.detail}"

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return self._asdict()


def _environment(family_framework: str) -> str:
    """Versions that decide the bytes: the framework's and its thread count."""
    import platform

    parts = [f"{platform.system()} {platform.machine()}"]
    try:
        if family_framework in ("torch", "pytorch"):
            import torch

            parts.append(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
        elif family_framework in ("keras", "tensorflow", "tf"):
            import keras

            parts.append(f"keras {keras.__version__}")
    except ImportError:  # pragma: no cover - the model was built, so the framework imports
        pass
    return ", ".join(parts)


def verify(names: Iterable[str] | None = None) -> list[Check]:
    """Recompute the golden sample of each named catalog entry (default: all) and compare."""
    return list(iter_verify(names))


def iter_verify(names: Iterable[str] | None = None) -> Iterator[Check]:
    """:func:`verify`, one :class:`Check` at a time (as each model is sampled).

    Unknown names raise :class:`~zoo_core.errors.UnknownModelError` before anything is sampled.
    Without names, entries whose framework is not installed are reported as ``skipped``; a named
    one raises :class:`~zoo_core.errors.MissingFrameworkError`.
    """
    import zoo_core

    chosen = list(names or [])
    explicit = bool(chosen)
    entries = [zoo_core.get_entry(n) for n in chosen] if explicit else zoo_core.list_models()
    for entry in entries:
        family = zoo_core.get_family(entry.family)
        missing = family.missing_requirements()
        if missing and not explicit:
            yield Check(entry.name, "skipped", entry.sample_sha256, None,
                        f"needs {', '.join(missing)} ({family.install_hint()})")
            continue
        actual = sample_digest(zoo_core.load(entry.name))
        if entry.sample_sha256 is None:
            yield Check(entry.name, "unrecorded", None, actual, entry.origin or "the catalog")
        elif actual == entry.sample_sha256:
            yield Check(entry.name, "ok", entry.sample_sha256, actual)
        else:
            yield Check(entry.name, "drift", entry.sample_sha256, actual, _environment(family.framework))


def source_catalog() -> Path:
    """The built-in ``registry.json`` of a source checkout (what ``zoo verify --write`` updates)."""
    from zoo_core.catalog import builtin_catalog_path

    path = builtin_catalog_path()
    if not (path.parent / "pyproject.toml").is_file():
        raise ZooError(f"zoo runs from an installed package ({path}); 'zoo verify --write' updates registry.json "
                       "of a source checkout: run it there, or name a catalog file with --catalog")
    return path


def write_hashes(checks: Iterable[Check], catalog: Path) -> list[str]:
    """Record each check's digest as ``sample_sha256`` of the entry of that name in ``catalog``.

    The file keeps its layout (``json.dumps(indent=2)``), the key order of each entry, and every
    entry not checked. Return the names whose recorded value changed. Names not in the file raise
    :class:`RegistryError` (they are defined elsewhere: a plugin or another catalog).
    """
    from zoo_core.catalog import read_catalog
    from zoo_core.io.weights import atomic_write_bytes

    catalog = Path(catalog)
    read_catalog(catalog, str(catalog))  # exists and is valid before we touch it
    data = json.loads(catalog.read_text(encoding="utf-8"))
    by_name = {raw["name"]: raw for raw in data["models"]}
    checks = [c for c in checks if c.actual is not None]
    absent = [c.name for c in checks if c.name not in by_name]
    if absent:
        raise RegistryError(f"{catalog}: no entry named {', '.join(absent)}; record its sample_sha256 where it is "
                            "defined (its plugin or catalog file)")
    changed = []
    for check in checks:
        raw = by_name[check.name]
        if raw.get("sample_sha256") == check.actual:
            continue
        changed.append(check.name)
        items = [(k, v) for k, v in raw.items() if k != "sample_sha256"]
        at = next((i + 1 for i, (k, _) in enumerate(items) if k == "weights"), len(items))
        items.insert(at, ("sample_sha256", check.actual))
        raw.clear()
        raw.update(items)
    if changed:
        atomic_write_bytes(catalog, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode())
    return changed
