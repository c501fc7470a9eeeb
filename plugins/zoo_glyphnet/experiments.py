"""The blog post's three "usefulness" experiments, on any glyphnet model and any labelled images.

1. :func:`reconstruct`: run the network the other way round, as an ordinary auto-encoder: the
   decoder reads an image into a message, the generator draws that message.
2. :func:`probe`: a linear classifier on the (frozen) decoder's output, for the trained decoder
   and for a randomly initialised one of the same config: test accuracy and how many steps it
   takes to get there.
3. :func:`optimise`: freeze the generator and optimise messages by gradient descent until it draws
   given images, for the trained generator and a randomly initialised one.

The images come from :func:`load_images`: glyphs rendered from fonts (``glyphs``, the default) or
anything :func:`zoo_core.data.datasets.load_dataset` reads (``digits-28``, a ``.npz`` with labels, ...),
resized to the model's side and channels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# torch is imported here, not in the package __init__, so that `zoo list` never loads it.
import torch
import torch.nn.functional as F

from zoo_core.errors import ZooError

__all__ = ["EXPERIMENTS", "load_images", "reconstruct", "probe", "optimise", "random_twin"]

EXPERIMENTS = ("reconstruct", "probe", "optimise")


def load_images(model: Any, data: str | None, split: str, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 (n, S, S, C), labels (n,))`` at the model's size; ``data=None``: rendered glyphs.

    A file without a test split is split here: its last fifth is ``test``, the rest ``train``.
    """
    from zoo_core.data.datasets import load_dataset

    size, channels = model.config["image_size"], model.config["channels"]
    spec = data if data is not None else "glyphs-28"
    if data is None:
        images, labels = load_dataset(spec, split, n=n, seed=seed, size=size, channels=channels, fonts="pillow")
    else:
        images, labels = load_dataset(spec, split, size=size, channels=channels)
        test_images, _ = load_dataset(spec, "test" if split == "train" else "train", size=size, channels=channels)
        if len(test_images) == len(images) and np.array_equal(test_images[:1], images[:1]):  # one set: split it
            cut = len(images) - len(images) // 5
            part = slice(0, cut) if split == "train" else slice(cut, None)
            images = images[part]
            labels = labels[part] if labels is not None else None
        images, labels = images[:n], (labels[:n] if labels is not None else None)
    if labels is None:
        labels = np.full(len(images), -1, dtype=np.int64)
    return images, np.asarray(labels, dtype=np.int64)


def _tensor(images: np.ndarray, device: str) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float().div_(255.0).to(device)


def _uint8(images: torch.Tensor) -> np.ndarray:
    return images.mul(255.0).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def random_twin(model: Any, images: np.ndarray | None = None) -> Any:
    """A glyphnet of the same config with freshly initialised (untrained) weights.

    Its batch-norm statistics are measured, not left at their initial (0, 1): the generator's on
    512 prior messages, the decoder's on ``images`` (default: the twin's own glyphs). Otherwise a
    random generator in eval mode draws a flat grey whatever the message, a strawman.
    """
    import zoo_core
    from zoo_glyphnet.model import GlyphNet

    twin = zoo_core.build("glyphnet", **model.config).to(model.device)
    assert isinstance(twin, GlyphNet)

    def calibrate(net: torch.nn.Module, inputs: torch.Tensor) -> None:
        norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over the calibration batches
        net.train()
        with torch.no_grad():
            for i in range(0, len(inputs), 256):
                net(inputs[i:i + 256])
        net.eval()
        for m in norms:
            m.momentum = 0.1

    messages = torch.from_numpy(twin.sample_latent(512, seed=12345)).to(model.device)
    calibrate(twin.generator, messages)
    with torch.no_grad():
        own = twin.generator(messages)
    calibrate(twin.decoder, _tensor(images, model.device) if images is not None else own)
    return twin


