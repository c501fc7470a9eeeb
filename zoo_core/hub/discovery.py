"""``zoo list --hub``: the zoo models on the Hub, found by their card's ``library_name``."""

from __future__ import annotations

import os
import re
from typing import Any, NamedTuple

from zoo_core.errors import HubError, HubOfflineError, ZooError
from zoo_core.hub.failures import hf_errors, http_status, is_network_error, token_error
from zoo_core.hub.refs import PREFIX, endpoint, offline, token

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

    api = HfApi(endpoint=endpoint(), token=token(), library_name="zoo")
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
    except Exception as exc:  # mapped to one ZooError
        if isinstance(exc, ZooError):
            raise
        if is_network_error(exc) or isinstance(exc, getattr(hf_errors(), "OfflineModeIsEnabled", ())):
            raise HubOfflineError(f"cannot reach {endpoint()} to list models (offline?); check the network "
                                  "(or HF_ENDPOINT); 'zoo list' shows the catalog without the Hub") from None
        status = http_status(exc)
        if status in (401, 403):
            raise token_error(endpoint(), status, "list models") from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HubError(f"listing models on {endpoint()} failed: {first}") from None
    out.sort(key=lambda m: (-(m.downloads or 0), m.repo_id))
    return out
