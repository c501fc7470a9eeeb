"""Hugging Face Hub support: pull, pin, verify and push zoo models (``hf://org/repo[@revision]``).

A zoo model directory (``config.json`` + ``model.safetensors``, see :meth:`ZooModel.save`) is a
plain Hub model repo; downloads go into the standard Hugging Face cache, so other Hugging Face
tools share them.

Pins: :func:`pull` records the commit a reference resolved to in zoo's own state file
(``$XDG_DATA_HOME/zoo/hub-pins.json``, default ``~/.local/share/zoo/hub-pins.json``). A reference
without ``@revision`` then means the pinned commit, like a lock file: it is reproducible, works
offline, and is resolved from the cache without any network call or import of huggingface_hub.
``zoo pull`` without a revision moves the pin to the newest commit of the default branch. The
pins live outside the Hugging Face cache on purpose: ``hf cache scan`` reports any foreign entry
in the cache as a corrupt repo, and a pin (which model a name means) is zoo's state, not cached
content; a pin whose files were deleted from the cache is reported by ``zoo cache list``.

Environment (read at call time, as huggingface_hub would read it at import time): ``HF_ENDPOINT``,
``HF_HOME``, ``HF_HUB_CACHE``, ``HF_HUB_OFFLINE``, ``HF_TOKEN``, ``XDG_CACHE_HOME``, ``XDG_DATA_HOME``.

huggingface_hub is imported inside functions only: it is slow to import (~0.2 s) and ``zoo list``
must stay under 0.3 s.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from zoo_core.errors import WeightsError, ZooError

if TYPE_CHECKING:  # pragma: no cover
    from zoo_core.catalog import WeightsRef

PREFIX = "hf://"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "README.md"
SAMPLE_FILE = "sample.png"
MODEL_FILES = (CONFIG_FILE, WEIGHTS_FILE, CARD_FILE)
REQUIRED_FILES = (CONFIG_FILE, WEIGHTS_FILE)
DEFAULT_ENDPOINT = "https://huggingface.co"
PINS_FILE = "hub-pins.json"

# The grammar of huggingface_hub's ``validate_repo_id`` (ASCII word characters, '-', '.'; 1-96
# each; no '--' or '..'; not ending in '.git'), restricted to ``org/repo``: checked here without
# importing huggingface_hub (slow), and by huggingface_hub itself before any download
# (:func:`_validate_with_hf`); a test checks that the two agree.
_REPO_PART = r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?"
_REPO_ID = re.compile(rf"^{_REPO_PART}/{_REPO_PART}$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# A branch, tag or commit: git ref-name rules, restricted to a safe character set. The revision
# becomes a path in the cache (``refs/<revision>``), so no component may be '.', '..' or hidden,
# and nothing may be absolute, empty or end in '.lock'.
_REVISION_PART = r"[A-Za-z0-9_+-][A-Za-z0-9_.+-]*"
_REVISION = re.compile(rf"^{_REVISION_PART}(?:/{_REVISION_PART})*$")


# -- errors ----------------------------------------------------------------------------------


class HubError(ZooError):
    """A Hugging Face Hub operation that failed for a reason the user can act on."""


class HubRefError(HubError, ValueError):
    """A malformed ``hf://org/repo[@revision]`` reference."""


class HubRepoNotFoundError(HubError):
    """The repository does not exist (or is private and the token cannot see it)."""


class HubRevisionNotFoundError(HubError):
    """The repository exists but has no such branch, tag or commit."""


class HubFileMissingError(HubError, WeightsError):
    """The repository lacks a file a zoo model needs (``config.json``, ``model.safetensors``)."""


class HubOfflineError(HubError):
    """The Hub cannot be reached (or ``HF_HUB_OFFLINE=1``) and the files are not cached."""


class HubTokenError(HubError):
    """The Hub refused the token (HTTP 401/403, gated repo)."""


class HubChecksumError(HubError, WeightsError):
    """Downloaded weights whose sha256 is not the expected one; the file was removed from the cache."""


# -- references and environment ---------------------------------------------------------------


class HubRef(NamedTuple):  # a NamedTuple, not a dataclass: cheaper to define at import time
    """A parsed ``hf://org/repo[@revision]``."""

    repo_id: str
    revision: str | None = None

    def __str__(self) -> str:
        return f"{PREFIX}{self.repo_id}" + (f"@{self.revision}" if self.revision else "")


