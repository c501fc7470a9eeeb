"""The names of the files zoo writes, in one place, and the reader of a folder's family JSON.

A saved model (:meth:`ZooModel.save`, a Hub repo) is ``config.json`` + ``model.safetensors``
(+ ``README.md``, ``sample.png`` on the Hub); a run folder (:mod:`zoo_core.runtime`) adds
``run.json``, ``eval.json``, ``checkpoint/`` and a lock file. Importing this module is cheap.
"""

from __future__ import annotations

from pathlib import Path

from zoo_core.errors import WeightsError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "README.md"
SAMPLE_FILE = "sample.png"
RUN_FILE = "run.json"
EVAL_FILE = "eval.json"
CHECKPOINT_DIR = "checkpoint"
LOCK_FILE = ".lock"
PINS_FILE = "hub-pins.json"
#: the files a saved model folder must have
REQUIRED_FILES = (CONFIG_FILE, WEIGHTS_FILE)
#: the files of a model repo on the Hub
MODEL_FILES = (CONFIG_FILE, WEIGHTS_FILE, CARD_FILE)
#: what ``zoo sample`` (and friends) write: a PNG grid, or the raw array
IMAGE_SUFFIXES = (".png", ".npy", ".npz")
#: what ``zoo interpolate`` writes
ANIMATION_SUFFIXES = (".gif", ".webp")


def check_suffix(path: str | Path, allowed: tuple[str, ...]) -> Path:
    """An output path whose suffix is one of ``allowed`` (checked before any work); else a one-line error."""
    from zoo_core.errors import ZooError

    path = Path(path)
    if path.suffix.lower() not in allowed:
        raise ZooError(f"cannot write '{path}': use one of {', '.join(allowed)}")
    return path


def read_saved_config(directory: Path) -> dict:
    """Read and check ``config.json`` of a saved model directory."""
    return read_family_json(directory / CONFIG_FILE, "config file", "model directory",
                            f"{directory} is not a saved zoo model (no {CONFIG_FILE})", max_bytes=1 << 20)


def read_family_json(path: Path, what: str, kind: str, missing: str, max_bytes: int | None = None) -> dict:
    """A bounded JSON file that names a ``family`` and its ``config`` (config.json, run.json).

    A missing file raises :class:`WeightsError` with ``missing``; any other problem one line
    naming ``path``.
    """
    from zoo_core.io.safeio import load_json

    try:
        meta = load_json(path, what, WeightsError, max_bytes=max_bytes)
    except FileNotFoundError:
        raise WeightsError(missing) from None
    if not isinstance(meta, dict) or not isinstance(meta.get("family"), str) or not isinstance(
            meta.get("config"), dict):
        raise WeightsError(f"{path} lacks 'family' and 'config'; is it a zoo {kind}?")
    return meta
