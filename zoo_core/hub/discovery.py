"""``zoo list --hub``: the zoo models on the Hub, found by their card's ``library_name``."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from zoo_core.errors import HubError, HubOfflineError
from zoo_core.hub.failures import token_error
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


def _family_of(info: dict) -> str | None:
    card = info.get("cardData")
    family = card.get("family") if isinstance(card, dict) else None
    return str(family)[:100] if family else None


def _stamp(text: Any) -> str | None:
    """An ISO 8601 time as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC), or None when it is not one."""
    from datetime import datetime, timezone

    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def list_hub_models(pattern: str | None = None, limit: int | None = None) -> list[HubModel]:
    """Models on the Hub whose card says ``library_name: zoo``, most downloaded first.

    Reads the Hub's listing (``GET /api/models`` at ``HF_ENDPOINT``, what ``HfApi.list_models``
    asks) for models tagged with the library ``zoo``, with their card data, downloads and last
    change, within :mod:`zoo_core.hub.netread`'s deadline and size limit and without retries;
    ``pattern`` (fnmatch, on ``org/name`` or ``name``) is narrowed on the Hub by its longest literal part
    and matched exactly here.
    Offline (``HF_HUB_OFFLINE=1`` or no network) raises :class:`HubOfflineError`.
    """
    import fnmatch

    if offline():
        raise HubOfflineError("cannot list models on the Hub: HF_HUB_OFFLINE=1 is set ('zoo list' shows the catalog, "
                              "'zoo cache list' what you pulled)")
    import urllib.parse

    from zoo_core import __version__
    from zoo_core.hub.netread import get_json

    params = [("filter", LIBRARY), ("sort", "downloads"), ("direction", "-1")]
    search = _search_term(pattern) if pattern else None
    if search:
        params.append(("search", search))
    params += [("expand", key) for key in ("cardData", "downloads", "lastModified", "library_name", "tags")]
    headers = {"User-Agent": f"zoo/{__version__}", "Accept": "application/json"}
    if token():
        headers["Authorization"] = f"Bearer {token()}"
    url = f"{endpoint()}/api/models?{urllib.parse.urlencode(params)}"
    try:
        infos = get_json(url, headers, what="list models")
    except HubError as exc:
        status = getattr(exc, "status", None)
        if status in (401, 403):
            raise token_error(endpoint(), status, "list models") from None
        raise
    out = []
    for info in infos:
        if not isinstance(info, dict) or not isinstance(info.get("id"), str):
            continue
        if info.get("library_name") not in (None, LIBRARY):
            continue
        repo_id = info["id"]
        if pattern and not (fnmatch.fnmatchcase(repo_id, pattern)
                            or fnmatch.fnmatchcase(repo_id.split("/")[-1], pattern)):
            continue
        downloads = info.get("downloads")
        tags = info.get("tags")
        out.append(HubModel(repo_id, _family_of(info), downloads if type(downloads) is int else None,
                            _stamp(info.get("lastModified")),
                            tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else ()))
        if limit is not None and len(out) >= limit:
            break
    out.sort(key=lambda m: (-(m.downloads or 0), m.repo_id))
    return out
