"""Epoch time of the zoo ``vae`` against the keras.io VAE example trained by its own ``train_step``.

The keras.io "Variational AutoEncoder" example (Keras 3, fchollet) is written out below from its
description (nothing is imported from it): a ``keras.Model`` subclass ``VAE`` whose
``train_step`` records the forward pass on a ``tf.GradientTape``; reconstruction loss = batch
mean of the per-image sum of ``binary_crossentropy``; KL = batch mean of the per-image sum of
``-0.5 * (1 + log_var - mu^2 - exp(log_var))``; Adam (lr 1e-3); ``vae.fit(x, batch_size=128)``.

zoo's ``vae`` config cannot express the example's network exactly: its encoder has no Dense
hidden layer between Flatten and the (mu, log_var) heads (the example has Dense(16, relu)), and
its decoder mirrors the encoder (filters [32, 64] give Conv2DTranspose 32 (stride 2) -> 1
(stride 2), where the example has 64 (s2) -> 32 (s2) -> 1 (s1)). So three models are timed:

* ``zoo``: ``zoo_core.build("vae", filters=[32, 64], kernel_sizes=[3, 3], strides=[2, 2], z_dim=2,
  activation="relu", batch_norm=False, dropout=0, likelihood="bernoulli", fact=1, batch_size=128, lr=1e-3)``
  trained by ``model.train`` (its own tf.data pipeline and compiled ``train_step``);
* ``keras.io loop, zoo architecture``: the example's ``VAE`` class and ``fit`` around networks
  built here layer for layer like zoo's (same parameter count): the same-architecture
  comparison, which isolates the training loop;
* ``keras.io example``: the example's own networks, class and ``fit``.

A fourth row times zoo's model again, trained in short calls: each epoch is ``model.train`` called
repeatedly for ``SHORT`` steps at a time (what a caller that reports, samples or evaluates between
calls does), against the same model trained an epoch per call. The pipeline of a data source is built
once and reused, so short calls must cost no more per sample than long ones (target: within 10%).

All four train on the same N glyphs-28 images (one epoch = N / 128 batches) in one process;
after one untimed warm-up epoch each, the timed epochs are interleaved (the order rotates per
round) so that load from other processes falls on all of them alike. Run:

    nice -n 5 .venv/bin/python benchmarks/bench_vae.py
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import replace_section  # noqa: E402

import zoo_core  # noqa: E402
from zoo_core.data.datasets import load_dataset  # noqa: E402
from zoo_core.backends.frameworks import import_keras  # noqa: E402
from zoo_vae import count_vae_parameters  # noqa: E402

keras = import_keras("vae")
import tensorflow as tf  # noqa: E402

from zoo_vae.model import STEPS_PER_CALL  # noqa: E402

BATCH = 128
LATENT = 2
ZOO_CONFIG = dict(filters=[32, 64], kernel_sizes=[3, 3], strides=[2, 2], z_dim=LATENT, activation="relu",
                  batch_norm=False, dropout=0.0, likelihood="bernoulli", fact=1.0, batch_size=BATCH, lr=1e-3,
                  seed=0, jit_compile=False)
#: steps per ``model.train`` call of the short-call runner
SHORT = 4


# ---------------------------------------------------------------------------------------------
# The keras.io example, written from its description


class Sampling(keras.layers.Layer):
    """z = z_mean + exp(0.5 * z_log_var) * eps, eps ~ N(0, 1)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch, dim = keras.ops.shape(z_mean)[0], keras.ops.shape(z_mean)[1]
        eps = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
        return z_mean + keras.ops.exp(0.5 * z_log_var) * eps


def example_networks() -> tuple[keras.Model, keras.Model]:
    """The example's encoder (-> z_mean, z_log_var, z) and decoder."""
    inputs = keras.Input(shape=(28, 28, 1))
    x = keras.layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(inputs)
    x = keras.layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(16, activation="relu")(x)
    z_mean = keras.layers.Dense(LATENT, name="z_mean")(x)
    z_log_var = keras.layers.Dense(LATENT, name="z_log_var")(x)
    z = Sampling()([z_mean, z_log_var])
    encoder = keras.Model(inputs, [z_mean, z_log_var, z], name="encoder")

    latent = keras.Input(shape=(LATENT,))
    y = keras.layers.Dense(7 * 7 * 64, activation="relu")(latent)
    y = keras.layers.Reshape((7, 7, 64))(y)
    y = keras.layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(y)
    y = keras.layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(y)
    outputs = keras.layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(y)
    decoder = keras.Model(latent, outputs, name="decoder")
    return encoder, decoder


