"""Model cards of pushed models, built and validated by huggingface_hub.

``ModelCardData`` and ``EvalResult`` write the metadata, ``ModelCard`` parses it back, and the
Hub's ``/api/validate-yaml`` checks it before a push.

What a card says, and where it comes from (all optional except the config):

* ``model-index`` (structured eval results): the figures of ``zoo eval`` — run at push time
  (``zoo push --eval``), or saved beside the model as ``eval.json`` (``zoo eval NAME --json >
  RUN/eval.json``), or the ``metrics`` of the run manifest, or ``eval``/``metrics`` in
  ``config.json``; the first source that has a figure wins.
* ``datasets``: the run manifest's data source (``run.json`` ``data.source``; a local path is
  published by its file name only).
* ``base_model``: the run manifest's ``base_model`` (a model the run started from).
* ``recipe`` (metadata and a table): steps, lr, batch size, seed, world size, device, versions,
  data sha256, start and end, from ``run.json`` and the saved config.
* ``widget``: the Hub's gallery component, one sample grid per seed.

``run.json`` is the run manifest the training runtime writes into the run folder: ``family``,
``config``, ``step``, ``steps``, ``data`` (null or ``{"source", "sha256", "examples"}``), ``seed``,
``device``, ``world_size``, ``versions``, ``started``, ``finished``, ``metrics`` and optionally
``base_model``.

huggingface_hub is imported inside functions only (slow to import).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo_core.errors import WeightsError
from zoo_core.io.files import EVAL_FILE, SAMPLE_FILE

if TYPE_CHECKING:  # pragma: no cover
    from huggingface_hub import ModelCard

GALLERY_SEEDS = (0, 1, 2, 3)
TASK = "unconditional-image-generation"
_RECIPE_CONFIG_KEYS = ("lr", "learning_rate", "batch_size", "schedule", "optimizer", "weight_decay")


def gallery_file(seed: int) -> str:
    """The repo path of the sample grid of ``seed`` (seed 0 keeps the historical ``sample.png``)."""
    return SAMPLE_FILE if seed == 0 else f"samples/seed-{seed}.png"


def _read_json(path: Path, what: str) -> dict | None:
    from zoo_core.io.safeio import load_json  # bounded in size and nesting, a regular file only

    try:
        data = load_json(path, what, WeightsError)
    except FileNotFoundError:
        return None
    if not isinstance(data, dict):
        raise WeightsError(f"{path} ({what}) must hold a JSON object")
    return data


def read_run(directory: str | Path) -> dict | None:
    """The run manifest ``run.json`` of a run folder (read and checked by the one run.json reader,
    :meth:`zoo_core.runtime.runs.RunFolder.read_manifest`), or None when there is none."""
    from zoo_core.runtime.runs import RunFolder

    run = RunFolder(directory)
    if not run.manifest_path.exists() and not run.manifest_path.is_symlink():
        return None
    return run.read_manifest()


def read_eval(directory: str | Path) -> dict:
    """Figures saved by ``zoo eval NAME --json > DIR/eval.json`` (empty when absent)."""
    return _numbers(_read_json(Path(directory) / EVAL_FILE, "zoo eval --json output") or {})


def _numbers(values: Any) -> dict:
    if not isinstance(values, dict):
        return {}
    return {str(k): v for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def eval_figures(meta: dict, run: dict | None = None, saved: dict | None = None, live: dict | None = None) -> dict:
    """Numeric eval figures, first source wins per name: ``live``, ``saved`` (eval.json), run metrics, config.json."""
    out: dict = {}
    layers = [_numbers(meta.get(k)) for k in ("metrics", "evaluation", "eval")]
    layers += [_numbers((run or {}).get("metrics")), _numbers(saved), _numbers(live)]
    for layer in layers:  # later layers win
        out.update(layer)
    return out


def _hub_id(ref: Any) -> str | None:
    """``org/name`` of an ``hf://org/name[@rev]`` or ``org/name`` string, else None."""
    if not isinstance(ref, str):
        return None
    from zoo_core.errors import HubRefError
    from zoo_core.hub.refs import parse_ref

    try:
        return parse_ref(ref).repo_id
    except HubRefError:
        return None


