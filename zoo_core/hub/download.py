"""Downloading zoo models from the Hub into the Hugging Face cache, verified by sha256, and pinning them."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo_core.errors import HubChecksumError, HubError, HubFileMissingError, HubOfflineError, HubRefError
from zoo_core.hub.cache import local_commit, pinned_commit, read_pins, record_ref, remove_cached_file, update_pins
from zoo_core.hub.failures import hf_errors, offline_error, translate
from zoo_core.hub.refs import (
    COMMIT,
    PREFIX,
    SHA256,
    HubRef,
    cache_dir,
    endpoint,
    offline,
    parse_ref,
    repo_cache,
    shown,
    token,
    validate_with_hf,
)
from zoo_core.io.files import CONFIG_FILE, MODEL_FILES, REQUIRED_FILES, WEIGHTS_FILE

if TYPE_CHECKING:  # pragma: no cover
    from zoo_core.catalog import WeightsRef


def snapshot(ref: str | HubRef) -> Path:
    """A local folder with ``config.json``, ``model.safetensors`` (and ``README.md``) of ``ref``.

    ``hf://org/repo`` means the commit pinned by :func:`pull` when there is one (no network),
    else the default branch. Downloaded weights are checked against their sha256.
    """
    hub_ref = parse_ref(ref)
    folder = _fetch(hub_ref, MODEL_FILES)
    expected, where = _expected_sha(hub_ref, folder)
    _verify(folder / WEIGHTS_FILE, expected, hub_ref, where)
    return folder


def download_weights(ref: WeightsRef) -> Path:
    """The local ``model.safetensors`` of a catalog ``hf://`` weights source, verified against its sha256."""
    hub_ref = parse_ref(ref.source)
    folder = _fetch(hub_ref, (WEIGHTS_FILE,))
    path = folder / WEIGHTS_FILE
    _verify(path, ref.sha256, hub_ref, "catalog")
    return path


