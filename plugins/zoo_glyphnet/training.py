"""glyphnet's training algorithm, run by zoo's training runtime (:mod:`zoo_core.runtime`).

Every step ``k`` (1-based) draws its messages and its channel randomness from a
:class:`torch.Generator` seeded with ``step_seed(config["seed"], k)``, so a step depends only on
the weights, the optimizer state and ``k``: a run killed at any moment and resumed from its
last checkpoint retraces, bit for bit, the run that was never interrupted (same thread count).

Data parallel (``zoo train glyphnet --workers N``): every rank draws the same global batch of
``batch_size`` messages and trains on its contiguous shard; its channel randomness comes from a
generator seeded by (seed, step, rank). The training forward pass (generator, channel, decoder)
is one module wrapped in ``DistributedDataParallel``, whose all-reduce averages the gradients, so
the update is that of the global batch; BatchNorm uses each rank's shard statistics (rank 0's
running statistics are broadcast at the end), which is the measured difference from a
one-process run (docs/distributed.md).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

# torch is imported here, not in the package __init__, so that `zoo list` never loads it.
import torch
import torch.nn.functional as F

from zoo_core.backends.allocator import keep_freed_memory
from zoo_core.backends.torchstate import (
    broadcast_buffers,
    ddp_local_buffers,
    load_optimizer_state,
    load_rng_state,
    model_tensors,
    optimizer_state,
    rng_state,
)
from zoo_core.errors import ZooError
from zoo_core.runtime import TrainContext, splitmix64, step_seed
from zoo_core.runtime.distributed import shard

if TYPE_CHECKING:  # pragma: no cover
    from zoo_glyphnet.model import GlyphNet

__all__ = ["GlyphNetSession", "draw_messages", "message_loss", "learning_rate", "splitmix64", "step_seed",
           "training_threads"]


def learning_rate(config: dict, step: int, total: int | None) -> float:
    """The learning rate of step ``step`` (1-based) of a ``total``-step run.

    ``cosine`` decays from ``lr`` at step 1 to almost 0 at step ``total`` (half a cosine period);
    it depends only on the step and the run's length, so a resumed run follows the same curve
    (resuming with another total bends the curve from there on). ``total=None``: the base rate.
    """
    if config["schedule"] == "constant" or total is None or total <= 1:
        return config["lr"]
    return config["lr"] * 0.5 * (1.0 + math.cos(math.pi * (step - 1) / total))


def training_threads() -> int:
    """Threads used for training: every core, unless ``OMP_NUM_THREADS`` asks for fewer.

    On a machine shared with other jobs, ``OMP_NUM_THREADS=1`` can be several times faster than
    oversubscribed cores (OpenMP threads wait on each other); results are bit-exact only for the
    same thread count.
    """
    wanted = os.environ.get("OMP_NUM_THREADS", "").strip()
    if wanted.isdigit() and int(wanted) > 0:
        return int(wanted)
    return os.cpu_count() or 1


class GlyphNetSession:
    """One glyphnet training run: Adam over generator and decoder, the seeded steps, the state."""

    steps_per_call = 1
    examples = None  # glyphnet makes up its messages: no dataset

    def __init__(self, model: GlyphNet, total: int, ctx: TrainContext) -> None:
        self.model, self.total, self.world = model, total, ctx.world
        self.device = torch.device(model.device)
        self.world.init_torch(model.device)
        self.part = shard(int(model.config["batch_size"]), self.world)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=model.config["lr"])
        self._threads = torch.get_num_threads()
        torch.set_num_threads(training_threads())
        keep_freed_memory()  # every step re-allocates the same tensors: keep them paged in
        model.generator.train()
        model.decoder.train()
        self.net: torch.nn.Module = _Pipeline(model)
        if self.world.distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            # One wrapper, one bucket: the gradients are averaged in a single all-reduce after the
            # backward pass. Overlapping several smaller ones with the backward pass (DDP's default)
            # measured 20-30% slower per step with gloo on 2 cores, where the communication only
            # competes with the computation (docs/distributed.md). Gradients live in the bucket
            # (no copies); BatchNorm statistics stay per rank until finish() broadcasts rank 0's.
            self.net = DDP(self.net, device_ids=ids, gradient_as_bucket_view=True,
                           bucket_cap_mb=_ONE_BUCKET_MB, **ddp_local_buffers())

    def run(self, first: int, last: int) -> list[dict[str, float]]:
        """Train steps ``first..last``; one ``{"loss": ...}`` per step (this rank's shard)."""
        return [{"loss": self._step(step)} for step in range(first, last + 1)]

    def _step(self, step: int) -> float:
        cfg = self.model.config
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(cfg, step, self.total)
        gen = torch.Generator().manual_seed(step_seed(cfg["seed"], step))
        messages = draw_messages(cfg, gen)
        if self.world.distributed:
            messages = messages[self.part]
            gen = torch.Generator().manual_seed(step_seed(cfg["seed"], step, stream=1 + self.world.rank))
        messages = messages.to(self.device)
        mode = cfg.get("message", "continuous")
        clean = cfg.get("clean_weight", 0.0) > 0
        images, received, received_clean = self.net(messages, gen, clean)
        loss = message_loss(mode, received, messages)
        if clean:
            loss = loss + cfg["clean_weight"] * message_loss(mode, received_clean, messages)
        loss = loss + glyph_penalty(cfg, images, messages)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    # -- state ---------------------------------------------------------------------------------

    def state(self) -> dict[str, np.ndarray]:
        """Model weights (``model.*``), Adam's slots (``optimizer.*``) and torch's RNG (``rng.torch``)."""
        return {**{f"model.{k}": v for k, v in self.model.state_dict().items()},
                **optimizer_state(self.optimizer), **rng_state()}

    def load_state(self, tensors: Mapping[str, np.ndarray]) -> None:
        """Restore what :meth:`state` returned (weights already checked by the runtime)."""
        self.model.load_state_dict(model_tensors(tensors))
        load_optimizer_state(self.optimizer, tensors)
        load_rng_state(tensors)

    def finish(self) -> None:
        """Every step done: every rank gets rank 0's BatchNorm statistics (what it checkpointed)."""
        if self.world.distributed:
            broadcast_buffers(self.model.generator, self.model.decoder)

    def close(self) -> None:
        """Back to eval mode and the caller's thread count."""
        torch.set_num_threads(self._threads)
        self.model.generator.eval()
        self.model.decoder.eval()


#: DDP's bucket size: larger than any glyphnet's gradients (glyphnet-64: 2.6 MB), so one all-reduce
_ONE_BUCKET_MB = 1024


class _Pipeline(torch.nn.Module):
    """One training forward pass: generator, noise channel, decoder (and the decoder on the clean glyphs)."""

    def __init__(self, model: GlyphNet) -> None:
        super().__init__()
        self.generator, self.decoder, self.channel = model.generator, model.decoder, model.channel

    def forward(self, messages: torch.Tensor, gen: torch.Generator, clean: bool):
        images = self.generator(messages)
        distorted = self.channel(images, generator=gen)
        if not clean:
            return images, self.decoder(distorted), None
        # One decoder pass over distorted and clean glyphs together, so that BatchNorm normalises
        # both with the statistics of their mixture, the statistics its running averages (what eval
        # mode uses) converge to. Two passes normalised each kind by its own batch statistics in
        # training while eval used the blend: measured on glyphnet-32's recipe with clean_weight 0.1,
        # reading through the channel fell from 0.950 (running statistics of distorted glyphs) to 0.869.
        received, received_clean = self.decoder(torch.cat([distorted, images])).split(len(images))
        return images, received, received_clean


def draw_messages(config: dict, generator: torch.Generator) -> torch.Tensor:
    """A step's ``batch_size`` messages: N(0, 1) floats, one-hot symbols or +-1 bit strings."""
    batch, size, mode = config["batch_size"], config["msg_size"], config.get("message", "continuous")
    if mode == "continuous":
        return torch.randn(batch, size, generator=generator)
    if mode == "onehot":
        return F.one_hot(torch.randint(0, size, (batch,), generator=generator), size).float()
    return 2.0 * torch.randint(0, 2, (batch, size), generator=generator).float() - 1.0


def message_loss(mode: str, received: torch.Tensor, messages: torch.Tensor) -> torch.Tensor:
    """MSE (continuous), cross-entropy over the symbols (onehot), binary cross-entropy per bit (binary)."""
    if mode == "continuous":
        return F.mse_loss(received, messages)
    if mode == "onehot":
        return F.cross_entropy(received, messages.argmax(dim=1))
    return F.binary_cross_entropy_with_logits(received, (messages > 0).float())


def glyph_penalty(config: dict, images: torch.Tensor, messages: torch.Tensor | None = None) -> torch.Tensor | float:
    """The glyph-shape terms of the loss, each on when its weight is positive.

    - ``ink_weight`` * mean ink;
    - ``diversity_weight`` * mean correlation of each glyph with the batch mean (that of
      :func:`zoo_glyphnet.metrics.glyph_statistics`, on the soft, unbinarised glyphs);
    - ``separation_weight`` * mean over the pairs of *different* messages of
      ``relu(separation_margin - d / (2 p (1 - p)))``, where ``d`` is the pair's mean absolute pixel
      difference (the Hamming distance once the glyphs are black and white; grey glyphs equal to
      each other stay at 0, so it cannot be met with grey) and ``p`` the batch's mean ink. The
      hinge only acts on pairs closer than the margin: it lifts the *closest* pairs, which is
      what an alphabet's "no two symbols closer than 0.5" asks. With ``separation_pool`` k > 1
      the glyphs are average-pooled k x k first: the cost falls by k^2, and since
      ``|mean(a - b)| <= mean|a - b|`` a pair pushed apart when pooled is at least as far apart in
      full. (A generator with ``upsample`` draws shapes that are smooth at that scale anyway.)
    """
    penalty: torch.Tensor | float = 0.0
    if config.get("ink_weight", 0.0) > 0:
        penalty = penalty + config["ink_weight"] * images.mean()
    if config.get("diversity_weight", 0.0) > 0:
        flat = images.flatten(1)
        centred = flat - flat.mean(dim=1, keepdim=True)
        mean = flat.mean(dim=0)
        mean = mean - mean.mean()
        corr = (centred @ mean) / (centred.norm(dim=1) * mean.norm() + 1e-6)
        penalty = penalty + config["diversity_weight"] * corr.mean()
    if config.get("separation_weight", 0.0) > 0 and messages is not None and len(images) > 1:
        pool = int(config.get("separation_pool", 1))
        pooled = F.avg_pool2d(images, pool) if pool > 1 else images
        hinge = separation_hinge(pooled, messages, config["separation_margin"])
        penalty = penalty + config["separation_weight"] * hinge
    return penalty


def separation_hinge(images: torch.Tensor, messages: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean of ``relu(margin - hamming ratio)`` over the batch's pairs of different messages."""
    flat = images.flatten(1)
    p = flat.mean().clamp(1e-3, 1 - 1e-3)
    distance = torch.cdist(flat, flat, p=1.0) / flat.shape[1]  # mean |a - b| per pair
    ratio = distance / (2 * p * (1 - p))
    different = torch.cdist(messages.flatten(1), messages.flatten(1)) > 1e-6
    pairs = torch.triu(different, diagonal=1)
    if not bool(pairs.any()):
        return flat.sum() * 0.0
    return torch.relu(margin - ratio[pairs]).mean()


def check_no_data(data: object) -> None:
    """glyphnet makes up its own messages."""
    if data is not None:
        raise ZooError("glyphnet trains on random messages and takes no --data")
