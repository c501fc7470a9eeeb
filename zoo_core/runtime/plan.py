"""``zoo train`` as an API: from a name or a run folder to a trained run, fresh or resumed.

:func:`plan_training` decides what a ``zoo train NAME -o RUN [--resume] [--force]`` call means
(which family and config, which run folder, which data) and refuses what would lose or mix
runs; :func:`run_training` builds the model and hands it to :func:`zoo_core.runtime.fit`.
The CLI only parses its options and renders progress and results.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo_core.errors import ZooError
from zoo_core.io.files import RUN_FILE
from zoo_core.runtime.runs import RunFolder, check_resume_config, is_run_folder


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
    target: Any = None                            # what the name resolved to (resolved once, here)
    checkpoint_every: int | None = None           # the resumed run's interval (run.json)

    @property
    def spec(self) -> Any:
        """The family's config spec (parses ``--set`` text)."""
        return self.family.config

    def total_steps(self, overrides: dict | None = None, steps: int | None = None) -> int:
        """The run's total steps, decided once: ``steps`` (``--steps``), else the resumed run's
        target, else the config's ``steps`` (with ``overrides``), else DEFAULT_STEPS."""
        from zoo_core.runtime.loop import total_steps

        if steps is None and self.resume:
            steps = self.steps
        return total_steps(steps, self.spec.resolve(self.config, overrides or {}))


def plan_training(name: str, output: str | None, *, resume: bool = False, force: bool = False,
                  data: str | None = None, is_main: bool = True) -> TrainPlan:
    """Resolve ``zoo train NAME [-o RUN]``: a catalog/family name starts a run, a run folder resumes one.

    Errors (one line each): a fresh run without ``-o``; a non-empty folder without ``--resume``
    or ``--force``; ``--resume`` on a folder with no ``run.json``; ``--data`` that is not the
    run's own on a resume.
    """
    from zoo_core.resolver import Resolved, get_family, resolve

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
        config = dict(manifest["config"])
        # a resume builds the run's own config (its folder may hold no saved model yet)
        return TrainPlan(family=family, run=run, resume=True, config=config, source=manifest["family"], data=source,
                         steps=manifest.get("steps"), base_model=manifest.get("base_model"),
                         target=Resolved("run", str(run), family, dict(config)),
                         checkpoint_every=manifest.get("checkpoint_every"))
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
            RunFolder(run).clear()  # checkpoint/ and run.json; a link is removed, never followed
    target = resolve(name)  # a catalog entry (its recipe, from fresh weights) or a family
    if target.kind not in ("catalog", "family"):
        raise ZooError(f"zoo train starts from a catalog model or a family, not a {target.kind} ('{name}'); "
                       "see 'zoo list' (a run folder continues with --resume)")
    return TrainPlan(family=target.family, run=run, resume=False, config=dict(target.config), source=name, data=data,
                     target=target)


def check_overrides(plan: TrainPlan, overrides: dict) -> None:
    """On a resume, only the family's resume-safe keys may change."""
    if plan.resume:
        check_resume_config(plan.family, plan.config, {**plan.config, **overrides}, f"--set on run '{plan.run}'")


def check_parallel(plan: TrainPlan, overrides: dict, workers: int, *, device: str = "cpu",
                   oversubscribe: bool = False) -> None:
    """Before starting ``workers`` processes, once, in the launcher: what every worker would refuse.

    The family trains data-parallel, its batch splits evenly, the ``--set`` keys may change (on a
    resume), ``device`` is there, and ``workers`` fits the machine's cores or devices
    (:func:`~zoo_core.runtime.distributed.check_workers`; ``oversubscribe`` goes ahead).
    """
    from zoo_core.runtime.devices import resolve_device
    from zoo_core.runtime.distributed import World, check_workers, shard

    if not plan.family.trainable or not plan.family.distributed:
        raise ZooError(f"family '{plan.family.name}' does not train data-parallel; drop --workers")
    check_overrides(plan, overrides)
    config = plan.family.config.resolve(plan.config, overrides)
    if "batch_size" in config:
        shard(int(config["batch_size"]), World(rank=0, size=int(workers)))
    from zoo_core.backends.memory import check_memory

    check_memory(plan.family, config, max(1, int(config.get("batch_size", 1)) // int(workers)), "train",
                 processes=int(workers))
    framework = getattr(plan.family, "framework", "numpy")
    # torch is imported for torchrun anyway; TensorFlow only when a GPU is asked for by name
    if framework == "torch" or str(device) not in ("cpu", "auto"):
        resolved = resolve_device(device, framework)
    else:
        resolved = "cpu"
    check_workers(int(workers), resolved, oversubscribe=oversubscribe)


def run_training(plan: TrainPlan, overrides: dict | None = None, *, steps: int | None = None,
                 callbacks: Iterable[Any] = (), device: str | None = None,
                 checkpoint_every: int | None = None) -> tuple[Any, Any]:
    """Build the model the plan describes and train it into the run folder; return (model, history).

    ``steps`` is the run's total (default: :meth:`TrainPlan.total_steps`, decided here once).
    A fresh run from a catalog name trains that entry's recipe (its config) from fresh weights.
    The name was resolved once, by :func:`plan_training`; the resume rules are checked once, here.
    """
    from zoo_core import api
    from zoo_core.runtime.loop import fit

    overrides = dict(overrides or {})
    check_overrides(plan, overrides)
    total = plan.total_steps(overrides) if steps is None else steps
    model = api.build(plan.target, device=device, **overrides)
    extra = {"base_model": plan.base_model} if plan.base_model else {}  # kept from the resumed manifest
    history = fit(model, plan.data, steps=total, callbacks=callbacks, run_dir=plan.run, resume=plan.resume,
                  checkpoint_every=checkpoint_every, extra=extra,
                  checked_config=plan.config if plan.resume else None)
    return model, history


def resume_command(run: str | Path, device: str | None = None) -> str:
    """The exact command that continues run folder ``run`` to its recorded target (its run.json
    keeps the config, the data and the total steps), as ``zoo train`` prints it on Ctrl-C."""
    import shlex

    line = f"zoo train {shlex.quote(str(run))} --resume"
    if device and device != "auto":
        line += f" --device {shlex.quote(device)}"
    return line


__all__ = ["TrainPlan", "check_overrides", "check_parallel", "plan_training", "resume_command", "run_training"]