def zoo_shaped_networks() -> tuple[keras.Model, keras.Model]:
    """zoo's ``vae`` network for ZOO_CONFIG, layer for layer, in the example's encoder style."""
    inputs = keras.Input(shape=(28, 28, 1))
    x = keras.layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(inputs)
    x = keras.layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    x = keras.layers.Flatten()(x)
    z_mean = keras.layers.Dense(LATENT, name="z_mean")(x)
    z_log_var = keras.layers.Dense(LATENT, name="z_log_var")(x)
    z = Sampling()([z_mean, z_log_var])
    encoder = keras.Model(inputs, [z_mean, z_log_var, z], name="encoder")

    latent = keras.Input(shape=(LATENT,))
    y = keras.layers.Dense(7 * 7 * 64)(latent)  # zoo's dec_dense has no activation
    y = keras.layers.Reshape((7, 7, 64))(y)
    y = keras.layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(y)
    outputs = keras.layers.Conv2DTranspose(1, 3, activation="sigmoid", strides=2, padding="same")(y)
    decoder = keras.Model(latent, outputs, name="decoder")
    return encoder, decoder


class VAE(keras.Model):
    """The example's trainer: custom train_step on a GradientTape, three Mean trackers."""

    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def train_step(self, data):
        with tf.GradientTape() as tape:
            z_mean, z_log_var, z = self.encoder(data)
            reconstruction = self.decoder(z)
            reconstruction_loss = keras.ops.mean(
                keras.ops.sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2)))
            kl_loss = -0.5 * (1 + z_log_var - keras.ops.square(z_mean) - keras.ops.exp(z_log_var))
            kl_loss = keras.ops.mean(keras.ops.sum(kl_loss, axis=1))
            total_loss = reconstruction_loss + kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {"loss": self.total_loss_tracker.result(),
                "reconstruction_loss": self.reconstruction_loss_tracker.result(),
                "kl_loss": self.kl_loss_tracker.result()}


# ---------------------------------------------------------------------------------------------
# Runners: each runs one epoch and returns the mean total loss of that epoch


class ZooRunner:
    name = "zoo `vae` (`model.train`)"

    def __init__(self, images: np.ndarray):
        self.images = images
        self.steps_per_epoch = len(images) // BATCH
        self.model = zoo_core.build("vae", **ZOO_CONFIG)
        self.params = int(sum(np.prod(v.shape) for v in self.model.trainer.trainable_weights))
        assert self.params == count_vae_parameters(ZOO_CONFIG)  # no BatchNorm: all weights are trainable
        self.step = 0

    def train_to(self, target: int, every: int) -> list[float]:
        """Continue the same run up to global step ``target`` (``resume=True`` without a checkpoint
        folder continues the model's last run from memory)."""
        history = self.model.train(self.images, steps=target, resume=self.step > 0)
        losses = history["total_loss"][self.step:]
        self.step = target
        return losses

    def epoch(self) -> float:
        losses = self.train_to(self.step + self.steps_per_epoch, self.steps_per_epoch)
        return float(np.mean(losses))  # mean over the epoch, as fit's


class ZooShortRunner(ZooRunner):
    name = f"zoo `vae`, `model.train` in calls of {SHORT} steps"

    def epoch(self) -> float:
        losses: list[float] = []
        end = self.step + self.steps_per_epoch
        while self.step < end:
            losses += self.train_to(min(self.step + SHORT, end), SHORT)
        return float(np.mean(losses))


class ExampleRunner:
    def __init__(self, name: str, networks, x: np.ndarray):
        self.name = name
        self.x = x
        encoder, decoder = networks()
        self.model = VAE(encoder, decoder)
        self.model.compile(optimizer=keras.optimizers.Adam())
        self.params = int(sum(np.prod(v.shape) for v in self.model.trainable_weights))

    def epoch(self) -> float:
        hist = self.model.fit(self.x, epochs=1, batch_size=BATCH, verbose=0)
        return float(hist.history["loss"][-1])


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=6400, help="training images (one epoch = n / 128 batches)")
    parser.add_argument("-k", type=int, default=3, help="timed epochs per model (after one warm-up epoch)")
    parser.add_argument("--no-write", action="store_true", help="print the section only")
    return parser.parse_args()


