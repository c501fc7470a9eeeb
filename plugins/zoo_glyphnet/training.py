"""glyphnet's training loop: seeded steps, atomic safetensors checkpoints, exact resume.

Every step ``k`` (1-based) draws its messages and its channel randomness from a
:class:`torch.Generator` seeded with ``step_seed(config["seed"], k)``, so a step depends only on
the weights, the optimizer state and ``k``. A checkpoint holds exactly those (plus the loss
history and torch's global RNG state), which is why a run killed at any moment and resumed from
its last checkpoint retraces, bit for bit, the loss curve of an uninterrupted run.

Checkpoint file (``<checkpoint_dir>/checkpoint.safetensors``, written to a temporary file and
renamed into place, never pickled):

* ``model.<name>``: the model's :meth:`state_dict` (generator and decoder, BatchNorm buffers);
* ``optimizer.<i>.step|exp_avg|exp_avg_sq``: Adam's state for the i-th parameter;
* ``rng.torch``: ``torch.get_rng_state()`` as uint8; ``history.loss``: float64 losses so far;
* header metadata ``zoo_checkpoint``: a small JSON with the format, step, config and the sha256
  of the tensor data, so truncation *and* bit flips are detected.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np
# torch is imported here, not in the package __init__, so that `zoo list` never loads it.
import torch
import torch.nn.functional as F

from zoo_core.errors import WeightsError
from zoo_core.interrupt import DeferredInterrupt
from zoo_core.model import History
from zoo_core.weights import atomic_write_bytes, check_state

if TYPE_CHECKING:  # pragma: no cover
    from zoo_glyphnet.model import GlyphNet

CHECKPOINT_FILE = "checkpoint.safetensors"
CHECKPOINT_FORMAT = "zoo-glyphnet-checkpoint/1"
_MASK64 = (1 << 64) - 1


def splitmix64(x: int) -> int:
    """One round of the SplitMix64 mixer: a well-spread 64-bit integer from any integer."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def step_seed(seed: int, step: int, stream: int = 0) -> int:
    """The torch seed of training step ``step`` of a run seeded ``seed`` (``stream`` separates uses)."""
    return splitmix64(splitmix64(splitmix64(stream) ^ int(seed)) ^ int(step)) >> 1  # torch wants < 2**63


def learning_rate(config: dict, step: int, total: int | None) -> float:
    """The learning rate of step ``step`` (1-based) of a ``total``-step run.

    ``cosine`` decays from ``lr`` at step 1 to almost 0 at step ``total`` (half a cosine period);
    it depends only on the step and the run's length, so a resumed run follows the same curve
    (resuming with another total bends the curve from there on). ``total=None``: the base rate.
    """
    if config["schedule"] == "constant" or total is None or total <= 1:
        return config["lr"]
    return config["lr"] * 0.5 * (1.0 + math.cos(math.pi * (step - 1) / total))


def train_step(model: "GlyphNet", optimizer: torch.optim.Optimizer, step: int, total: int | None = None) -> float:
    """Run training step ``step`` (1-based) of a ``total``-step run in place and return its loss."""
    cfg = model.config
    lr = learning_rate(cfg, step, total)
    for group in optimizer.param_groups:
        group["lr"] = lr
    gen = torch.Generator().manual_seed(step_seed(cfg["seed"], step))
    messages = torch.randn(cfg["batch_size"], cfg["msg_size"], generator=gen)
    images = model.generator(messages)
    received = model.decoder(model.channel(images, generator=gen))
    loss = F.mse_loss(received, messages)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def make_optimizer(model: "GlyphNet") -> torch.optim.Adam:
    """Adam over generator then decoder parameters, at the config's learning rate."""
    return torch.optim.Adam(model.parameters(), lr=model.config["lr"])


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


def run_training(model: "GlyphNet", steps: int, callbacks: Iterable[Any] = (), checkpoint_dir: str | Path | None = None,
                 checkpoint_every: int = 200, resume: bool = False) -> History:
    """Train ``model`` until step ``steps`` (a total, not an increment); see :meth:`GlyphNet.train`."""
    if steps < 0:
        raise ValueError("steps must be >= 0")
    if checkpoint_every < 1:
        raise ValueError("checkpoint_every must be >= 1")
    callbacks = list(callbacks)
    ckpt_path = Path(checkpoint_dir) / CHECKPOINT_FILE if checkpoint_dir is not None else None
    optimizer = make_optimizer(model)
    start, losses = 0, []
    if resume and ckpt_path is not None and ckpt_path.exists():
        start, losses = load_checkpoint(ckpt_path, model, optimizer)
    history = History()
    for i, value in enumerate(losses, start=1):
        history.append(i, {"loss": value})

    threads = torch.get_num_threads()
    torch.set_num_threads(training_threads())
    model.generator.train()
    model.decoder.train()
    done = start
    try:
        with DeferredInterrupt() as interrupt:
            for step in range(start + 1, steps + 1):
                loss = train_step(model, optimizer, step, steps)
                losses.append(loss)
                done = step
                history.append(step, {"loss": loss})
                for callback in callbacks:
                    callback(step, {"loss": loss})
                if ckpt_path is not None and (step % checkpoint_every == 0 or step == steps):
                    save_checkpoint(ckpt_path, model, optimizer, step, losses)
                if interrupt.raised:
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        if ckpt_path is not None and done > 0:
            save_checkpoint(ckpt_path, model, optimizer, done, losses)
        raise
    finally:
        torch.set_num_threads(threads)
        model.generator.eval()
        model.decoder.eval()
    return history