def dataset_name(run: dict | None) -> str | None:
    """The run's data source as it may be published: a Hub dataset id, or a file/folder name."""
    data = (run or {}).get("data")
    source = data.get("source") if isinstance(data, dict) else None
    if not isinstance(source, str) or not source.strip():
        return None
    for prefix in ("hf://datasets/", "datasets/"):
        if source.startswith(prefix):
            return source[len(prefix):].split("@")[0]
    return Path(source.rstrip("/")).name or None  # never publish a local absolute path


def _session(entry: dict) -> str:
    """One entry of run.json's ``schedule`` in words: ``from step 7000: 14000 steps in all, lr 0.001``."""
    changed = entry.get("config")
    changed = changed if isinstance(changed, dict) else {}
    return f"from step {entry.get('from')}: {entry.get('steps')} steps in all" + "".join(
        f", {k} {v}" for k, v in changed.items())


def recipe(meta: dict, run: dict | None) -> dict:
    """The training recipe: what made these weights (run manifest first, then the saved config)."""
    config = (run or {}).get("config") if isinstance((run or {}).get("config"), dict) else meta.get("config", {})
    config = config if isinstance(config, dict) else {}
    out: dict[str, Any] = {"family": (run or {}).get("family") or meta.get("family")}
    run = run or {}
    out["steps"] = run.get("step", run.get("steps", config.get("steps")))
    for key in _RECIPE_CONFIG_KEYS:
        if key in config:
            out["batch" if key == "batch_size" else key] = config[key]
    for key in ("base_model", "seed", "world_size", "device", "started", "finished"):
        if run.get(key) is not None:
            out[key] = run[key]
    schedule = run.get("schedule")
    if isinstance(schedule, list) and len(schedule) > 1 and all(isinstance(s, dict) for s in schedule):
        # resumed with a new total or learning rate: part of what made these weights
        out["schedule"] = "; ".join(_session(s) for s in schedule)
    if "seed" not in out and "seed" in config:
        out["seed"] = config["seed"]
    data = run.get("data")
    if isinstance(data, dict):
        out["data"] = {k: data[k] for k in ("sha256", "examples") if k in data}
        if dataset_name(run):
            out["data"]["source"] = dataset_name(run)
    elif run:
        out["data"] = "generated by the family (no --data)"
    if isinstance(run.get("versions"), dict):
        out["versions"] = {str(k): str(v) for k, v in run["versions"].items()}
    elif meta.get("zoo_version"):
        out["versions"] = {"zoo": str(meta["zoo_version"])}
    return {k: v for k, v in out.items() if v is not None}


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


