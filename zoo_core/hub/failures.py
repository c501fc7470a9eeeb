"""huggingface_hub's exceptions mapped to zoo errors, each with a one-line message a user can act on."""

from __future__ import annotations

import os
from typing import Any

from zoo_core.errors import (
    HubError,
    HubFileMissingError,
    HubOfflineError,
    HubRepoNotFoundError,
    HubRevisionNotFoundError,
    HubTokenError,
    ZooError,
)
from zoo_core.hub.refs import HubRef, endpoint, offline, token


def hf_errors() -> Any:
    try:
        from huggingface_hub import errors
    except ImportError:  # huggingface_hub < 0.24
        from huggingface_hub import utils as errors  # type: ignore[no-redef]  # the same names, older home
    return errors


_NETWORK_ERRORS = {"ConnectError", "ConnectTimeout", "ConnectionError", "Timeout", "ReadTimeout",
                   "TimeoutException", "NetworkError", "RemoteProtocolError", "ProxyError", "OfflineModeIsEnabled",
                   "ReadError", "WriteError", "PoolTimeout", "SSLError", "gaierror"}


def is_network_error(exc: BaseException) -> bool:
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


def http_status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def offline_error(ref: HubRef, what: str) -> HubOfflineError:
    if offline():
        return HubOfflineError(f"{ref}: {what} is not in the local cache and HF_HUB_OFFLINE=1 is set; "
                               f"unset HF_HUB_OFFLINE and run 'zoo pull {ref}' with network access")
    return HubOfflineError(f"{ref}: cannot reach {endpoint()} and {what} is not in the local cache; "
                           f"check the network (or HF_ENDPOINT), run 'zoo pull {ref}' while online, "
                           "and set HF_HUB_OFFLINE=1 to work from the cache only")


def token_error(ref: str, status: int | None, action: str) -> HubTokenError:
    has = "the token in HF_TOKEN" if os.environ.get("HF_TOKEN") else "your Hugging Face token"
    need = "write access to the repo" if action == "push" else "read access to the repo"
    return HubTokenError(f"{ref}: the Hub refused {has} ({status or 'gated repo'}) when trying to {action}; "
                         f"set HF_TOKEN to a token with {need} or run 'hf auth login'")


def translate(exc: BaseException, ref: HubRef, action: str = "download") -> ZooError:
    """Map a huggingface_hub / HTTP exception to one zoo error with a one-line message."""
    errors = hf_errors()
    if isinstance(exc, ZooError):
        return exc
    if isinstance(exc, getattr(errors, "GatedRepoError", ())):
        return token_error(str(ref), http_status(exc), action)
    if isinstance(exc, getattr(errors, "RevisionNotFoundError", ())):
        return HubRevisionNotFoundError(f"{ref}: repository '{ref.repo_id}' has no revision '{ref.revision}' "
                                        "(check the branch, tag or commit)")
    if isinstance(exc, getattr(errors, "RepositoryNotFoundError", ())):
        if ref.revision and action == "download" and _repo_exists(ref):
            return HubRevisionNotFoundError(f"{ref}: repository '{ref.repo_id}' has no revision '{ref.revision}' "
                                            "(check the branch, tag or commit)")
        hint = "" if token() else "; if it is private, set HF_TOKEN"
        return HubRepoNotFoundError(f"{ref}: repository '{ref.repo_id}' not found on {endpoint()}{hint}")
    if isinstance(exc, getattr(errors, "LocalEntryNotFoundError", ())):  # a subclass of EntryNotFoundError
        return offline_error(ref, "the model") if action == "download" else HubOfflineError(
            f"{ref}: cannot reach {endpoint()} to {action}; check the network (or HF_ENDPOINT) and try again")
    if isinstance(exc, getattr(errors, "EntryNotFoundError", ())):
        return HubFileMissingError(f"{ref}: a file is missing from the repository; "
                                   "a zoo model repo needs config.json and model.safetensors")
    if is_network_error(exc):
        if action != "download":
            return HubOfflineError(f"{ref}: cannot reach {endpoint()} to {action}; check the network "
                                   "(or HF_ENDPOINT) and try again")
        return offline_error(ref, "the model")
    if isinstance(exc, getattr(errors, "HfHubHTTPError", ())):
        status = http_status(exc)
        if status in (401, 403):
            return token_error(str(ref), status, action)
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
        HfApi(endpoint=endpoint(), token=token()).repo_info(ref.repo_id, repo_type="model", revision="main")
        return True
    except Exception:  # noqa: BLE001 - any failure means "cannot tell": report the repo as not found
        return False
