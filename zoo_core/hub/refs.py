"""Hub references (``hf://org/repo[@revision]``) and the environment huggingface_hub reads.

Environment (read at call time, as huggingface_hub would read it at import time): ``HF_ENDPOINT``,
``HF_HOME``, ``HF_HUB_CACHE``, ``HF_HUB_OFFLINE``, ``HF_TOKEN``, ``XDG_CACHE_HOME``, ``XDG_DATA_HOME``.
Standard library only at import time.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, NamedTuple

from zoo_core.errors import HubRefError

PREFIX = "hf://"


DEFAULT_ENDPOINT = "https://huggingface.co"


# The grammar of huggingface_hub's ``validate_repo_id`` (ASCII word characters, '-', '.'; 1-96
# each; no '--' or '..'; not ending in '.git'), restricted to ``org/repo``: checked here without
# importing huggingface_hub (slow), and by huggingface_hub itself before any download
# (:func:`validate_with_hf`); a test checks that the two agree.
_REPO_PART = r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?"


_REPO_ID = re.compile(rf"^{_REPO_PART}/{_REPO_PART}$")


COMMIT = re.compile(r"^[0-9a-f]{40}$")


SHA256 = re.compile(r"^[0-9a-f]{64}$")


# A branch, tag or commit: git ref-name rules, restricted to a safe character set. The revision
# becomes a path in the cache (``refs/<revision>``), so no component may be '.', '..' or hidden,
# and nothing may be absolute, empty or end in '.lock'.
_REVISION_PART = r"[A-Za-z0-9_+-][A-Za-z0-9_.+-]*"


_REVISION = re.compile(rf"^{_REVISION_PART}(?:/{_REVISION_PART})*$")


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
        raise HubRefError(f"'{shown(text)}' is not a Hub reference: expected hf://org/repo or hf://org/repo@revision "
                          "(letters, digits, '-', '_', '.'; no '--' or '..')")
    if at and not valid_revision(revision):
        raise HubRefError(f"'{shown(text)}': malformed revision after '@' (a branch, tag or commit: letters, digits, "
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


def shown(text: str) -> str:
    """``text`` fit for a one-line message: control characters escaped, at most 200 characters."""
    text = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return text if len(text) <= 200 else text[:200] + "..."


def validate_with_hf(ref: HubRef) -> None:
    """Let huggingface_hub's own validator check the repo id too (before any request or path)."""
    try:
        from huggingface_hub.utils import HFValidationError, validate_repo_id
    except ImportError:  # pragma: no cover - very old huggingface_hub
        return
    try:
        validate_repo_id(ref.repo_id)
    except HFValidationError as exc:
        raise HubRefError(f"'{ref}' is not a Hub reference: {str(exc).splitlines()[0]}") from None


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def endpoint() -> str:
    """The Hub URL: ``HF_ENDPOINT`` (read now, not at import time) or https://huggingface.co."""
    url = (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
    from zoo_core.hub.netread import check_endpoint

    check_endpoint(url)  # one line for a malformed endpoint (a port out of range, 'http://[::1', no host)
    return url


def offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` forbids network access."""
    return truthy(os.environ.get("HF_HUB_OFFLINE"))


def token() -> str | None:
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


def repo_cache(repo_id: str) -> Path:
    return cache_dir() / ("models--" + repo_id.replace("/", "--"))
