"""Resolving a catalog entry's weights source to a local, sha256-verified file."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from zoo_core.catalog import WeightsRef
from zoo_core.errors import WeightsError
from zoo_core.weights import verify_sha256


def local_path(ref: WeightsRef) -> Path | None:
    """The local file for ``ref`` if it needs no download (``pkg://``, ``file://``), else None."""
    if ref.source.startswith("pkg://"):
        package, _, rel = ref.source[len("pkg://"):].partition("/")
        from importlib.util import find_spec

        spec = find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise WeightsError(f"weights source {ref.source}: package '{package}' is not installed")
        return Path(list(spec.submodule_search_locations)[0]) / rel
    if ref.source.startswith("file://"):
        return Path(unquote(urlparse(ref.source).path))
    return None


def fetch_weights(ref: WeightsRef) -> Path:
    """Return a local path to the weights of ``ref``, verified against its sha256."""
    path = local_path(ref)
    if path is None:
        from zoo_core.hub import download_weights  # imported here: huggingface_hub is slow to import

        path = download_weights(ref)
    if not path.is_file():
        raise WeightsError(f"weights file missing: {path} (from {ref.source}); reinstall zoo or re-pull the model")
    verify_sha256(path, ref.sha256)
    return path
