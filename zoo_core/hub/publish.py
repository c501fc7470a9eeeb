"""Publishing a staged model folder to the Hub: check the card, create the repo and branch, upload.

This is the last step of :func:`zoo_core.hub.publishing.push` (which stages the folder: config,
weights, card, sample grids). Like timm's ``push_to_hf_hub``, it only uploads what is on disk: it
never loads a model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo_core.errors import HubError, HubOfflineError, HubRefError
from zoo_core.hub.failures import translate
from zoo_core.hub.refs import HubRef, endpoint, offline, parse_ref, shown, token, valid_revision
from zoo_core.io.files import CARD_FILE, CONFIG_FILE, SAMPLE_FILE, WEIGHTS_FILE

#: what a staged folder may upload
UPLOAD_PATTERNS = [CONFIG_FILE, WEIGHTS_FILE, CARD_FILE, SAMPLE_FILE, "samples/*.png"]


def check_target(repo_id: str, revision: str | None = None) -> HubRef:
    """Validate where a push goes (before any staging work): ``org/repo`` and a branch name."""
    ref = parse_ref(repo_id)
    if ref.revision:
        raise HubRefError(f"'{repo_id}': give the branch with --revision, not '@'")
    if revision is not None and not valid_revision(revision):
        raise HubRefError(f"--revision {shown(repr(revision))}: not a valid branch name (letters, digits, '-', '_', "
                          "'.', '+', '/'; no '..', no part starting with '.')")
    if offline():
        raise HubOfflineError(f"cannot push {ref} with HF_HUB_OFFLINE=1 set; unset it and try again")
    return ref


def upload(folder: str | Path, repo_id: str, card: Any, *, private: bool = False, revision: str | None = None,
           message: str) -> str:
    """Upload a staged ``folder`` to ``repo_id`` (created when missing, and its branch); return the commit URL.

    ``card`` (a huggingface_hub ``ModelCard``, also written in the folder) is validated by the Hub first.
    """
    from huggingface_hub import HfApi

    from zoo_core.hub.cards import validate_on_hub

    ref = check_target(repo_id, revision)
    target = HubRef(ref.repo_id, revision)
    try:
        validate_on_hub(card, endpoint(), token())
    except ValueError as exc:
        raise HubError(f"{target}: the Hub rejected the model card's metadata: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - mapped to one ZooError
        raise translate(exc, target, action="push") from None
    api = HfApi(endpoint=endpoint(), token=token(), library_name="zoo")
    try:
        api.create_repo(ref.repo_id, repo_type="model", private=private, exist_ok=True)
        if revision:
            api.create_branch(ref.repo_id, branch=revision, repo_type="model", exist_ok=True)
        info = api.upload_folder(repo_id=ref.repo_id, folder_path=str(folder), repo_type="model", revision=revision,
                                 commit_message=message, allow_patterns=UPLOAD_PATTERNS)
    except Exception as exc:  # noqa: BLE001 - mapped to one ZooError
        raise translate(exc, target, action="push") from None
    return str(getattr(info, "commit_url", info))