def parse_ref(ref: str | HubRef) -> HubRef:
    """Parse ``hf://org/repo[@revision]`` (the ``hf://`` prefix is optional)."""
    if isinstance(ref, HubRef):
        return ref
    text = str(ref).strip()
    body = text[len(PREFIX):] if text.startswith(PREFIX) else text
    repo_id, at, revision = body.partition("@")
    repo_id = repo_id.rstrip("/")
    if not valid_repo_id(repo_id):
        raise HubRefError(f"'{_shown(text)}' is not a Hub reference: expected hf://org/repo or hf://org/repo@revision "
                          "(letters, digits, '-', '_', '.'; no '--' or '..')")
    if at and not valid_revision(revision):
        raise HubRefError(f"'{_shown(text)}': malformed revision after '@' (a branch, tag or commit: letters, digits, "
                          "'-', '_', '.', '+', '/'; no '..', no part starting with '.', not ending in '.lock')")
    return HubRef(repo_id, revision or None)


def valid_repo_id(repo_id: Any) -> bool:
    """Whether ``repo_id`` is ``org/repo`` in the Hub's grammar (huggingface_hub's ``validate_repo_id``)."""
    return (isinstance(repo_id, str) and bool(_REPO_ID.match(repo_id)) and "--" not in repo_id
            and ".." not in repo_id and not repo_id.endswith(".git"))


def valid_revision(revision: Any) -> bool:
    """Whether ``revision`` is a branch, tag or commit name that is safe to use as a path in the cache."""
    return (isinstance(revision, str) and 0 < len(revision) <= 200 and bool(_REVISION.match(revision))
            and ".." not in revision and not any(part.endswith(".lock") for part in revision.split("/")))


def _shown(text: str) -> str:
    """``text`` fit for a one-line message: control characters escaped, at most 200 characters."""
    text = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return text if len(text) <= 200 else text[:200] + "..."


def _validate_with_hf(ref: HubRef) -> None:
    """Let huggingface_hub's own validator check the repo id too (before any request or path)."""
    try:
        from huggingface_hub.utils import HFValidationError, validate_repo_id
    except ImportError:  # pragma: no cover - very old huggingface_hub
        return
    try:
        validate_repo_id(ref.repo_id)
    except HFValidationError as exc:
        raise HubRefError(f"'{ref}' is not a Hub reference: {str(exc).splitlines()[0]}") from None


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def endpoint() -> str:
    """The Hub URL: ``HF_ENDPOINT`` (read now, not at import time) or https://huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` forbids network access."""
    return _truthy(os.environ.get("HF_HUB_OFFLINE"))


def _token() -> str | None:
    return os.environ.get("HF_TOKEN") or None  # None: huggingface_hub falls back to its stored token


def cache_dir() -> Path:
    """The Hugging Face hub cache: ``HF_HUB_CACHE``, else ``HF_HOME/hub``, else ``~/.cache/huggingface/hub``."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME")
    if not home:
        home = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def state_dir() -> Path:
    """zoo's own data folder: ``$XDG_DATA_HOME/zoo`` (default ``~/.local/share/zoo``)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return Path(base) / "zoo"


def _repo_cache(repo_id: str) -> Path:
    return cache_dir() / ("models--" + repo_id.replace("/", "--"))


# -- pins ------------------------------------------------------------------------------------


def _pins_path() -> Path:
    return state_dir() / PINS_FILE


def read_pins() -> dict[str, dict]:
    """Every pin recorded by :func:`pull`: ``{repo_id: {"commit", "revision", "endpoint", "pulled_at"}}``."""
    from zoo_core.safeio import load_json

    try:
        data = load_json(_pins_path(), "zoo's pin file", HubError)
    except FileNotFoundError:
        return {}
    except HubError as exc:
        raise HubError(f"{exc}; delete it and pull again") from None
    pins = data.get("pins") if isinstance(data, dict) else None
    # a key becomes a path in the cache (and 'zoo cache clear' deletes it): only well-formed repo ids count
    return {k: v for k, v in pins.items() if valid_repo_id(k) and isinstance(v, dict)
            and _COMMIT.match(str(v.get("commit", "")))} if isinstance(pins, dict) else {}