def reconstruct(model: Any, images: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Image -> decoder -> message -> generator -> image, in eval mode.

    :return: ``reconstructions`` (uint8), ``mse`` (per pixel, 0..1 scale), ``mse_mean_image``
        (the MSE of predicting every image by the mean image, for scale) and, with labels,
        ``class_distance_ratio``: mean distance between reconstructions of the same class over
        that between different classes (below 1: classes come back as their own shapes).
    """
    model.generator.eval()
    model.decoder.eval()
    with torch.inference_mode():
        x = _tensor(images, model.device)
        out = model.generator(model.decoder(x))
    result: dict[str, Any] = {
        "reconstructions": _uint8(out),
        "mse": float(((out - x) ** 2).mean()),
        "mse_mean_image": float(((x - x.mean(dim=0, keepdim=True)) ** 2).mean()),
    }
    if (labels >= 0).all() and len(np.unique(labels)) > 1:
        flat = out.flatten(1).cpu().double()
        dist = torch.cdist(flat, flat)
        same = torch.from_numpy(labels[:, None] == labels[None, :])
        off = ~torch.eye(len(labels), dtype=torch.bool)
        result["class_distance_ratio"] = float(dist[same & off].mean() / dist[~same].mean())
    return result


def _features(model: Any, images: np.ndarray) -> torch.Tensor:
    model.decoder.eval()
    with torch.inference_mode():
        return torch.cat([model.decoder(_tensor(images[i:i + 256], model.device)).float().cpu()
                          for i in range(0, len(images), 256)])


def _linear_probe(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
                  steps: int, seed: int, every: int) -> tuple[list[int], list[float]]:
    mean, std = train_x.mean(dim=0), train_x.std(dim=0).clamp_min(1e-6)
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    classes = int(max(train_y.max(), test_y.max())) + 1
    gen = torch.Generator().manual_seed(seed)
    weight = (torch.randn(train_x.shape[1], classes, generator=gen) * 0.01).requires_grad_(True)
    bias = torch.zeros(classes, requires_grad=True)
    opt = torch.optim.Adam([weight, bias], lr=1e-2)
    at, acc = [], []
    for step in range(1, steps + 1):
        pick = torch.randint(0, len(train_x), (min(128, len(train_x)),), generator=gen)
        loss = F.cross_entropy(train_x[pick] @ weight + bias, train_y[pick])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % every == 0 or step == steps:
            with torch.no_grad():
                at.append(step)
                acc.append(float(((test_x @ weight + bias).argmax(dim=1) == test_y).double().mean()))
    return at, acc


def probe(model: Any, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray],
          steps: int = 500, seed: int = 0) -> dict[str, Any]:
    """A linear classifier (Adam, batch 128, standardised features) on the frozen decoder's output.

    :return: for ``trained`` and ``random`` (a randomly initialised decoder of the same config,
        batch-norm statistics measured on the training images, see :func:`random_twin`):
        ``accuracy_*`` (test accuracy after ``steps`` steps), ``steps_to_95pct_*`` (the first
        evaluation step, every ``steps // 50``, at which test accuracy reached 95% of that final
        figure) and ``curve_*`` (steps, accuracies).
    """
    (train_images, train_labels), (test_images, test_labels) = train, test
    if (train_labels < 0).any() or (test_labels < 0).any():
        raise ZooError("the probe needs labelled images (an .npz with 'y' / 'labels', or a built-in dataset)")
    every = max(1, steps // 50)
    result: dict[str, Any] = {"steps": steps, "train_images": len(train_images), "test_images": len(test_images)}
    for name, net in (("trained", model), ("random", random_twin(model, train_images))):
        at, acc = _linear_probe(_features(net, train_images), torch.from_numpy(train_labels),
                                _features(net, test_images), torch.from_numpy(test_labels), steps, seed, every)
        result[f"accuracy_{name}"] = acc[-1]
        result[f"steps_to_95pct_{name}"] = next(s for s, a in zip(at, acc, strict=True) if a >= 0.95 * acc[-1])
        result[f"curve_{name}"] = [at, acc]
    return result


def optimise(model: Any, images: np.ndarray, steps: int = 300, lr: float = 0.05, seed: int = 0) -> dict[str, Any]:
    """Messages optimised (Adam, from N(0, 1) draws) so that the frozen generator draws ``images``.

    :return: for ``trained`` and ``random`` (a randomly initialised generator, batch-norm statistics
        measured on prior messages): ``mse_*`` (per
        pixel, after ``steps`` steps) and ``images_*`` (uint8); ``mse_start_trained`` (before).
    """
    target = _tensor(images, model.device)
    start = torch.randn(len(images), model.latent_size, generator=torch.Generator().manual_seed(seed))
    result: dict[str, Any] = {"steps": steps}
    for name, net in (("trained", model), ("random", random_twin(model))):
        net.generator.eval()
        for p in net.generator.parameters():
            p.requires_grad_(False)
        msgs = start.clone().to(model.device).requires_grad_(True)
        opt = torch.optim.Adam([msgs], lr=lr)
        for step in range(steps + 1):
            loss = F.mse_loss(net.generator(msgs), target)
            if step == 0 and name == "trained":
                result["mse_start_trained"] = float(loss.detach())
            if step == steps:
                break
            opt.zero_grad()
            loss.backward()
            opt.step()
        for p in net.generator.parameters():
            p.requires_grad_(True)
        with torch.no_grad():
            drawn = net.generator(msgs)
        result[f"mse_{name}"] = float(F.mse_loss(drawn, target))
        result[f"images_{name}"] = _uint8(drawn)
    return result