def make_runners(n: int) -> list:
    """The four runners on the same ``n`` glyphs-28 images: zoo, keras.io loop on zoo's networks, keras.io
    example, zoo in short calls."""
    keras.utils.set_random_seed(0)
    images, _ = load_dataset("glyphs-28", n=n)
    assert images.shape == (n, 28, 28, 1) and images.dtype == np.uint8, (images.shape, images.dtype)
    x = images.astype("float32") / 255.0  # the example feeds fit a float32 array in [0, 1]
    return [ZooRunner(images),
            ExampleRunner("keras.io loop + `fit`, zoo's architecture", zoo_shaped_networks, x),
            ExampleRunner("keras.io example (its architecture, loop, `fit`)", example_networks, x),
            ZooShortRunner(images)]


class Timings:
    """Per runner: the timed epochs' wall and CPU seconds, the last epoch's loss; the whole run's wall time
    and the load average at its start."""

    def __init__(self, runners: list) -> None:
        self.times: dict[str, list[float]] = {r.name: [] for r in runners}
        self.cpu: dict[str, list[float]] = {r.name: [] for r in runners}
        self.losses: dict[str, float] = {}
        self.wall = 0.0
        self.load_start = 0.0

    def best(self) -> dict[str, float]:
        return {name: min(t) for name, t in self.times.items()}

    def median(self) -> dict[str, float]:
        return {name: statistics.median(t) for name, t in self.times.items()}

    def cpu_median(self) -> dict[str, float]:
        return {name: statistics.median(t) for name, t in self.cpu.items()}


def time_epochs(runners: list, k: int) -> Timings:
    """One warm-up epoch per runner, then ``k`` timed rounds with the order rotating per round."""
    timings = Timings(runners)
    times, cpu, losses = timings.times, timings.cpu, timings.losses
    t_start = time.perf_counter()
    timings.load_start = os.getloadavg()[0]
    for r in runners:  # warm-up: tracing, graph building, pipeline start
        t0 = time.perf_counter()
        losses[r.name] = r.epoch()
        print(f"warm-up {r.name}: {time.perf_counter() - t0:.2f} s", flush=True)
    for round_ in range(k):
        order = runners[round_ % len(runners):] + runners[:round_ % len(runners)]
        for r in order:
            t0, c0 = time.perf_counter(), time.process_time()
            losses[r.name] = r.epoch()
            times[r.name].append(time.perf_counter() - t0)
            cpu[r.name].append(time.process_time() - c0)
            print(f"round {round_ + 1} {r.name}: {times[r.name][-1]:.2f} s wall, {cpu[r.name][-1]:.2f} s CPU, "
                  f"loss {losses[r.name]:.2f}", flush=True)
    timings.wall = time.perf_counter() - t_start
    return timings


def table_rows(runners: list, timings: Timings, n: int) -> list[str]:
    """The markdown table: one row per runner."""
    zoo = runners[0]
    best, med, cpu_med = timings.best(), timings.median(), timings.cpu_median()
    rows = ["| model | params | s / epoch: best (median; all) | µs / sample (best) | zoo ÷ this: best, median "
            "| CPU s / epoch (median) | final-epoch total loss |",
            "|---|---:|---|---:|---|---:|---:|"]
    for r in runners:
        each = ", ".join(f"{t:.2f}" for t in timings.times[r.name])
        rows.append(f"| {r.name} | {r.params:,} | {best[r.name]:.2f} ({med[r.name]:.2f}; {each}) | "
                     f"{best[r.name] / n * 1e6:.0f} | {best[zoo.name] / best[r.name]:.2f}, "
                     f"{med[zoo.name] / med[r.name]:.2f} | {cpu_med[r.name]:.2f} | {timings.losses[r.name]:.1f} |")
    return rows


def ratios(runners: list, timings: Timings) -> dict:
    """The ratios the section quotes and the verdicts on their targets."""
    zoo, same, example, short = runners
    best, med, cpu_med = timings.best(), timings.median(), timings.cpu_median()
    r = dict(same=best[zoo.name] / best[same.name], same_med=med[zoo.name] / med[same.name],
             example=best[zoo.name] / best[example.name], cpu=cpu_med[zoo.name] / cpu_med[same.name],
             short=best[short.name] / best[zoo.name], short_med=med[short.name] / med[zoo.name])
    r["verdict"] = "met" if max(r["same"], r["same_med"]) <= 0.85 else "not met"
    r["verdict_short"] = "met" if max(r["short"], r["short_med"]) <= 1.10 else "not met"
    return r


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, " \
           f"TensorFlow {tf.__version__}, Keras {keras.__version__}"
