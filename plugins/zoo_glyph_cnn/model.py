"""glyph-cnn: a small torch classifier of the project's glyph images, trained to be looked into.

Architecture (the seed article's MNIST CNN, padded): per-image standardisation, then
``conv_1`` 3x3 -> ReLU -> 2x2 max-pool, ``conv_2`` 3x3 -> ReLU -> max-pool, ``conv_3`` 3x3 -> ReLU
(7x7 maps for 28x28 inputs), then a dense hidden layer and ``logits`` over the 36 glyph classes
(``0-9A-Z``, :data:`zoo_core.data.datasets.GLYPH_CLASSES`), or the 10 digits of ``digits-28``.
``embed()`` returns the hidden layer and the logits: the catalog entry ``digits-cnn`` is the
reference classifier with which :mod:`zoo_core.media.quality` scores samples of ``digits-28``.

Inputs are float NHWC images in ``[0, 1]`` like every zoo model; the network standardises each
image itself, so the seed's per-image standardisation during feature visualisation is a no-op
for it.

``sample(n, seed)`` returns *class-maximising inputs*: image ``i`` is the gradient-ascent pattern
(default recipe of :mod:`zoo_filterviz`) that maximises the logit of class ``i mod classes``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from zoo_core.backends.torchstate import (
    broadcast_buffers,
    load_optimizer_state,
    load_rng_state,
    model_tensors,
    optimizer_state,
    rng_state,
)
from zoo_core.layers import FeatureProbe
from zoo_core.model import ZooModel
from zoo_core.runtime import BatchSampler, TrainContext, step_seed
from zoo_filterviz.ascent import ascend
from zoo_filterviz.recipe import Recipe
from zoo_filterviz.torch_probe import TorchProbe
from zoo_filterviz.transforms import to_display


class Standardize(nn.Module):
    """Per-image standardisation (zero mean, unit std; std floored at 1/sqrt(pixels))."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Standardise each image of an NCHW batch."""
        flat = x.flatten(1)
        mean = flat.mean(dim=1).view(-1, 1, 1, 1)
        std = flat.std(dim=1, unbiased=False).clamp_min(flat.shape[1] ** -0.5).view(-1, 1, 1, 1)
        return (x - mean) / std


def build_network(channels: list[int], hidden: int, classes: int, size: int, in_channels: int) -> nn.Sequential:
    """The glyph-cnn network (NCHW in, logits out) with named layers ``conv_1..conv_k`` and ``logits``."""
    layers: list[tuple[str, nn.Module]] = [("standardize", Standardize())]
    c_in, side = in_channels, size
    for i, c_out in enumerate(channels, start=1):
        layers += [(f"conv_{i}", nn.Conv2d(c_in, c_out, 3, padding=1)), (f"relu_{i}", nn.ReLU())]
        if i < len(channels):
            layers.append((f"pool_{i}", nn.MaxPool2d(2)))
            side //= 2
        c_in = c_out
    layers += [("flatten", nn.Flatten()), ("dropout", nn.Dropout(0.3)),
               ("hidden", nn.Linear(c_in * side * side, hidden)), ("relu_h", nn.ReLU()),
               ("logits", nn.Linear(hidden, classes))]
    return nn.Sequential(OrderedDict(layers))


