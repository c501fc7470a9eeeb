"""The Hugging Face cache read without huggingface_hub, and zoo's pins (which commit a name means).

Pins: :func:`zoo_core.hub.pull` records the commit a reference resolved to in zoo's own state file
(``$XDG_DATA_HOME/zoo/hub-pins.json``). A reference without ``@revision`` then means the pinned
commit, like a lock file: reproducible, offline, resolved from the cache without any network call.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from zoo_core.errors import HubError, HubRefError
from zoo_core.hub.refs import COMMIT, PREFIX, HubRef, cache_dir, parse_ref, repo_cache, state_dir, valid_repo_id
from zoo_core.io.files import MODEL_FILES, PINS_FILE, REQUIRED_FILES, WEIGHTS_FILE

if TYPE_CHECKING:  # pragma: no cover
    from zoo_core.catalog import WeightsRef


def _pins_path() -> Path:
    return state_dir() / PINS_FILE


def read_pins() -> dict[str, dict]:
    """Every pin recorded by :func:`pull`: ``{repo_id: {"commit", "revision", "endpoint", "pulled_at"}}``."""
    from zoo_core.io.safeio import load_json

    try:
        data = load_json(_pins_path(), "zoo's pin file", HubError)
    except FileNotFoundError:
        return {}
    except HubError as exc:
        raise HubError(f"{exc}; delete it and pull again") from None
    pins = data.get("pins") if isinstance(data, dict) else None
    # a key becomes a path in the cache (and 'zoo cache clear' deletes it): only well-formed repo ids count
    return {k: v for k, v in pins.items() if valid_repo_id(k) and isinstance(v, dict)
            and COMMIT.match(str(v.get("commit", "")))} if isinstance(pins, dict) else {}


def update_pins(change: Any) -> None:
    """Apply ``change(pins)`` to the pin file under a lock (several ``zoo pull`` may run at once)."""
    from filelock import FileLock  # a dependency of huggingface_hub

    from zoo_core.io.weights import atomic_write_bytes

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


def local_commit(ref: HubRef, use_pin: bool = True) -> str | None:
    """The commit ``ref`` means locally: a commit hash, the pin, or the cache's ``refs/<revision>``."""
    revision = ref.revision
    if revision and COMMIT.match(revision):
        return revision
    if revision is None and use_pin:
        pin = pinned_commit(ref.repo_id)
        if pin:
            return pin
    from zoo_core.io.safeio import read_bytes

    try:
        commit = read_bytes(repo_cache(ref.repo_id) / "refs" / (revision or "main"), 4096, "cache ref",
                            HubError).decode("ascii", "replace").strip()
    except (OSError, HubError):
        return None
    return commit if COMMIT.match(commit) else None


def _cached_snapshot(ref: HubRef, files: tuple[str, ...] = REQUIRED_FILES) -> Path | None:
    """The cached snapshot folder of ``ref`` if it holds all ``files``, without network or imports.

    This follows the documented layout of the Hugging Face cache
    (``models--org--repo/{refs,snapshots,blobs}``), the same lookup as
    ``huggingface_hub.try_to_load_from_cache`` (a test checks that they agree).
    """
    commit = local_commit(ref)
    if commit is None:
        return None
    folder = repo_cache(ref.repo_id) / "snapshots" / commit
    return folder if all((folder / name).is_file() for name in files) else None


def cached_weights(ref: WeightsRef) -> Path | None:
    """The cached ``model.safetensors`` of a catalog ``hf://`` source, or None; never touches the network."""
    try:
        hub_ref = parse_ref(ref.source)
    except HubRefError:
        return None
    folder = _cached_snapshot(hub_ref, (WEIGHTS_FILE,))
    return folder / WEIGHTS_FILE if folder else None


def record_ref(ref: HubRef, commit: str) -> None:
    """Write ``refs/<revision>`` in the cache as huggingface_hub does, so offline lookups by name work."""
    if ref.revision and COMMIT.match(ref.revision):
        return
    path = repo_cache(ref.repo_id) / "refs" / (ref.revision or "main")
    try:
        if path.is_file() and path.read_text().strip() == commit:
            return
        from zoo_core.io.weights import atomic_write_bytes

        atomic_write_bytes(path, commit.encode())
    except OSError:
        pass  # a read-only cache still works through the pin


def remove_cached_file(path: Path) -> None:
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
        folder = repo_cache(repo_id) / "snapshots" / pin["commit"]
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
        folder = repo_cache(repo_id)
        snaps = folder / "snapshots"
        if folder.is_dir() and (not snaps.is_dir() or not any(snaps.iterdir())):
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
    update_pins(lambda p: [p.pop(r, None) for r in chosen])
    return [f"{PREFIX}{r}" for r in sorted(chosen)]