def build_card(meta: dict, repo_id: str, *, run: dict | None = None, evals: dict | None = None,
               gallery: Iterable[int] = GALLERY_SEEDS) -> ModelCard:
    """The model card of a pushed model; its metadata is made and checked by huggingface_hub.

    :param meta: the saved ``config.json``.
    :param run: the run manifest (``run.json``), if any.
    :param evals: eval figures (see :func:`eval_figures`).
    :param gallery: the seeds whose sample grids are uploaded (:func:`gallery_file`).
    """
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    family = str(meta.get("family", "unknown"))
    framework = str(meta.get("framework") or "")
    name = repo_id.split("/")[-1]
    seeds = list(gallery)
    figures = evals or {}
    dataset = dataset_name(run)
    base = _hub_id((run or {}).get("base_model"))
    how = recipe(meta, run)
    results = [EvalResult(task_type=TASK, task_name="Unconditional image generation",
                          dataset_type=dataset or f"zoo-{family}-heldout",
                          dataset_name=f"held-out split of {dataset}" if dataset else f"{family} held-out draw",
                          dataset_split="test", metric_type=key, metric_name=key, metric_value=value)
               for key, value in figures.items()]
    data = ModelCardData(
        library_name="zoo", license=str(meta.get("license") or "mit").lower(),
        tags=list(dict.fromkeys(["zoo", "image-generation", family] + ([framework] if framework else []))),
        pipeline_tag=TASK, datasets=[dataset] if dataset else None, base_model=base,
        model_name=name if results else None, eval_results=results or None,
        family=family, recipe=how,
        widget=[{"text": f"seed {s}", "output": {"url": gallery_file(s)}} for s in seeds] or None)
    lines = [f"# {name}", "", f"A `{family}` model from [zoo](https://pypi.org/project/zoo/)"
             + (f" ({framework})" if framework else "") + ", a zoo of small generative image models.", ""]
    if isinstance(meta.get("description"), str) and meta["description"].strip():
        lines += [meta["description"].strip()[:1].upper() + meta["description"].strip()[1:] + ".", ""]
    if seeds:
        lines += [f"![16 samples, seed {seeds[0]}]({gallery_file(seeds[0])})", ""]
        if len(seeds) > 1:
            lines += ["More seeds: " + ", ".join(f"[seed {s}]({gallery_file(s)})" for s in seeds[1:]), ""]
    lines += ["## Use", "", "```bash", f"zoo pull hf://{repo_id}", f"zoo sample hf://{repo_id} -n 16 -o samples.png",
              "```", "", "```python", "import zoo_core", "",
              f'model = zoo_core.load("hf://{repo_id}")', "images = model.sample(16, seed=0)  # uint8 (N, H, W, C)",
              "```", ""]
    if base:
        lines += [f"Trained from [{base}](https://huggingface.co/{base}).", ""]
    lines += ["## Training recipe", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {_cell(v)} |" for k, v in how.items()]
    lines += ["", "## Training config", "", "```json", json.dumps(meta.get("config", {}), indent=2), "```", ""]
    if figures:
        lines += ["## Evaluation", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {_cell(v)} |" for k, v in figures.items()]
        lines.append("")
    lines += ["## Weights", "", f"- `model.safetensors` sha256 `{meta.get('weights_sha256', 'unknown')}`",
              f"- format `{meta.get('format', 'unknown')}`, zoo {meta.get('zoo_version', 'unknown')}", ""]
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines))
    parsed = card.data.eval_results or []  # type: ignore[attr-defined]  # a ModelCardData, typed as CardData
    if figures and len(parsed) != len(figures):  # huggingface_hub parses it back
        raise WeightsError(f"the model card of {repo_id} lost eval results when parsed back")
    return card


def validate_on_hub(card: ModelCard, endpoint: str, token: str | None) -> None:
    """Ask the Hub at ``endpoint`` to validate the card's metadata (``/api/validate-yaml``).

    The same request as ``ModelCard.validate``, which would use the endpoint huggingface_hub read
    at import time instead of the current ``HF_ENDPOINT``. A rejection raises ValueError.
    """
    from huggingface_hub.utils import get_session, hf_raise_for_status

    headers = {"Accept": "text/plain"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = get_session().post(f"{endpoint}/api/validate-yaml", json={"repoType": "model", "content": str(card)},
                                  headers=headers)
    if response.status_code == 400:
        raise ValueError(response.text.strip().splitlines()[0] if response.text.strip() else "invalid metadata")
    hf_raise_for_status(response)


def model_card(meta: dict, repo_id: str, has_sample: bool = True, run: dict | None = None,
               evals: dict | None = None) -> str:
    """The ``README.md`` text of a pushed model (see :func:`build_card`)."""
    figures = eval_figures(meta, run, live=evals)
    return str(build_card(meta, repo_id, run=run, evals=figures, gallery=GALLERY_SEEDS if has_sample else ()))