def pull(ref: str | HubRef, progress: bool = True) -> tuple[Path, str]:
    """Download ``ref`` into the Hugging Face cache, verify it, pin its commit; return ``(folder, commit)``.

    Asks the Hub which commit the revision (default: the main branch) is now; offline
    (``HF_HUB_OFFLINE=1`` or no network) it pins the cached commit of that revision instead.
    """
    hub_ref = parse_ref(ref)
    commit = _resolve(hub_ref)
    folder = _fetch(hub_ref, MODEL_FILES, progress=progress, use_pin=False, revision=commit)
    expected, where = _expected_sha(hub_ref, folder)
    if expected is None:
        raise HubChecksumError(f"{hub_ref}: config.json records no weights_sha256, so the weights cannot be "
                               "checked; is this a zoo model repo (published with 'zoo push')?")
    sha = _verify(folder / WEIGHTS_FILE, expected, hub_ref, where)
    record_ref(hub_ref, commit)
    pin = {"commit": commit, "revision": hub_ref.revision, "endpoint": endpoint(), "weights_sha256": sha}
    old = read_pins().get(hub_ref.repo_id, {})
    if any(old.get(key) != value for key, value in pin.items()):  # unchanged: no lock, no write
        from datetime import datetime, timezone

        pin["pulled_at"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        update_pins(lambda pins: pins.__setitem__(hub_ref.repo_id, pin))
    return folder, commit


def _resolve(ref: HubRef) -> str:
    """The commit ``ref``'s revision is now on the Hub; the cached one when offline or unreachable."""
    if ref.revision and COMMIT.match(ref.revision):
        return ref.revision
    if offline():
        commit = local_commit(ref, use_pin=False) or (pinned_commit(ref.repo_id) if ref.revision is None else None)
        if commit is None:
            raise offline_error(ref, "the model")
        return commit
    commit = _quick_commit(ref)
    if commit and all((repo_cache(ref.repo_id) / "snapshots" / commit / f).is_file() for f in REQUIRED_FILES):
        return commit  # already cached: no need to import huggingface_hub at all
    from huggingface_hub import HfApi

    validate_with_hf(ref)

    try:
        info = HfApi(endpoint=endpoint(), token=token(), library_name="zoo").model_info(
            ref.repo_id, revision=ref.revision or "main")
    except Exception as exc:  # noqa: BLE001 - mapped to one ZooError
        error = translate(exc, ref)
    else:
        if not isinstance(info.sha, str) or not COMMIT.match(info.sha):  # it becomes a path in the cache
            raise HubError(f"{ref}: {endpoint()} answered a malformed commit id ({shown(repr(info.sha))}); "
                           "is HF_ENDPOINT a Hugging Face Hub?")
        return info.sha
    commit = local_commit(ref, use_pin=False) if isinstance(error, HubOfflineError) else None
    if commit is None:
        raise error
    sys.stderr.write(f"zoo: warning: cannot reach {endpoint()}; using the cached commit {commit[:12]} of {ref}\n")
    return commit


def _quick_commit(ref: HubRef) -> str | None:
    """The commit of ``ref``'s revision from one plain HTTP request, or None on any problem.

    A fast path for re-pulling a cached model without importing huggingface_hub (~0.2-0.4 s);
    every failure (auth, proxies, certificates, odd answers) falls back to huggingface_hub, which
    then reports the error precisely.
    """
    import http.client  # lighter than urllib.request
    import urllib.parse

    from zoo_core import __version__

    url = urllib.parse.urlsplit(endpoint())
    revision = urllib.parse.quote(ref.revision or "main", safe="")
    headers = {"User-Agent": f"zoo/{__version__}"}
    secret = token()
    if secret:
        headers["Authorization"] = f"Bearer {secret}"
    proxies = ("ALL_PROXY", "all_proxy") + (("HTTPS_PROXY", "https_proxy") if url.scheme == "https"
                                             else ("HTTP_PROXY", "http_proxy"))
    if url.scheme not in ("http", "https") or not url.hostname or any(os.environ.get(v) for v in proxies):
        return None  # proxies and odd endpoints: leave them to huggingface_hub
    cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    try:
        conn = cls(url.hostname, url.port, timeout=10)
        try:
            conn.request("GET", f"{url.path.rstrip('/')}/api/models/{ref.repo_id}/revision/{revision}",
                         headers=headers)
            response = conn.getresponse()
            if response.status != 200:
                return None
            sha = json.loads(response.read(4 << 20)).get("sha")
        finally:
            conn.close()
    except Exception:  # noqa: BLE001 - any problem: let huggingface_hub try and explain
        return None
    return sha if isinstance(sha, str) and COMMIT.match(sha) else None


def _fetch(ref: HubRef, files: tuple[str, ...], *, progress: bool = True, use_pin: bool = True,
           revision: str | None = None) -> Path:
    """The snapshot folder of ``ref`` holding ``files``: from the cache for a (pinned) commit, else downloaded.

    ``revision`` (e.g. a commit resolved by :func:`pull`) replaces ``ref``'s own for the download;
    messages still name ``ref``.
    """
    revision = revision or ref.revision
    if revision is None and use_pin:
        revision = pinned_commit(ref.repo_id)
    shown = ref if ref.revision or not revision else HubRef(ref.repo_id, revision)
    if not (revision and COMMIT.match(revision)):
        # zoo asks which commit the branch or tag is and checks the answer's grammar itself, so that
        # huggingface_hub only ever sees a 40-hex commit (it would use the server's answer as a path)
        named = HubRef(ref.repo_id, revision)
        revision = _resolve(named)
    else:
        named = None
    folder = repo_cache(ref.repo_id) / "snapshots" / revision
    if not all((folder / f).is_file() for f in files if f in REQUIRED_FILES):  # a commit is immutable
        folder = _snapshot_download(ref, revision, files, progress, shown)
        _complete(ref, folder, files, shown)
    if named is not None:
        record_ref(named, revision)
    return folder


def _snapshot_download(ref: HubRef, revision: str | None, files: tuple[str, ...], progress: bool,
                       shown: HubRef) -> Path:
    from huggingface_hub import snapshot_download  # slow import: only when downloading

    validate_with_hf(ref)
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    kwargs: dict[str, Any] = dict(repo_id=ref.repo_id, repo_type="model", revision=revision,
                                  cache_dir=str(cache_dir()), allow_patterns=list(files), endpoint=endpoint(),
                                  token=token(), local_files_only=offline(), library_name="zoo")
    silence = not progress and not are_progress_bars_disabled()
    if silence:
        disable_progress_bars()
    try:
        return Path(snapshot_download(**kwargs))
    except Exception as exc:  # noqa: BLE001 - mapped to one ZooError, or re-raised if unknown
        raise translate(exc, shown) from None
    finally:
        if silence:
            enable_progress_bars()


def _complete(ref: HubRef, folder: Path, files: tuple[str, ...], shown: HubRef) -> None:
    """Raise a precise error for each required file missing from a downloaded snapshot."""
    missing = [name for name in files if name in REQUIRED_FILES and not (folder / name).is_file()]
    if not missing:
        return
    if offline():
        raise offline_error(shown, missing[0])
    from huggingface_hub import hf_hub_download

    errors = hf_errors()
    for name in missing:  # the listing did not have it: ask for it, to tell "missing" from "offline"
        try:
            hf_hub_download(ref.repo_id, name, revision=folder.name, cache_dir=str(cache_dir()),
                            endpoint=endpoint(), token=token(), library_name="zoo")
        except Exception as exc:  # noqa: BLE001 - sorted below by huggingface_hub error class, then translated
            local = getattr(errors, "LocalEntryNotFoundError", ())
            if not isinstance(exc, local) and isinstance(
                    exc, (getattr(errors, "EntryNotFoundError", ()), getattr(errors, "RepositoryNotFoundError", ()))):
                # the snapshot listing worked, so the repo and revision exist: the file is missing
                raise HubFileMissingError(f"{shown}: the repository has no {name} (commit {folder.name[:12]}); "
                                          "a zoo model repo needs config.json and model.safetensors "
                                          "(publish one with 'zoo push')") from None
            raise translate(exc, shown) from None


def _verify(path: Path, expected: str | None, ref: HubRef, where: str) -> str:
    """Check the sha256 of ``path``; on mismatch delete it from the cache and raise."""
    from zoo_core.io.weights import sha256_file

    try:
        actual = sha256_file(path)
    except OSError as exc:  # e.g. removed by a concurrent pull that found it corrupt
        raise HubError(f"{ref}: cannot read {path.name} in the cache ({exc.strerror}); run 'zoo pull {ref}'") from None
    if expected and actual != expected:
        remove_cached_file(path)
        raise HubChecksumError(f"{ref}: sha256 mismatch for {path.name}: expected {expected[:12]}... ({where}), "
                               f"got {actual[:12]}...; the file was removed from the cache and not used")
    return actual


def _expected_sha(ref: HubRef, folder: Path) -> tuple[str | None, str]:
    """The sha256 the weights must have: from a catalog entry with this source, else config.json."""
    try:
        from zoo_core.plugins import get_registry

        for entry in get_registry().models.values():
            if entry.weights is None or not entry.weights.source.startswith(PREFIX):
                continue
            other = parse_ref(entry.weights.source)
            if other.repo_id == ref.repo_id and other.revision in (ref.revision, folder.name):
                return entry.weights.sha256, f"catalog entry '{entry.name}'"
    except HubRefError:
        pass
    pin = read_pins().get(ref.repo_id)
    if pin and pin.get("commit") == folder.name and SHA256.match(str(pin.get("weights_sha256", ""))):
        return pin["weights_sha256"], "zoo's pin, recorded when it was pulled"
    from zoo_core.io.safeio import load_json

    try:
        meta = load_json(folder / CONFIG_FILE, "config.json", HubError)
    except FileNotFoundError:
        return None, ""
    sha = meta.get("weights_sha256") if isinstance(meta, dict) else None
    if sha is None:
        return None, ""
    if not isinstance(sha, str) or not SHA256.match(sha):
        raise HubChecksumError(f"{ref}: config.json has a malformed weights_sha256 ({shown(repr(sha))}); "
                               "expected 64 lowercase hex characters")
    return sha, "config.json"