class GlyphCNN(ZooModel):
    """The glyph classifier; inspectable by ``zoo layers`` / ``zoo visualize`` / ``zoo activations``."""

    def __init__(self, config: Mapping[str, Any], family: Any = None) -> None:
        super().__init__(config, family)
        from zoo_glyph_cnn import DATASETS

        self.size, self.in_channels, self.classes = DATASETS[self.config["dataset"]]
        #: ``(H, W, C)`` of the uint8 images it classifies and embeds
        self.input_shape = (self.size, self.size, self.in_channels)
        torch.manual_seed(int(self.config["seed"]))
        self.net = build_network(list(self.config["channels"]), int(self.config["hidden"]), self.classes,
                                 self.size, self.in_channels)
        self.net.eval()

    # -- inspection ------------------------------------------------------------------------------

    def feature_probe(self) -> FeatureProbe:
        """Conv layers ``conv_1..`` (after ReLU) plus the class ``logits``."""
        return TorchProbe({"": (self.net, (self.in_channels, self.size, self.size))}, extra=("logits",))

    # -- ZooModel ----------------------------------------------------------------------------------

    def predict(self, images: np.ndarray, batch: int = 500) -> np.ndarray:
        """Class logits for uint8 NHWC images."""
        out = []
        self.net.eval()
        with torch.no_grad():
            for i in range(0, len(images), batch):
                x = torch.as_tensor(np.asarray(images[i:i + batch], dtype=np.float32) / 255.0).permute(0, 3, 1, 2)
                out.append(self.net(x.to(self.device)).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.classes), dtype=np.float32)

    def embed(self, images: np.ndarray, batch: int = 500) -> tuple[np.ndarray, np.ndarray]:
        """``(features, logits)`` of uint8 NHWC images: the dense hidden layer after its ReLU (``hidden``
        floats per image) and the class logits; the features :mod:`zoo_core.media.quality` compares."""
        feats, logits = [], []
        head = self.net[:-1]  # everything up to relu_h
        self.net.eval()
        with torch.no_grad():
            for i in range(0, len(images), batch):
                x = torch.as_tensor(np.asarray(images[i:i + batch], dtype=np.float32) / 255.0).permute(0, 3, 1, 2)
                h = head(x.to(self.device))
                feats.append(h.cpu().numpy())
                logits.append(self.net.logits(h).cpu().numpy())
        if not feats:
            return (np.zeros((0, int(self.config["hidden"])), np.float32), np.zeros((0, self.classes), np.float32))
        return np.concatenate(feats), np.concatenate(logits)

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """Class-maximising inputs: image ``i`` maximises the logit of class ``i % classes`` (uint8 NHWC)."""
        if n == 0:
            return np.zeros((0, self.size, self.size, self.in_channels), dtype=np.uint8)
        classes = [i % self.classes for i in range(n)]
        result = ascend(self.feature_probe(), "logits", classes, Recipe.default(steps=int(self.config["sample_steps"])),
                        seed=seed)
        return to_display(result.images)

    def _data(self, data: Any, split: str, n: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
        from zoo_core.data.datasets import load_dataset

        images, labels = load_dataset(data or self.config["dataset"], split, n=n, seed=seed)
        if labels is None:
            from zoo_core.errors import ZooError

            raise ZooError("glyph-cnn needs labelled data (images and labels)")
        return np.asarray(images), np.asarray(labels)

    def training_session(self, data: Any, steps: int, ctx: Any) -> GlyphCNNSession:
        """glyph-cnn's algorithm for :func:`zoo_core.runtime.fit`: AdamW, one-cycle schedule,
        cross-entropy plus ``sparsity`` times the L1 activation penalty, on the glyph training
        split (or ``data``). History keys: ``loss``, ``acc``."""
        return GlyphCNNSession(self, data, steps, ctx)

    def to(self, device: str) -> GlyphCNN:
        """Move the network to a resolved torch device."""
        self.net.to(device)
        self.device = device
        return self

    def _forward_with_penalty(self, x: torch.Tensor, net: nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits, and the L1 activation penalty: sum over conv layers of the mean post-ReLU activation.

        ``net`` is the module to call (the DistributedDataParallel wrapper when training in a
        world of several ranks); the activations are collected by forward hooks on its layers.
        """
        means: list[torch.Tensor] = []
        hooks = [module.register_forward_hook(lambda _m, _i, out: means.append(out.mean()))
                 for name, module in self.net.named_children() if name.startswith("relu_") and name != "relu_h"]
        try:
            logits = (net or self.net)(x)
        finally:
            for hook in hooks:
                hook.remove()
        penalty = x.new_zeros(())
        for mean in means:
            penalty = penalty + mean
        return logits, penalty

    def evaluate(self, data: Any = None, *, seed: int = 0) -> dict[str, Any]:
        """Accuracy and cross-entropy on the held-out test split (disjoint from training draws)."""
        images, labels = self._data(data, "test", None, seed)
        logits = self.predict(images)
        loss = float(nn.functional.cross_entropy(torch.as_tensor(logits), torch.as_tensor(labels)))
        return {"accuracy": float((logits.argmax(1) == labels).mean()), "cross_entropy": loss,
                "images": int(len(labels))}

    def state_dict(self) -> dict[str, np.ndarray]:
        """Weights as numpy arrays."""
        return {k: v.detach().cpu().numpy().copy() for k, v in self.net.state_dict().items()}

    def load_state_dict(self, tensors: Mapping[str, np.ndarray]) -> None:
        """Set weights from numpy arrays."""
        self.net.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in tensors.items()})
        self.net.eval()


class GlyphCNNSession:
    """One glyph-cnn training run. Step ``k``'s batch comes from :class:`zoo_core.runtime.BatchSampler`
    and its dropout from torch's generator seeded by (seed, k, rank), so a resumed run is exact."""

    steps_per_call = 1
    DROPOUT_STREAM = 0x64726F70  # "drop"

    def __init__(self, model: GlyphCNN, data: Any, steps: int, ctx: TrainContext) -> None:
        cfg = model.config
        self.model, self.world, self.total = model, ctx.world, max(int(steps), 1)
        self.world.init_torch(model.device)
        from zoo_core.data.datasets import GLYPH_SPECS

        glyphs = data is None and cfg["dataset"] in GLYPH_SPECS  # generated: train_size of them
        images, labels = model._data(data, "train", int(cfg["train_size"]) if glyphs else None, int(cfg["seed"]))
        self.examples = int(len(labels))
        self.x = torch.as_tensor(images, dtype=torch.float32).permute(0, 3, 1, 2) / 255.0
        self.y = torch.as_tensor(labels, dtype=torch.long)
        self.sampler = BatchSampler(self.examples, int(cfg["batch_size"]), int(cfg["seed"]), self.world)
        self.optimizer = torch.optim.AdamW(model.net.parameters(), lr=float(cfg["lr"]),
                                           weight_decay=float(cfg["weight_decay"]))
        self.schedule = torch.optim.lr_scheduler.OneCycleLR(self.optimizer, max_lr=float(cfg["lr"]),
                                                            total_steps=self.total)
        self.net = model.net
        if self.world.distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            device = torch.device(model.device)
            self.net = DDP(model.net, device_ids=[device.index] if device.type == "cuda" else None)
        self.device = torch.device(model.device)
        model.net.train()

    def run(self, first: int, last: int) -> list[dict[str, float]]:
        """Train steps ``first..last``; ``{"loss", "acc"}`` per step (this rank's shard)."""
        out = []
        sparsity = float(self.model.config["sparsity"])
        for step in range(first, last + 1):
            idx = torch.from_numpy(self.sampler.indices(step))
            x, y = self.x[idx].to(self.device), self.y[idx].to(self.device)
            with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
                torch.manual_seed(step_seed(int(self.model.config["seed"]), step,
                                            self.DROPOUT_STREAM + self.world.rank))
                logits, penalty = self.model._forward_with_penalty(x, self.net)
            loss = nn.functional.cross_entropy(logits, y)
            if sparsity:
                loss = loss + sparsity * penalty
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            if self.schedule.last_epoch + 1 < self.total:
                self.schedule.step()
            out.append({"loss": float(loss.detach()), "acc": float((logits.argmax(1) == y).float().mean())})
        return out

    def state(self) -> dict[str, np.ndarray]:
        """Weights, AdamW's slots, the schedule's position and torch's RNG."""
        return {**{f"model.{k}": v for k, v in self.model.state_dict().items()}, **optimizer_state(self.optimizer),
                **rng_state(), "schedule.step": np.asarray([self.schedule.last_epoch], dtype=np.int64)}

    def load_state(self, tensors: Mapping[str, np.ndarray]) -> None:
        """Restore what :meth:`state` returned; the one-cycle schedule is replayed to its step."""
        self.model.load_state_dict(model_tensors(tensors))
        self.model.net.train()
        load_optimizer_state(self.optimizer, tensors)
        load_rng_state(tensors)
        target = int(np.asarray(tensors["schedule.step"]).reshape(-1)[0])
        if not 0 <= target <= self.total:
            from zoo_core.errors import WeightsError

            raise WeightsError(f"checkpoint schedule step {target} is outside this run's {self.total} steps")
        import warnings

        with warnings.catch_warnings():  # replaying the schedule without optimizer steps is intended
            warnings.simplefilter("ignore", UserWarning)
            while self.schedule.last_epoch < target:
                self.schedule.step()

    def finish(self) -> None:
        """Every step done: every rank gets rank 0's buffers."""
        if self.world.distributed:
            broadcast_buffers(self.model.net)

    def close(self) -> None:
        """Back to eval mode."""
        self.model.net.eval()