# -- checkpoints ---------------------------------------------------------------------------------


def _data_sha256(blob: bytes) -> str:
    header = int.from_bytes(blob[:8], "little")
    return hashlib.sha256(blob[8 + header:]).hexdigest()


def _comparable(config: dict) -> dict:
    return {k: v for k, v in config.items() if k != "steps"}


def save_checkpoint(path: str | Path, model: "GlyphNet", optimizer: torch.optim.Optimizer, step: int,
                    losses: list[float]) -> Path:
    """Write the full training state after ``step`` atomically to ``path``; return the path."""
    from safetensors.numpy import save  # imported here: only checkpointing needs it

    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            array = value.detach().cpu().numpy() if torch.is_tensor(value) else np.asarray(value, dtype=np.float64)
            tensors[f"optimizer.{index}.{key}"] = np.ascontiguousarray(array.reshape(-1) if array.ndim == 0 else array)
    tensors["rng.torch"] = torch.get_rng_state().numpy()
    tensors["history.loss"] = np.asarray(losses, dtype=np.float64).reshape(-1)
    meta = {"format": CHECKPOINT_FORMAT, "step": int(step), "config": _comparable(model.config),
            "torch": torch.__version__}
    first = save(tensors, metadata={"zoo_checkpoint": json.dumps(meta, sort_keys=True)})
    meta["data_sha256"] = _data_sha256(first)
    blob = save(tensors, metadata={"zoo_checkpoint": json.dumps(meta, sort_keys=True)})
    if _data_sha256(blob) != meta["data_sha256"]:  # the data section must not move with the header
        raise RuntimeError("safetensors changed the tensor data when the header changed")
    path = Path(path)
    atomic_write_bytes(path, blob)
    return path


def read_checkpoint(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """The tensors and metadata of a checkpoint; anything malformed raises one-line :class:`WeightsError`."""
    from safetensors.numpy import load

    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise WeightsError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from None
    try:
        header_len = int.from_bytes(blob[:8], "little")
        if len(blob) < 8 or header_len > len(blob) - 8:
            raise ValueError("truncated header")
        header = json.loads(blob[8:8 + header_len])
        meta = json.loads(header["__metadata__"]["zoo_checkpoint"])
        if meta.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"format {meta.get('format')!r}, expected {CHECKPOINT_FORMAT}")
        if _data_sha256(blob) != meta["data_sha256"]:
            raise ValueError("tensor data does not match its sha256")
        tensors = load(blob)
        if not isinstance(meta.get("step"), int) or meta["step"] < 0 or len(tensors["history.loss"]) != meta["step"]:
            raise ValueError("inconsistent step count")
    except WeightsError:
        raise
    except Exception as exc:  # noqa: BLE001 - any malformation is reported the same way
        reason = (str(exc).splitlines() or [""])[0] or type(exc).__name__
        raise WeightsError(f"checkpoint {path} is corrupt ({type(exc).__name__}: {reason}); "
                           "delete it or start without --resume") from None
    return tensors, meta


def load_checkpoint(path: str | Path, model: "GlyphNet", optimizer: torch.optim.Optimizer) -> tuple[int, list[float]]:
    """Restore model, optimizer and RNG state from ``path``; return ``(step, losses)``."""
    tensors, meta = read_checkpoint(path)
    mine, theirs = _comparable(model.config), meta.get("config", {})
    if mine != theirs:
        diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
        shown = ", ".join(f"{k} {theirs.get(k)!r} != {mine.get(k)!r}" for k in diff[:4])
        raise WeightsError(f"checkpoint {path} belongs to another config ({shown}); use a new run folder")
    weights = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    check_state(model.state_dict(), weights, str(path))
    model.load_state_dict(weights)

    template = optimizer.state_dict()
    params = [p for group in template["param_groups"] for p in group["params"]]
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            tensor = torch.from_numpy(value.copy())
            state.setdefault(int(index), {})[name] = tensor.reshape(()) if name == "step" else tensor
    shapes = {i: tuple(p.shape) for i, p in enumerate(model.parameters())}
    if sorted(state) != sorted(params) or any(
            tuple(s["exp_avg"].shape) != shapes[i] or tuple(s["exp_avg_sq"].shape) != shapes[i]
            for i, s in state.items()):
        raise WeightsError(f"checkpoint {path}: optimizer state does not fit the model")
    optimizer.load_state_dict({"state": state, "param_groups": template["param_groups"]})
    torch.set_rng_state(torch.from_numpy(tensors["rng.torch"].copy()))
    return int(meta["step"]), [float(x) for x in tensors["history.loss"]]
