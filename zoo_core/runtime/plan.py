"""``zoo train`` as an API: from a name or a run folder to a trained run, fresh or resumed.

:func:`plan_training` decides what a ``zoo train NAME -o RUN [--resume] [--force]`` call means
(which family and config, which run folder, which data) and refuses what would lose or mix
runs; :func:`run_training` builds the model and hands it to :func:`zoo_core.runtime.fit`.
The CLI only parses its options and renders progress and results.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo_core.errors import ConfigError, ZooError
from zoo_core.io.files import CHECKPOINT_DIR, RUN_FILE
from zoo_core.runtime.runs import RunFolder, is_run_folder


@dataclass
class TrainPlan:
    """What one ``zoo train`` call will do."""

    family: Any
    run: Path
    resume: bool
    config: dict = field(default_factory=dict)   # the run's config (resume) or the entry's (fresh)
    source: str = ""                              # catalog or family name it starts from
    data: str | None = None
    steps: int | None = None
    base_model: str | None = None

    @property
    def spec(self) -> Any:
        """The family's config spec (parses ``--set`` text)."""
        return self.family.config


def plan_training(name: str, output: str | None, *, resume: bool = False, force: bool = False,
                  data: str | None = None, is_main: bool = True) -> TrainPlan:
    """Resolve ``zoo train NAME [-o RUN]``: a catalog/family name starts a run, a run folder resumes one.

    Errors (one line each): a fresh run without ``-o``; a non-empty folder without ``--resume``
    or ``--force``; ``--resume`` on a folder with no ``run.json``; ``--data`` that is not the
    run's own on a resume.
    """
    from zoo_core.resolver import get_family, resolve

    if is_run_folder(name) and not resume:
        raise ZooError(f"'{name}' is a run folder; pass --resume to continue it")
    if resume:
        run = Path(output if output is not None else name)
        if output is not None and is_run_folder(name) and Path(name).resolve() != run.resolve():
            raise ZooError(f"--resume continues run '{name}' in place; -o '{output}' names another folder")
        if not is_run_folder(run):
            hint = "" if run.exists() else " (no such folder)"
            raise ZooError(f"nothing to resume: '{run}' has no {RUN_FILE}{hint}; "
                           "start a run with zoo train NAME -o RUN")
        manifest = RunFolder(run).read_manifest()
        family = get_family(manifest["family"])
        recorded = manifest.get("data") or None
        source = recorded.get("source") if isinstance(recorded, dict) else None
        if data is not None and (source is None or Path(data).resolve() != Path(source)):
            raise ZooError(f"run '{run}' trains on {source or 'its family default'}; a resume takes no other --data")
        if source == "array":
            raise ZooError(f"run '{run}' was trained on an in-memory array; resume it from Python")
        return TrainPlan(family=family, run=run, resume=True, config=dict(manifest["config"]),
                         source=manifest["family"], data=source, steps=manifest.get("steps"),
                         base_model=manifest.get("base_model"))
    if output is None:
        raise ZooError("zoo train NAME needs -o RUN (the run folder to write)")
    run = Path(output)
    if is_main and run.exists():
        if not run.is_dir():
            raise ZooError(f"run folder '{run}' is a file")
        if any(run.iterdir()):
            if not force:
                raise ZooError(f"run folder '{run}' is not empty; pass --resume to continue it or --force to "
                               "start afresh (its checkpoints are deleted)")
            shutil.rmtree(run / CHECKPOINT_DIR, ignore_errors=True)
            (run / RUN_FILE).unlink(missing_ok=True)
    target = resolve(name)  # a catalog entry (its recipe, from fresh weights) or a family
    if target.kind not in ("catalog", "family"):
        raise ZooError(f"zoo train starts from a catalog model or a family, not a {target.kind} ('{name}'); "
                       "see 'zoo list' (a run folder continues with --resume)")
    return TrainPlan(family=target.family, run=run, resume=False, config=dict(target.config), source=name, data=data)


def check_overrides(plan: TrainPlan, overrides: dict) -> None:
    """On a resume, only the family's resume-safe keys may change."""
    if not plan.resume:
        return
    safe = set(plan.family.resume_safe)
    fixed = sorted(k for k, v in overrides.items() if k not in safe and plan.config.get(k) != v)
    if fixed:
        raise ConfigError(f"--set {fixed[0]} cannot change on a resume (the run's checkpoint fixes it); "
                          f"resume-safe keys of '{plan.family.name}': {', '.join(sorted(safe))}")


def check_parallel(plan: TrainPlan, overrides: dict, workers: int) -> None:
    """Before starting ``workers`` processes: the family trains data-parallel and its batch splits evenly."""
    from zoo_core.runtime.distributed import World, shard

    if not plan.family.trainable or not plan.family.distributed:
        raise ZooError(f"family '{plan.family.name}' does not train data-parallel; drop --workers")
    config = plan.family.config.resolve(plan.config, overrides)
    if "batch_size" in config:
        shard(int(config["batch_size"]), World(rank=0, size=int(workers)))


def run_training(plan: TrainPlan, overrides: dict | None = None, *, steps: int | None = None,
                 callbacks: Iterable[Any] = (), device: str | None = None,
                 checkpoint_every: int | None = None) -> tuple[Any, Any]:
    """Build the model the plan describes and train it into the run folder; return (model, history).

    ``steps`` is the run's total (default: the resumed run's target, else the config's ``steps``).
    A fresh run from a catalog name trains that entry's recipe (its config) from fresh weights.
    """
    from zoo_core import api
    from zoo_core.resolver import Resolved
    from zoo_core.runtime.loop import fit

    overrides = dict(overrides or {})
    check_overrides(plan, overrides)
    # a resume builds the run's own config (its folder may hold no saved model yet)
    start = Resolved("run", str(plan.run), plan.family, dict(plan.config)) if plan.resume else plan.source
    model = api.build(start, device=device, **overrides)
    total = steps if steps is not None else (plan.steps if plan.resume and plan.steps else None)
    extra = {"base_model": plan.base_model} if plan.base_model else {}  # kept from the resumed manifest
    history = fit(model, plan.data, steps=total, callbacks=callbacks, run_dir=plan.run, resume=plan.resume,
                  checkpoint_every=checkpoint_every, extra=extra)
    return model, history


__all__ = ["TrainPlan", "check_overrides", "check_parallel", "plan_training", "run_training"]
