"""Plugin contract 1 under the runtime: a family's own ``train()`` run once by ``zoo train``, deprecated.

Before the runtime, a trainable family overrode :meth:`ZooModel.train` and declared
``Family(trainable=True)``. :func:`zoo_core.runtime.fit` (so ``zoo train``) still runs such a
``train()``: once, for the whole run, with a one-line deprecation warning naming
``training_session``; the run folder gets the trained model and a ``run.json``, but no
checkpoints, so ``--resume`` is a one-line error saying what to change. A class with neither
``training_session`` nor its own ``train()`` cannot train: a one-line :class:`NotTrainableError`,
which names ``training_session`` when the family still declares ``trainable=True``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo_core.contract import MIGRATION_DOC, legacy_train_message, say_once, trains_by_legacy_train, trains_by_session
from zoo_core.errors import ConfigError, NotTrainableError, ZooError

if TYPE_CHECKING:  # pragma: no cover
    from zoo_core.model import ZooModel
    from zoo_core.runtime.sessions import History


def trains_here(model: ZooModel) -> bool:
    """Whether the runtime's own loop trains ``model`` (its class implements ``training_session``)."""
    return trains_by_session(type(model))


def legacy_fit(model: ZooModel, data: Any = None, *, steps: int | None = None, callbacks: Iterable[Any] = (),
               run_dir: str | Path | None = None, resume: bool = False) -> History:
    """Train a contract-1 model by its own ``train()`` (once), or refuse a class that cannot train."""
    from zoo_core.runtime.distributed import current_world
    from zoo_core.runtime.sessions import History

    cls, name = type(model), model.family_name
    if not trains_by_legacy_train(cls):
        if getattr(model.family, "declared_trainable", None):
            raise NotTrainableError(f"family '{name}' declares trainable=True but {cls.__name__} defines no "
                                    f"training_session; implement it (see {MIGRATION_DOC})")
        raise NotTrainableError(f"family '{name}' is not trainable: {cls.__name__} defines no training_session")
    if resume:
        raise ZooError(f"family '{name}' trains by its own train() (plugin contract 1), which cannot resume; "
                       f"implement training_session to get checkpoints and --resume (see {MIGRATION_DOC})")
    if current_world().distributed:
        raise ZooError(f"family '{name}' trains by its own train() (plugin contract 1), which cannot train "
                       f"data-parallel; implement training_session (see {MIGRATION_DOC})")
    total = int(model.config.get("steps", 1000) if steps is None else steps)
    if total < 0:
        raise ConfigError("steps must be >= 0")
    say_once(f"legacy-train:{name}", legacy_train_message(name))
    run = None
    if run_dir is not None:
        from zoo_core.runtime.runs import RunFolder

        run = RunFolder(run_dir)
    history = History()
    if run is None:
        result = cls.train(model, data, steps=total, callbacks=list(callbacks))
    else:
        with run.lock():
            started = _now()
            result = cls.train(model, data, steps=total, callbacks=list(callbacks))
            model.save(run.path)
            _write_manifest(run, model, data, total, started)
    _copy(result, history)
    return history


def _copy(result: Any, history: History) -> None:
    if isinstance(result, Mapping):
        for key, values in result.items():
            history[key] = list(values) if isinstance(values, (list, tuple)) else values


def _now() -> str:
    from zoo_core.runtime.runs import now

    return now()


def _write_manifest(run: Any, model: ZooModel, data: Any, total: int, started: str) -> None:
    from zoo_core.runtime.runs import describe_data, versions

    run.write_manifest({
        "family": model.family_name, "config": model.config, "step": total, "steps": total,
        "data": describe_data(data), "seed": model.config.get("seed"), "device": getattr(model, "device", "cpu"),
        "world_size": 1, "versions": versions(model), "started": started, "finished": _now(), "metrics": {},
        "schedule": [{"from": 0, "steps": total}], "contract": 1,
    })


__all__ = ["legacy_fit", "trains_here"]
