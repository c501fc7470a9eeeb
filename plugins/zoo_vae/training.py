"""The VAE / AE training algorithm, run by zoo's training runtime (:mod:`zoo_core.runtime`).

The trainer's ``train_step`` (``tf.GradientTape``) runs inside one compiled ``tf.function`` of up
to :data:`STEPS_PER_CALL` steps, which gathers each step's batch from the images held as a
tensor (no Python round trip per step, as keras' ``steps_per_execution``). Step ``k``'s batch
is :class:`zoo_core.runtime.BatchSampler`'s, a function of (seed, k); the reparameterisation
and dropout noise come from Keras seed generators whose states are checkpointed. So a resumed
run retraces the uninterrupted one.

Data parallel (``zoo train vae --workers N``): the model is built under
``tf.distribute.MultiWorkerMirroredStrategy`` (see :func:`strategy_for`), every rank gathers
its shard of the global batch, and the compiled loop runs the step with ``strategy.run``; the
gradients are all-reduced by TensorFlow's collectives. Keras' ``fit`` is never used under the
strategy (it fails on Keras 3: keras-team/keras#20585).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo_core.errors import WeightsError
from zoo_core.runtime import BatchSampler, TrainContext
from zoo_vae._backend import tf

if TYPE_CHECKING:  # pragma: no cover
    from zoo_vae.model import _KerasAutoencoder

#: training steps per compiled call (the losses of every step still come back)
STEPS_PER_CALL = 25
_STRATEGY: Any = None


def strategy_for(world: Any) -> Any:
    """The process's ``MultiWorkerMirroredStrategy`` in a world of several ranks, else None.

    Created once, before the first model's variables (TensorFlow requires collectives to be
    configured before the runtime starts), from ``TF_CONFIG`` that the world derives from the
    launcher's environment.
    """
    global _STRATEGY
    if not world.distributed:
        return None
    if _STRATEGY is None:
        world.export_tf_config()
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.RING)
        _STRATEGY = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
        if _STRATEGY.num_replicas_in_sync != world.size:
            raise WeightsError(f"TensorFlow formed {_STRATEGY.num_replicas_in_sync} replicas for a world of "
                               f"{world.size}")
    return _STRATEGY


def _optimizer_key(var: Any) -> str:
    """Checkpoint key of an optimizer variable: its path without the optimizer's own name,
    which Keras numbers per process (``adam``, ``adam_1``, ...)."""
    return "optimizer/" + var.path.split("/", 1)[-1]


class AutoencoderSession:
    """One VAE / AE training run over a fixed image set."""

    steps_per_call = STEPS_PER_CALL

    def __init__(self, model: _KerasAutoencoder, data: Any, steps: int, ctx: TrainContext) -> None:
        self.model, self.world = model, ctx.world
        cfg = model.config
        images = model.training_images(data)
        self.examples = int(len(images))
        self.sampler = BatchSampler(self.examples, int(cfg["batch_size"]), int(cfg["seed"]), self.world)
        self.strategy = model.strategy
        self.trainer = model.trainer
        self.pixels = images
        self.images = model.training_tensor(images)
        optimizer = self.trainer.optimizer
        if not optimizer.built:
            optimizer.build(self.trainer.trainable_variables)
        for var in optimizer.variables:  # a fresh run starts with a fresh optimizer
            if var.path.split("/", 1)[-1] != "learning_rate":
                var.assign(tf.zeros(var.shape, var.dtype))
        optimizer.learning_rate.assign(float(cfg["lr"]))
        self.run_chunk = model.compiled_chunk()

    def run(self, first: int, last: int) -> list[dict[str, float]]:
        """Train steps ``first..last`` in one compiled call; ``total_loss``, ``reco_loss``, ``kl_loss``."""
        idx = np.stack([self.sampler.indices(step) for step in range(first, last + 1)])
        with self.model.device_scope():
            totals, recos, kls = (t.numpy() for t in self.run_chunk(self.images, tf.constant(idx)))
        return [{"total_loss": float(t), "reco_loss": float(r), "kl_loss": float(k)}
                for t, r, k in zip(totals, recos, kls, strict=True)]

    # -- state ---------------------------------------------------------------------------------

    def _seed_states(self) -> list[Any]:
        return [v for v in self.trainer.variables if v.path.endswith("seed_generator_state")]

    def state(self) -> dict[str, np.ndarray]:
        """Weights (``model/``), Adam's variables (``optimizer/``), the seed generators (``rng/<i>``)."""
        tensors = {f"model/{k}": v for k, v in self.model.state_dict().items()}
        for var in self.trainer.optimizer.variables:
            tensors[_optimizer_key(var)] = np.atleast_1d(np.array(var.numpy()))
        for i, var in enumerate(self._seed_states()):
            tensors[f"rng/{i}"] = np.atleast_1d(np.array(var.numpy()))
        return tensors

    def load_state(self, tensors: Mapping[str, np.ndarray]) -> None:
        """Restore what :meth:`state` returned (names, shapes and dtypes already checked)."""
        self.model.load_state_dict({k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")})
        for var in self.trainer.optimizer.variables:
            var.assign(np.asarray(tensors[_optimizer_key(var)]).reshape(var.shape))
        for i, var in enumerate(self._seed_states()):
            var.assign(np.asarray(tensors[f"rng/{i}"]).reshape(var.shape))

    def finish(self) -> None:
        """Every step done: batch-norm statistics recomputed for the final weights, then (``prior: mixture``)
        the prior mixture fitted to the training codes (every rank alike)."""
        self.model.recompute_batch_norm(self.pixels)
        self.model.fit_prior(self.pixels)

    def close(self) -> None:
        """Nothing to release: the compiled loop stays cached on the model for the next run."""


def compile_chunk(trainer: Any, strategy: Any, jit_compile: bool) -> Any:
    """A ``tf.function(images, idx)`` running ``len(idx)`` train steps on ``images[idx[i]]``.

    Returns the per-step (total, reco, kl); each step resets the trackers first, so each step's
    values are exactly that batch's and ``total_loss == reco_loss + kl_loss``. Under a strategy
    the step runs with ``strategy.run`` on each rank's shard and the logged losses are the
    rank's own (the runtime averages them over ranks).
    """
    step_fn = trainer.train_step
    if jit_compile:  # XLA compiles the step; the loop around it stays a tf graph
        step_fn = tf.function(trainer.train_step, jit_compile=True)
    names = ("total_loss", "reco_loss", "kl_loss")

    def one_step(x):
        for tracker in trainer.metrics:
            tracker.reset_state()
        logs = step_fn(x)
        return tuple(tf.cast(logs[k], tf.float32) for k in names)

    def run(images, idx):
        n = tf.shape(idx)[0]
        arrays = [tf.TensorArray(tf.float32, size=n) for _ in names]
        for i in tf.range(n):
            x = tf.cast(tf.gather(images, idx[i]), tf.float32) / 255.0
            if strategy is None:
                values = one_step(x)
            else:
                values = strategy.run(one_step, args=(x,))
                values = tuple(strategy.experimental_local_results(v)[0] for v in values)
            arrays = [a.write(i, v) for a, v in zip(arrays, values, strict=True)]
        return tuple(a.stack() for a in arrays)

    return tf.function(run, reduce_retracing=True)
