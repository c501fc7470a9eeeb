"""``zoo push``: stage a saved model folder (config, weights, card, sample grids) and upload it.

Staging loads the model (to draw its sample grids and, on request, evaluate it); the upload
itself is :func:`zoo_core.hub.publish.upload`, which only sends files. This module sits above
:mod:`zoo_core.api`; nothing in :mod:`zoo_core.hub` calls up into either.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from zoo_core.errors import HubFileMissingError
from zoo_core.io.files import CARD_FILE, CONFIG_FILE, WEIGHTS_FILE, read_saved_config


def stage(directory: str | Path, repo_id: str, folder: str | Path, evaluate: bool = False) -> Any:
    """Write the files to publish into ``folder``: config, weights, card and sample grids; return the card."""
    from zoo_core.api import load_directory
    from zoo_core.hub.cards import GALLERY_SEEDS, build_card, eval_figures, gallery_file, read_eval, read_run
    from zoo_core.media.images import save_images

    directory, folder = Path(directory), Path(folder)
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
    :mod:`zoo_core.hub.cards`: eval results, datasets, base model and recipe from the folder's
    ``run.json`` and ``eval.json``; ``evaluate`` runs the model's evaluation now), and sample grids
    of several seeds (``sample.png``, ``samples/seed-N.png``). Creates the repo (and the branch
    ``revision``) when missing.
    """
    from zoo_core.hub.publish import check_target, upload

    ref = check_target(repo_id, revision)  # a bad target fails before the model is loaded
    directory = Path(directory)
    with tempfile.TemporaryDirectory(prefix="zoo-push-") as tmp:
        card = stage(directory, ref.repo_id, tmp, evaluate=evaluate)
        return upload(tmp, ref.repo_id, card, private=private, revision=revision,
                      message=message or f"zoo push {directory.name}")
