"""Resolving a catalog entry's weights source to a local, sha256-verified file."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from zoo_core.catalog import WeightsRef
from zoo_core.errors import WeightsError
from zoo_core.io.weights import verify_sha256


def local_path(ref: WeightsRef) -> Path | None:
    """The local file for ``ref`` if it needs no download (``pkg://``, ``file://``), else None.

    The source's grammar is checked again here (a :class:`WeightsRef` may be built by hand).
    """
    from zoo_core.catalog import source_problem

    problem = source_problem(ref.source)
    if problem:
        raise WeightsError(f"weights source: {problem}")
    if ref.source.startswith("pkg://"):
        package, _, rel = ref.source[len("pkg://"):].partition("/")
        from importlib.util import find_spec

        spec = find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise WeightsError(f"weights source {ref.source}: package '{package}' is not installed")
        root = Path(list(spec.submodule_search_locations)[0]).resolve()
        path = (root / rel).resolve()
        if root not in path.parents:  # a symlink inside the package pointing out of it
            raise WeightsError(f"weights source {ref.source}: resolves outside package '{package}'; refusing it")
        return path
    if ref.source.startswith("file://"):
        return Path(unquote(urlparse(ref.source).path))
    return None


def fetch_weights(ref: WeightsRef) -> Path:
    """Return a local path to the weights of ``ref``, verified against its sha256."""
    path = local_path(ref)
    if path is None:
        from zoo_core.hub.download import download_weights  # imported here: huggingface_hub is slow to import

        path = download_weights(ref)
    if not path.is_file():
        raise WeightsError(f"weights file missing: {path} (from {ref.source}); reinstall zoo or re-pull the model")
    verify_sha256(path, ref.sha256)
    return path