def _update_pins(change: Any) -> None:
    """Apply ``change(pins)`` to the pin file under a lock (several ``zoo pull`` may run at once)."""
    from filelock import FileLock  # a dependency of huggingface_hub

    from zoo_core.weights import atomic_write_bytes

    path = _pins_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        pins = read_pins()
        change(pins)
        data = {"version": 1, "pins": dict(sorted(pins.items()))}
        atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode())


def pinned_commit(repo_id: str) -> str | None:
    """The commit :func:`pull` pinned for ``repo_id``, or None."""
    pin = read_pins().get(repo_id)
    return pin["commit"] if pin else None


# -- the cache, read without huggingface_hub ------------------------------------------------------


def _local_commit(ref: HubRef, use_pin: bool = True) -> str | None:
    """The commit ``ref`` means locally: a commit hash, the pin, or the cache's ``refs/<revision>``."""
    revision = ref.revision
    if revision and _COMMIT.match(revision):
        return revision
    if revision is None and use_pin:
        pin = pinned_commit(ref.repo_id)
        if pin:
            return pin
    from zoo_core.safeio import read_bytes

    try:
        commit = read_bytes(_repo_cache(ref.repo_id) / "refs" / (revision or "main"), 4096, "cache ref",
                            HubError).decode("ascii", "replace").strip()
    except (OSError, HubError):
        return None
    return commit if _COMMIT.match(commit) else None


def _cached_snapshot(ref: HubRef, files: tuple[str, ...] = REQUIRED_FILES) -> Path | None:
    """The cached snapshot folder of ``ref`` if it holds all ``files``, without network or imports.

    This follows the documented layout of the Hugging Face cache
    (``models--org--repo/{refs,snapshots,blobs}``), the same lookup as
    ``huggingface_hub.try_to_load_from_cache`` (a test checks that they agree).
    """
    commit = _local_commit(ref)
    if commit is None:
        return None
    folder = _repo_cache(ref.repo_id) / "snapshots" / commit
    return folder if all((folder / name).is_file() for name in files) else None


def cached_weights(ref: WeightsRef) -> Path | None:
    """The cached ``model.safetensors`` of a catalog ``hf://`` source, or None; never touches the network."""
    try:
        hub_ref = parse_ref(ref.source)
    except HubRefError:
        return None
    folder = _cached_snapshot(hub_ref, (WEIGHTS_FILE,))
    return folder / WEIGHTS_FILE if folder else None


# -- downloading -------------------------------------------------------------------------------


def _hf_errors() -> Any:
    try:
        from huggingface_hub import errors
    except ImportError:  # huggingface_hub < 0.24
        from huggingface_hub import utils as errors
    return errors


_NETWORK_ERRORS = {"ConnectError", "ConnectTimeout", "ConnectionError", "Timeout", "ReadTimeout",
                   "TimeoutException", "NetworkError", "RemoteProtocolError", "ProxyError", "OfflineModeIsEnabled",
                   "ReadError", "WriteError", "PoolTimeout", "SSLError", "gaierror"}


