"""Training state of torch families as flat numpy dicts, for :mod:`zoo_core.runtime` checkpoints.

Imported only by torch families' training code (it imports torch). Optimizer slots become
``optimizer.<param index>.<slot>`` arrays (torch's own ``state_dict`` numbering), the CPU random
generator ``rng.torch``; loading goes back through ``Optimizer.load_state_dict``, which checks
the parameter groups and moves every slot to its parameter's device.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from zoo_core.errors import WeightsError


def optimizer_state(optimizer: torch.optim.Optimizer) -> dict[str, np.ndarray]:
    """Every slot of ``optimizer`` (Adam's step, exp_avg, exp_avg_sq...) as numpy arrays."""
    out: dict[str, np.ndarray] = {}
    for index, slots in optimizer.state_dict()["state"].items():
        for key, value in slots.items():
            array = value.detach().cpu().numpy() if torch.is_tensor(value) else np.asarray(value, dtype=np.float64)
            out[f"optimizer.{index}.{key}"] = np.ascontiguousarray(array.reshape(-1) if array.ndim == 0 else array)
    return out


def load_optimizer_state(optimizer: torch.optim.Optimizer, tensors: Mapping[str, np.ndarray]) -> None:
    """Restore what :func:`optimizer_state` returned; a mismatch is a one-line :class:`WeightsError`."""
    template = optimizer.state_dict()
    params = [p for group in template["param_groups"] for p in group["params"]]
    shapes = [tuple(p.shape) for group in optimizer.param_groups for p in group["params"]]
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if not key.startswith("optimizer."):
            continue
        try:
            _, index, name = key.split(".", 2)
            slot = int(index)
        except ValueError:
            raise WeightsError(f"checkpoint has a malformed optimizer entry {key!r}") from None
        if slot not in params:
            raise WeightsError(f"checkpoint optimizer state names parameter {slot}, the model has {len(params)}")
        tensor = torch.from_numpy(np.array(value, copy=True))
        if name == "step":
            tensor = tensor.reshape(())
        elif tuple(tensor.shape) != shapes[slot]:
            raise WeightsError(f"checkpoint optimizer slot {key} has shape {tuple(tensor.shape)}, "
                               f"the parameter {shapes[slot]}")
        state.setdefault(slot, {})[name] = tensor
    optimizer.load_state_dict({"state": state, "param_groups": template["param_groups"]})


def rng_state() -> dict[str, np.ndarray]:
    """torch's global CPU generator state."""
    return {"rng.torch": torch.get_rng_state().numpy().copy()}


def load_rng_state(tensors: Mapping[str, np.ndarray]) -> None:
    """Restore torch's global CPU generator from :func:`rng_state`'s array."""
    if "rng.torch" in tensors:
        try:
            torch.set_rng_state(torch.from_numpy(np.array(tensors["rng.torch"], dtype=np.uint8)))
        except RuntimeError as exc:
            raise WeightsError(f"checkpoint RNG state is invalid ({str(exc).splitlines()[0]})") from None


def broadcast_buffers(*modules: torch.nn.Module) -> None:
    """Give every rank rank 0's buffers (batch-norm statistics), as DDP does before each forward.

    After the last step each rank's buffers hold its own shard's update; this makes the final
    model what rank 0 checkpointed. A no-op unless ``torch.distributed`` is initialised.
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return
    for module in modules:
        for buffer in module.buffers():
            dist.broadcast(buffer.data, src=0)


def ddp_local_buffers() -> dict:
    """``DistributedDataParallel`` keyword arguments that keep buffers per rank between steps.

    torch 2.13 deprecated ``broadcast_buffers`` (a FutureWarning per wrapper) for
    ``forward_sync_buffers``; both say "do not broadcast rank 0's buffers before each forward".
    The new one still syncs them once at construction, which changes nothing here: DDP gives every
    rank rank 0's parameters there too, and the buffers of a model built from one seed or loaded
    from one checkpoint are already equal. Older torch gets ``broadcast_buffers=False``.
    """
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    if "forward_sync_buffers" in inspect.signature(DistributedDataParallel.__init__).parameters:
        return {"forward_sync_buffers": False}
    return {"broadcast_buffers": False}


def model_tensors(tensors: Mapping[str, np.ndarray], prefix: str = "model.") -> dict[str, np.ndarray]:
    """The entries of ``tensors`` under ``prefix``, with the prefix removed."""
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


__all__ = ["broadcast_buffers", "ddp_local_buffers", "load_optimizer_state", "load_rng_state", "model_tensors",
           "optimizer_state", "rng_state"]
