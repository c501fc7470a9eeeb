"""glyph-cnn: a small torch classifier of the project's glyph images, trained to be looked into.

Architecture (the seed article's MNIST CNN, padded): per-image standardisation, then
``conv_1`` 3x3 -> ReLU -> 2x2 max-pool, ``conv_2`` 3x3 -> ReLU -> max-pool, ``conv_3`` 3x3 -> ReLU
(7x7 maps for 28x28 inputs), then a dense hidden layer and ``logits`` over the 36 glyph classes
(``0-9A-Z``, :data:`zoo_core.datasets.GLYPH_CLASSES`).

Inputs are float NHWC images in ``[0, 1]`` like every zoo model; the network standardises each
image itself, so the seed's per-image standardisation during feature visualisation is a no-op
for it.

``sample(n, seed)`` returns *class-maximising inputs*: image ``i`` is the gradient-ascent pattern
(default recipe of :mod:`zoo_core.featureviz`) that maximises the logit of class ``i mod 36``.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import torch
from torch import nn

from zoo_core.layers import FeatureProbe, TorchProbe
from zoo_core.model import Callback, History, ZooModel


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
        from zoo_core.datasets import GLYPH_CLASSES, GLYPH_SPECS

        size, in_ch = GLYPH_SPECS[self.config["dataset"]]
        self.size, self.in_channels, self.classes = size, in_ch, len(GLYPH_CLASSES)
        torch.manual_seed(int(self.config["seed"]))
        self.net = build_network(list(self.config["channels"]), int(self.config["hidden"]), self.classes,
                                 size, in_ch)
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
                out.append(self.net(x).numpy())
        return np.concatenate(out) if out else np.zeros((0, self.classes), dtype=np.float32)

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """Class-maximising inputs: image ``i`` maximises the logit of class ``i % 36`` (uint8 NHWC)."""
        from zoo_core.featureviz import Recipe, ascend, to_display

        classes = [i % self.classes for i in range(n)]
        result = ascend(self.feature_probe(), "logits", classes, Recipe.default(steps=int(self.config["sample_steps"])),
                        seed=seed)
        return to_display(result.images)

    def _data(self, data: Any, split: str, n: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
        from zoo_core.datasets import load_dataset

        images, labels = load_dataset(data or self.config["dataset"], split, n=n, seed=seed)
        if labels is None:
            from zoo_core.errors import ZooError

            raise ZooError("glyph-cnn needs labelled data (images and labels)")
        return np.asarray(images), np.asarray(labels)

    def train(self, data: Any = None, *, steps: int = 1000, callbacks: Iterable[Callback] = (),
              **options: Any) -> History:
        """Train with Adam and cross-entropy on the glyph training split (or ``data``)."""
        from zoo_core.weights import load_tensors, save_tensors

        callbacks = list(callbacks)
        cfg = self.config
        images, labels = self._data(data, "train", int(cfg["train_size"]) if data is None else None,
                                    int(cfg["seed"]))
        x_all = torch.as_tensor(images, dtype=torch.float32).permute(0, 3, 1, 2) / 255.0
        y_all = torch.as_tensor(labels, dtype=torch.long)
        ckpt_dir = options.get("checkpoint_dir")
        every = int(options.get("checkpoint_every") or 0)
        start = 0
        if options.get("resume") and ckpt_dir and (Path(ckpt_dir) / "model.safetensors").is_file():
            tensors = load_tensors(Path(ckpt_dir) / "model.safetensors")
            start = int(tensors.pop("_step")[0])
            self.load_state_dict(tensors)
        opt = torch.optim.AdamW(self.net.parameters(), lr=float(cfg["lr"]), weight_decay=float(cfg["weight_decay"]))
        sparsity = float(cfg["sparsity"])
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=float(cfg["lr"]), total_steps=max(steps, 1))
        for _ in range(start):
            sched.step()
        gen = torch.Generator().manual_seed(int(cfg["seed"]) + start)
        history = History()
        batch = int(cfg["batch_size"])
        self.net.train()
        for step in range(start + 1, steps + 1):
            idx = torch.randint(0, len(x_all), (batch,), generator=gen)
            logits, penalty = self._forward_with_penalty(x_all[idx])
            loss = nn.functional.cross_entropy(logits, y_all[idx])
            if sparsity:
                loss = loss + sparsity * penalty
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            logs = {"loss": loss.item(), "acc": (logits.argmax(1) == y_all[idx]).float().mean().item()}
            if step % 10 == 0 or step == steps:
                history.append(step, logs)
            for cb in callbacks:
                cb(step, logs)
            if ckpt_dir and every and step % every == 0:
                state = self.state_dict()
                state["_step"] = np.array([step], dtype=np.int64)
                Path(ckpt_dir).mkdir(parents=True, exist_ok=True)
                save_tensors(state, Path(ckpt_dir) / "model.safetensors")
        self.net.eval()
        return history

    def _forward_with_penalty(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits, and the L1 activation penalty: sum over conv layers of the mean post-ReLU activation."""
        penalty = x.new_zeros(())
        for name, module in self.net.named_children():
            x = module(x)
            if name.startswith("relu_") and name != "relu_h":
                penalty = penalty + x.mean()
        return x, penalty

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