def section_head(args: argparse.Namespace, n: int, timings: Timings, rows: list[str]) -> str:
    """The section's title, command, setup and table."""
    stamp = datetime.date.today().isoformat()
    return f"""## vae

Command: `.venv/bin/python benchmarks/bench_vae.py -n {args.n} -k {args.k}` ({stamp}; {machine()};
1-minute load average {timings.load_start:.1f} at the start; the models were interleaved so that other load falls on
all of them alike).

Epoch time of the zoo `vae` against the keras.io "Variational AutoEncoder" example (Keras 3) trained by its
own `train_step` through `fit`, written in `benchmarks/bench_vae.py` from the example's description. Same
{n:,} glyphs-28 images (uint8 28x28x1) for all, batch 128, {n // BATCH} batches = one epoch, Adam lr 1e-3, no XLA
(`jit_compile` resolves to False on CPU for `fit`; zoo `jit_compile: false`); one warm-up epoch each, then
{args.k} timed epochs each, interleaved with the order rotating per round. Wall time of the whole run
{timings.wall:.0f} s.

zoo config: `filters [32, 64], kernel_sizes [3, 3], strides [2, 2], z_dim 2, activation relu,
batch_norm false, dropout 0, likelihood bernoulli, fact 1, batch_size 128, lr 1e-3`.

{chr(10).join(rows)}

"""


def section_findings(n: int, runners: list, r: dict) -> str:
    """The section's architecture notes and the ratios against their targets."""
    zoo, same, example, _short = runners
    steps, verdict_short = n // BATCH, r["verdict_short"]
    return f"""Architecture differences (zoo's config keys cannot express the example exactly):

* encoder: the example has `Dense(16, relu)` between Flatten (3,136) and the two `Dense(2)` heads; zoo's heads
  read the Flatten output directly (3,136 -> 2 twice);
* decoder: the example runs `Dense(3136, relu) -> Reshape(7, 7, 64) -> Conv2DTranspose(64, s2) -> (32, s2) ->
  (1, s1, sigmoid)`; zoo mirrors its two encoder layers: `Dense(3136) (no activation) -> Reshape(7, 7, 64) ->
  Conv2DTranspose(32, s2, relu) -> (1, s2, sigmoid)`, one transposed convolution fewer and no 64-filter one
  at 14x14 / 28x28, so it is the lighter network ({zoo.params:,} vs {example.params:,} trainable parameters);
* initialisers (zoo: seeded Glorot-uniform; example: Keras defaults), the BCE clipping (zoo 1e-7 in its own
  formula; example `keras.losses.binary_crossentropy`) and the data pipelines (zoo: `tf.data` from uint8 with
  a per-batch cast; example: `fit` on a float32 array) differ too; the last is part of what is timed.

Because of that, the same-architecture comparison is the middle row: the example's `VAE` class and `fit`
around networks built layer for layer like zoo's ({same.params:,} parameters, zoo {zoo.params:,}).
zoo ÷ keras.io loop at the same architecture: **{r['same']:.2f}** per sample on the best epochs
({r['same_med']:.2f} on the medians); target <= 0.85 on both: **{r['verdict']}**.
Short calls ({SHORT} steps per `model.train` call, {-(-steps // SHORT)} calls per epoch) ÷ one call per epoch:
**{r['short']:.2f}** on the best epochs ({r['short_med']:.2f} on the medians); target <= 1.10 on both:
**{verdict_short}** (each call continues the run in memory with `resume=True`; the compiled loop and the images are reused).
In process CPU time per epoch (all threads, medians)
the ratio is {r['cpu']:.2f}. zoo's `model.train` runs {STEPS_PER_CALL} steps per compiled call (a graph loop over
the `tf.data` iterator that hands back every step's three losses at once), where `fit` calls its compiled
step once per batch from Python.
zoo ÷ the full keras.io example (a heavier decoder): {r['example']:.2f} (best epochs).
"Best" is the fastest of the timed epochs, the one least disturbed by the other load.
"""


def main() -> None:
    args = parse_args()
    n = args.n - args.n % BATCH
    runners = make_runners(n)
    timings = time_epochs(runners, args.k)
    text = section_head(args, n, timings, table_rows(runners, timings, n)) + section_findings(
        n, runners, ratios(runners, timings))
    print(text)
    if not args.no_write:
        replace_section(text)
        print(f"wrote the '## vae' section of {Path(__file__).resolve().parent.parent / 'docs' / 'benchmarks.md'}")

if __name__ == "__main__":
    main()