def _is_network_error(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if any(cls.__name__ in _NETWORK_ERRORS for cls in type(current).__mro__):
            return True
        if "ConnectError" in str(current) or "Connection refused" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _offline_error(ref: HubRef, what: str) -> HubOfflineError:
    if offline():
        return HubOfflineError(f"{ref}: {what} is not in the local cache and HF_HUB_OFFLINE=1 is set; "
                               f"unset HF_HUB_OFFLINE and run 'zoo pull {ref}' with network access")
    return HubOfflineError(f"{ref}: cannot reach {endpoint()} and {what} is not in the local cache; "
                           f"check the network (or HF_ENDPOINT), run 'zoo pull {ref}' while online, "
                           "and set HF_HUB_OFFLINE=1 to work from the cache only")


def _token_error(ref: str, status: int | None, action: str) -> HubTokenError:
    has = "the token in HF_TOKEN" if os.environ.get("HF_TOKEN") else "your Hugging Face token"
    need = "write access to the repo" if action == "push" else "read access to the repo"
    return HubTokenError(f"{ref}: the Hub refused {has} ({status or 'gated repo'}) when trying to {action}; "
                         f"set HF_TOKEN to a token with {need} or run 'hf auth login'")


def _translate(exc: BaseException, ref: HubRef, action: str = "download") -> ZooError:
    """Map a huggingface_hub / HTTP exception to one zoo error with a one-line message."""
    errors = _hf_errors()
    if isinstance(exc, ZooError):
        return exc
    if isinstance(exc, getattr(errors, "GatedRepoError", ())):
        return _token_error(str(ref), _status(exc), action)
    if isinstance(exc, getattr(errors, "RevisionNotFoundError", ())):
        return HubRevisionNotFoundError(f"{ref}: repository '{ref.repo_id}' has no revision '{ref.revision}' "
                                        "(check the branch, tag or commit)")
    if isinstance(exc, getattr(errors, "RepositoryNotFoundError", ())):
        if ref.revision and action == "download" and _repo_exists(ref):
            return HubRevisionNotFoundError(f"{ref}: repository '{ref.repo_id}' has no revision '{ref.revision}' "
                                            "(check the branch, tag or commit)")
        hint = "" if _token() else "; if it is private, set HF_TOKEN"
        return HubRepoNotFoundError(f"{ref}: repository '{ref.repo_id}' not found on {endpoint()}{hint}")
    if isinstance(exc, getattr(errors, "LocalEntryNotFoundError", ())):  # a subclass of EntryNotFoundError
        return _offline_error(ref, "the model") if action == "download" else HubOfflineError(
            f"{ref}: cannot reach {endpoint()} to {action}; check the network (or HF_ENDPOINT) and try again")
    if isinstance(exc, getattr(errors, "EntryNotFoundError", ())):
        return HubFileMissingError(f"{ref}: a file is missing from the repository; "
                                   "a zoo model repo needs config.json and model.safetensors")
    if _is_network_error(exc):
        if action != "download":
            return HubOfflineError(f"{ref}: cannot reach {endpoint()} to {action}; check the network "
                                   "(or HF_ENDPOINT) and try again")
        return _offline_error(ref, "the model")
    if isinstance(exc, getattr(errors, "HfHubHTTPError", ())):
        status = _status(exc)
        if status in (401, 403):
            return _token_error(str(ref), status, action)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return HubError(f"{ref}: the Hub answered {status}: {first}")
    if isinstance(exc, ValueError):  # e.g. metadata the Hub rejected, a malformed answer
        text = " ".join(str(exc).split())
        return HubError(f"{ref}: {text or type(exc).__name__}")
    if isinstance(exc, OSError):
        return HubError(f"{ref}: {type(exc).__name__}: {exc}".splitlines()[0])
    raise exc


def _repo_exists(ref: HubRef) -> bool:
    """Whether the repo answers at its default revision (tells a missing revision from a missing repo)."""
    from huggingface_hub import HfApi

    try:
        HfApi(endpoint=endpoint(), token=_token()).repo_info(ref.repo_id, repo_type="model", revision="main")
        return True
    except Exception:  # noqa: BLE001 - any failure means "cannot tell": report the repo as not found
        return False


def _snapshot_download(ref: HubRef, revision: str | None, files: tuple[str, ...], progress: bool,
                       shown: HubRef) -> Path:
    from huggingface_hub import snapshot_download  # slow import: only when downloading

    _validate_with_hf(ref)
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    kwargs: dict[str, Any] = dict(repo_id=ref.repo_id, repo_type="model", revision=revision,
                                  cache_dir=str(cache_dir()), allow_patterns=list(files), endpoint=endpoint(),
                                  token=_token(), local_files_only=offline(), library_name="zoo")
    silence = not progress and not are_progress_bars_disabled()
    if silence:
        disable_progress_bars()
    try:
        return Path(snapshot_download(**kwargs))
    except Exception as exc:  # noqa: BLE001 - mapped to one ZooError, or re-raised if unknown
        raise _translate(exc, shown) from None
    finally:
        if silence:
            enable_progress_bars()


def _complete(ref: HubRef, folder: Path, files: tuple[str, ...], shown: HubRef) -> None:
    """Raise a precise error for each required file missing from a downloaded snapshot."""
    missing = [name for name in files if name in REQUIRED_FILES and not (folder / name).is_file()]
    if not missing:
        return
    if offline():
        raise _offline_error(shown, missing[0])
    from huggingface_hub import hf_hub_download

    errors = _hf_errors()
    for name in missing:  # the listing did not have it: ask for it, to tell "missing" from "offline"
        try:
            hf_hub_download(ref.repo_id, name, revision=folder.name, cache_dir=str(cache_dir()),
                            endpoint=endpoint(), token=_token(), library_name="zoo")
        except Exception as exc:  # noqa: BLE001
            local = getattr(errors, "LocalEntryNotFoundError", ())
            if not isinstance(exc, local) and isinstance(
                    exc, (getattr(errors, "EntryNotFoundError", ()), getattr(errors, "RepositoryNotFoundError", ()))):
                # the snapshot listing worked, so the repo and revision exist: the file is missing
                raise HubFileMissingError(f"{shown}: the repository has no {name} (commit {folder.name[:12]}); "
                                          "a zoo model repo needs config.json and model.safetensors "
                                          "(publish one with 'zoo push')") from None
            raise _translate(exc, shown) from None


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
    if not (revision and _COMMIT.match(revision)):
        # zoo asks which commit the branch or tag is and checks the answer's grammar itself, so that
        # huggingface_hub only ever sees a 40-hex commit (it would use the server's answer as a path)
        named = HubRef(ref.repo_id, revision)
        revision = _resolve(named)
    else:
        named = None
    folder = _repo_cache(ref.repo_id) / "snapshots" / revision
    if not all((folder / f).is_file() for f in files if f in REQUIRED_FILES):  # a commit is immutable
        folder = _snapshot_download(ref, revision, files, progress, shown)
        _complete(ref, folder, files, shown)
    if named is not None:
        _record_ref(named, revision)
    return folder


def _remove_cached_file(path: Path) -> None:
    """Delete a snapshot file and the blob it points to, so that a later pull downloads it again."""
    try:
        blob = path.resolve()
    except OSError:
        blob = path
    for item in {path, blob}:
        try:
            item.unlink()
        except FileNotFoundError:
            pass


def _verify(path: Path, expected: str | None, ref: HubRef, where: str) -> str:
    """Check the sha256 of ``path``; on mismatch delete it from the cache and raise."""
    from zoo_core.weights import sha256_file

    try:
        actual = sha256_file(path)
    except OSError as exc:  # e.g. removed by a concurrent pull that found it corrupt
        raise HubError(f"{ref}: cannot read {path.name} in the cache ({exc.strerror}); run 'zoo pull {ref}'") from None
    if expected and actual != expected:
        _remove_cached_file(path)
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
    if pin and pin.get("commit") == folder.name and _SHA256.match(str(pin.get("weights_sha256", ""))):
        return pin["weights_sha256"], "zoo's pin, recorded when it was pulled"
    from zoo_core.safeio import load_json

    try:
        meta = load_json(folder / CONFIG_FILE, "config.json", HubError)
    except FileNotFoundError:
        return None, ""
    sha = meta.get("weights_sha256") if isinstance(meta, dict) else None
    if sha is None:
        return None, ""
    if not isinstance(sha, str) or not _SHA256.match(sha):
        raise HubChecksumError(f"{ref}: config.json has a malformed weights_sha256 ({_shown(repr(sha))}); "
                               "expected 64 lowercase hex characters")
    return sha, "config.json"


# -- public API --------------------------------------------------------------------------------


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


def _resolve(ref: HubRef) -> str:
    """The commit ``ref``'s revision is now on the Hub; the cached one when offline or unreachable."""
    if ref.revision and _COMMIT.match(ref.revision):
        return ref.revision
    if offline():
        commit = _local_commit(ref, use_pin=False) or (pinned_commit(ref.repo_id) if ref.revision is None else None)
        if commit is None:
            raise _offline_error(ref, "the model")
        return commit
    commit = _quick_commit(ref)
    if commit and all((_repo_cache(ref.repo_id) / "snapshots" / commit / f).is_file() for f in REQUIRED_FILES):
        return commit  # already cached: no need to import huggingface_hub at all
    from huggingface_hub import HfApi

    _validate_with_hf(ref)

    try:
        info = HfApi(endpoint=endpoint(), token=_token(), library_name="zoo").model_info(
            ref.repo_id, revision=ref.revision or "main")
    except Exception as exc:  # noqa: BLE001 - mapped to one ZooError
        error = _translate(exc, ref)
    else:
        if not isinstance(info.sha, str) or not _COMMIT.match(info.sha):  # it becomes a path in the cache
            raise HubError(f"{ref}: {endpoint()} answered a malformed commit id ({_shown(repr(info.sha))}); "
                           "is HF_ENDPOINT a Hugging Face Hub?")
        return info.sha
    commit = _local_commit(ref, use_pin=False) if isinstance(error, HubOfflineError) else None
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
    token = _token()
    if token:
        headers["Authorization"] = f"Bearer {token}"
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
    return sha if isinstance(sha, str) and _COMMIT.match(sha) else None


def _record_ref(ref: HubRef, commit: str) -> None:
    """Write ``refs/<revision>`` in the cache as huggingface_hub does, so offline lookups by name work."""
    if ref.revision and _COMMIT.match(ref.revision):
        return
    path = _repo_cache(ref.repo_id) / "refs" / (ref.revision or "main")
    try:
        if path.is_file() and path.read_text().strip() == commit:
            return
        from zoo_core.weights import atomic_write_bytes

        atomic_write_bytes(path, commit.encode())
    except OSError:
        pass  # a read-only cache still works through the pin


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
    _record_ref(hub_ref, commit)
    pin = {"commit": commit, "revision": hub_ref.revision, "endpoint": endpoint(), "weights_sha256": sha}
    old = read_pins().get(hub_ref.repo_id, {})
    if any(old.get(key) != value for key, value in pin.items()):  # unchanged: no lock, no write
        from datetime import datetime, timezone

        pin["pulled_at"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        _update_pins(lambda pins: pins.__setitem__(hub_ref.repo_id, pin))
    return folder, commit


class CachedModel(NamedTuple):
    """One model zoo pulled, as ``zoo cache list`` shows it."""

    repo_id: str
    commit: str
    revision: str | None
    path: Path
    present: bool
    size: int
    pulled_at: str = ""  # when the pin last changed

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return {"ref": f"{PREFIX}{self.repo_id}", "revision": self.revision, "commit": self.commit,
                "path": str(self.path), "present": self.present, "size": self.size, "pulled_at": self.pulled_at}


def cached_models() -> list[CachedModel]:
    """Every pinned model and whether its files are still in the cache; no network, no huggingface_hub."""
    out = []
    for repo_id, pin in sorted(read_pins().items()):
        folder = _repo_cache(repo_id) / "snapshots" / pin["commit"]
        present = all((folder / name).is_file() for name in REQUIRED_FILES)
        size = sum((folder / name).stat().st_size for name in MODEL_FILES if (folder / name).is_file())
        out.append(CachedModel(repo_id, pin["commit"], pin.get("revision"), folder, present, size,
                               pin.get("pulled_at", "")))
    return out


def clear(ref: str | HubRef | None = None) -> list[str]:
    """Forget the pin(s) and delete the pinned revision(s) from the cache; return the refs cleared.

    With ``ref``, only that repo; without, everything zoo pulled. Blobs shared with revisions that
    stay are kept (huggingface_hub's cache API decides).
    """
    pins = read_pins()
    if ref is not None:
        repo_id = parse_ref(ref).repo_id
        if repo_id not in pins:
            raise HubError(f"{PREFIX}{repo_id} was not pulled by zoo (see 'zoo cache list')")
        chosen = {repo_id: pins[repo_id]}
    else:
        chosen = pins
    if not chosen:
        return []
    commits = {pin["commit"] for pin in chosen.values()}
    root = cache_dir()
    if root.is_dir():
        from huggingface_hub import scan_cache_dir

        info = scan_cache_dir(root)
        present = {rev.commit_hash for repo in info.repos if repo.repo_id in chosen for rev in repo.revisions}
        if present & commits:
            info.delete_revisions(*sorted(present & commits)).execute()
    for repo_id in chosen:  # drop a repo folder that the deletion left without any snapshot
        folder = _repo_cache(repo_id)
        snaps = folder / "snapshots"
        if folder.is_dir() and (not snaps.is_dir() or not any(snaps.iterdir())):
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
    _update_pins(lambda p: [p.pop(r, None) for r in chosen])
    return [f"{PREFIX}{r}" for r in sorted(chosen)]


# -- pushing -----------------------------------------------------------------------------------


def model_card(meta: dict, repo_id: str, has_sample: bool = True, run: dict | None = None,
               evals: dict | None = None) -> str:
    """The ``README.md`` of a pushed model, built by huggingface_hub's ModelCard (see :mod:`zoo_core.cards`)."""
    from zoo_core.cards import GALLERY_SEEDS, build_card, eval_figures

    figures = eval_figures(meta, run, live=evals)
    return str(build_card(meta, repo_id, run=run, evals=figures, gallery=GALLERY_SEEDS if has_sample else ()))


def _stage(directory: Path, repo_id: str, folder: Path, evaluate: bool = False) -> Any:
    """Write the files to publish into ``folder``: config, weights, card and sample grids; return the card."""
    import shutil

    from zoo_core.api import load_directory
    from zoo_core.cards import GALLERY_SEEDS, build_card, eval_figures, gallery_file, read_eval, read_run
    from zoo_core.images import save_images
    from zoo_core.files import read_saved_config

    meta = read_saved_config(directory)
    if not (directory / WEIGHTS_FILE).is_file():
        raise HubFileMissingError(f"{directory} has no {WEIGHTS_FILE}; save the model first (ZooModel.save)")
    run = read_run(directory)
    model = load_directory(directory)  # also verifies the weights' sha256
    for seed in GALLERY_SEEDS:
        save_images(model.sample(16, seed=seed), folder / gallery_file(seed))
    live = model.evaluate(seed=0) if evaluate else None
    figures = eval_figures(meta, run, saved=read_eval(directory), live=live)
    card = build_card(meta, repo_id, run=run, evals=figures, gallery=GALLERY_SEEDS)
    shutil.copyfile(directory / CONFIG_FILE, folder / CONFIG_FILE)
    shutil.copyfile(directory / WEIGHTS_FILE, folder / WEIGHTS_FILE)
    (folder / CARD_FILE).write_text(str(card), encoding="utf-8")
    return card


def push(directory: str | Path, repo_id: str, private: bool = False, revision: str | None = None,
         message: str | None = None, evaluate: bool = False) -> str:
    """Publish a saved model directory to the Hub; return the commit URL.

    Uploads ``config.json``, ``model.safetensors``, a generated ``README.md`` model card (see
    :mod:`zoo_core.cards`: eval results, datasets, base model and recipe from the folder's
    ``run.json`` and ``eval.json``; ``evaluate`` runs the model's evaluation now), and sample grids
    of several seeds (``sample.png``, ``samples/seed-N.png``). Creates the repo (and the branch
    ``revision``) when missing.
    """
    ref = parse_ref(repo_id)
    if ref.revision:
        raise HubRefError(f"'{repo_id}': give the branch with --revision, not '@'")
    if revision is not None and not valid_revision(revision):
        raise HubRefError(f"--revision {_shown(repr(revision))}: not a valid branch name (letters, digits, '-', '_', "
                          "'.', '+', '/'; no '..', no part starting with '.')")
    if offline():
        raise HubOfflineError(f"cannot push {ref} with HF_HUB_OFFLINE=1 set; unset it and try again")
    directory = Path(directory)
    from huggingface_hub import HfApi

    api = HfApi(endpoint=endpoint(), token=_token(), library_name="zoo")
    import tempfile

    with tempfile.TemporaryDirectory(prefix="zoo-push-") as tmp:
        card = _stage(directory, ref.repo_id, Path(tmp), evaluate=evaluate)
        shown = HubRef(ref.repo_id, revision)
        try:
            from zoo_core.cards import validate_on_hub

            validate_on_hub(card, endpoint(), _token())
        except ValueError as exc:
            raise HubError(f"{shown}: the Hub rejected the model card's metadata: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - mapped to one ZooError
            raise _translate(exc, shown, action="push") from None
        try:
            api.create_repo(ref.repo_id, repo_type="model", private=private, exist_ok=True)
            if revision:
                api.create_branch(ref.repo_id, branch=revision, repo_type="model", exist_ok=True)
            info = api.upload_folder(repo_id=ref.repo_id, folder_path=tmp, repo_type="model", revision=revision,
                                     commit_message=message or f"zoo push {directory.name}",
                                     allow_patterns=[CONFIG_FILE, WEIGHTS_FILE, CARD_FILE, SAMPLE_FILE,
                                                     "samples/*.png"])
        except Exception as exc:  # noqa: BLE001 - mapped to one ZooError
            raise _translate(exc, shown, action="push") from None
    return str(getattr(info, "commit_url", info))



# -- discovery -----------------------------------------------------------------------------------

LIBRARY = "zoo"  # the card's library_name, which the Hub also lists among a model's tags


class HubModel(NamedTuple):
    """A zoo model on the Hub, as ``zoo list --hub`` shows it."""

    repo_id: str
    family: str | None
    downloads: int | None
    last_modified: str | None  # ISO 8601, UTC
    tags: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return {"ref": f"{PREFIX}{self.repo_id}", "repo_id": self.repo_id, "family": self.family,
                "downloads": self.downloads, "last_modified": self.last_modified, "tags": list(self.tags)}


def _search_term(pattern: str) -> str | None:
    """The longest literal run of an fnmatch pattern: what the Hub's substring ``search`` can use."""
    parts = [p for p in re.split(r"[*?]|\[[^\]]*\]", pattern) if p]
    return max(parts, key=len) if parts else None


def _family_of(info: Any) -> str | None:
    card = getattr(info, "card_data", None) or getattr(info, "cardData", None)
    family = card.get("family") if card is not None else None
    return str(family) if family else None


def _probe_endpoint(timeout: float = 5.0) -> None:
    """Fail at once, in one line, when nothing listens at ``HF_ENDPOINT``.

    huggingface_hub's listing retries a refused connection with backoff for ~30 s, printing a
    warning per try; one TCP connect tells "offline" apart first. Skipped behind a proxy.
    """
    import socket
    import urllib.parse

    url = urllib.parse.urlsplit(endpoint())
    proxies = ("ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")
    if not url.hostname or any(os.environ.get(v) for v in proxies):
        return
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=timeout).close()
    except OSError as exc:
        raise HubOfflineError(f"cannot reach {endpoint()} to list models ({exc.strerror or exc}); check the network "
                              "(or HF_ENDPOINT); 'zoo list' shows the catalog without the Hub") from None


def list_hub_models(pattern: str | None = None, limit: int | None = None) -> list[HubModel]:
    """Models on the Hub whose card says ``library_name: zoo``, most downloaded first.

    Asks ``HfApi.list_models`` (at ``HF_ENDPOINT``) for models tagged with the library ``zoo``,
    with their card data, downloads and last change; ``pattern`` (fnmatch, on ``org/name`` or
    ``name``) is narrowed on the Hub by its longest literal part and matched exactly here.
    Offline (``HF_HUB_OFFLINE=1`` or no network) raises :class:`HubOfflineError`.
    """
    import fnmatch

    if offline():
        raise HubOfflineError("cannot list models on the Hub: HF_HUB_OFFLINE=1 is set ('zoo list' shows the catalog, "
                              "'zoo cache list' what you pulled)")
    _probe_endpoint()
    from huggingface_hub import HfApi

    api = HfApi(endpoint=endpoint(), token=_token(), library_name="zoo")
    search = _search_term(pattern) if pattern else None
    out = []
    try:
        infos = api.list_models(filter=LIBRARY, search=search, sort="downloads",
                                expand=["cardData", "downloads", "lastModified", "library_name", "tags"])
        for info in infos:
            if getattr(info, "library_name", None) not in (None, LIBRARY):
                continue
            repo_id = str(info.id)
            if pattern and not (fnmatch.fnmatchcase(repo_id, pattern)
                                or fnmatch.fnmatchcase(repo_id.split("/")[-1], pattern)):
                continue
            changed = getattr(info, "last_modified", None)
            stamp = changed.strftime("%Y-%m-%dT%H:%M:%SZ") if changed is not None else None
            out.append(HubModel(repo_id, _family_of(info), getattr(info, "downloads", None), stamp,
                                tuple(getattr(info, "tags", None) or ())))
            if limit is not None and len(out) >= limit:
                break
    except Exception as exc:  # noqa: BLE001 - mapped to one ZooError
        if isinstance(exc, ZooError):
            raise
        if _is_network_error(exc) or isinstance(exc, getattr(_hf_errors(), "OfflineModeIsEnabled", ())):
            raise HubOfflineError(f"cannot reach {endpoint()} to list models (offline?); check the network "
                                  "(or HF_ENDPOINT); 'zoo list' shows the catalog without the Hub") from None
        status = _status(exc)
        if status in (401, 403):
            raise _token_error(endpoint(), status, "list models") from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HubError(f"listing models on {endpoint()} failed: {first}") from None
    out.sort(key=lambda m: (-(m.downloads or 0), m.repo_id))
    return out
