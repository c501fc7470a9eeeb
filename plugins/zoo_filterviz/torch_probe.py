"""The torch back end: :class:`TorchProbe` over ``nn.Module`` networks taking NCHW images.

Feature maps go out as NHWC float32 numpy (transposed at this edge). A ``Conv2d`` directly followed
(inside an ``nn.Sequential``) by norm and/or activation modules is read after the last of them.
torch is imported inside the methods, never at module import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from zoo_core.errors import ZooError
from zoo_core.layers import FeatureProbe, LayerInfo, NotInspectableError
from zoo_filterviz._common import prefixed, require_image_input

_TORCH_CONV = ("Conv2d", "ConvTranspose2d", "LazyConv2d")
_TORCH_FOLLOWERS = ("ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Tanh",
                    "Sigmoid", "Hardtanh", "Hardswish", "PReLU", "Softplus", "BatchNorm2d", "GroupNorm",
                    "InstanceNorm2d", "LayerNorm")


class _Stop(Exception):
    """Raised by a forward hook: nothing after the probed layer is needed."""


def _dtype_device(net: Any) -> tuple[Any, Any]:
    """The dtype and device of the network's first parameter (float32 on the CPU without one)."""
    import torch

    param = next(net.parameters(), None)
    return (param.dtype, param.device) if param is not None else (torch.float32, "cpu")


class TorchProbe(FeatureProbe):
    """Probe over one or more torch ``nn.Module`` networks taking NCHW images.

    :param specs: ``{name: (module, (C, H, W))}``; with one network, layer names are unprefixed.
    :param extra: qualified module names to list besides the conv layers (e.g. a ``Linear`` of
        class logits: its ``(N, K)`` output is shown as ``(1, 1, K)``).
    """

    framework = "torch"

    def __init__(self, specs: Mapping[str, tuple[Any, tuple[int, ...]]], extra: Sequence[str] = ()) -> None:
        if not specs:
            raise NotInspectableError("torch_modules() returned no network")
        self.specs = dict(specs)
        self.extra = tuple(extra)
        for key, (_, shape) in self.specs.items():
            require_image_input(key, shape)
        self._layers: list[LayerInfo] | None = None
        self._targets: dict[str, tuple[str, Any, Any]] = {}  # name -> (network key, module to hook, conv)

    @property
    def input_shape(self) -> tuple[int, int, int]:  # type: ignore[override]  # a property for the base's attribute
        """``(H, W, C)`` of the first network's input (the one ``zoo visualize`` optimises)."""
        c, h, w = next(iter(self.specs.values()))[1]
        return (h, w, c)

    def _discover(self) -> None:
        many = len(self.specs) > 1
        infos: list[LayerInfo] = []
        for key, (net, shape) in self.specs.items():
            found = [(qual, self._feature_module(net, qual, module), module) for qual, module in net.named_modules()
                     if type(module).__name__ in _TORCH_CONV or qual in self.extra]
            shapes = self._output_shapes(net, shape, [target for _, target, _ in found])
            for qual, target, conv in found:
                if id(target) not in shapes:
                    continue  # not used in forward()
                c, h, w = (*shapes[id(target)], 1, 1)[:3]
                name = prefixed(key, qual, many)
                infos.append(LayerInfo(name, type(conv).__name__, (int(h), int(w), int(c)), "torch"))
                self._targets[name] = (key, target, conv)
        self._layers = infos

    @staticmethod
    def _output_shapes(net: Any, shape: tuple[int, ...], targets: list[Any]) -> dict[int, tuple[int, ...]]:
        """``{id(module): output shape without the batch axis}`` of ``targets``, from one zero input in eval mode."""
        import torch

        shapes: dict[int, tuple[int, ...]] = {}

        def hook(mod: Any, _inp: Any, out: Any) -> None:
            shapes[id(mod)] = tuple(out.shape[1:])

        handles = [target.register_forward_hook(hook) for target in targets]
        try:
            with torch.no_grad():
                dtype, device = _dtype_device(net)
                was_training = net.training
                net.eval()
                net(torch.zeros((1, *shape), dtype=dtype, device=device))
                net.train(was_training)
        finally:
            for h in handles:
                h.remove()
        return shapes

    @staticmethod
    def _feature_module(net: Any, qual: str, conv: Any) -> Any:
        """The conv itself, or the last norm/activation module that directly follows it in a Sequential."""
        import torch

        parent_name, _, child = qual.rpartition(".")
        parent = net.get_submodule(parent_name) if parent_name else net
        if not isinstance(parent, torch.nn.Sequential):
            return conv
        names = [n for n, _ in parent.named_children()]
        target = conv
        for name in names[names.index(child) + 1:]:
            module = getattr(parent, name)
            if type(module).__name__ not in _TORCH_FOLLOWERS:
                break
            target = module
        return target

    def layers(self) -> list[LayerInfo]:
        """The conv layers of every network, in ``named_modules`` order."""
        if self._layers is None:
            self._discover()
        return list(self._layers or [])

    def _run(self, images: np.ndarray, layer: str, grad: bool) -> tuple[Any, Any]:
        """The input tensor and ``layer``'s output, the forward pass stopped right after the layer."""
        import torch

        self.layer(layer)  # validates the name
        key, target, _ = self._targets[layer]
        net, _shape = self.specs[key]
        dtype, device = _dtype_device(net)
        x = torch.as_tensor(np.ascontiguousarray(images.transpose(0, 3, 1, 2)), dtype=dtype, device=device)
        x.requires_grad_(grad)
        captured: dict[str, Any] = {}

        def hook(_mod: Any, _inp: Any, out: Any) -> None:
            captured["out"] = out
            raise _Stop

        handle = target.register_forward_hook(hook)
        was_training = net.training
        net.eval()
        try:
            with torch.enable_grad() if grad else torch.no_grad():
                try:
                    net(x)
                except _Stop:
                    pass
        finally:
            handle.remove()
            net.train(was_training)
        if "out" not in captured:
            raise ZooError(f"layer '{layer}' was not reached in the forward pass")
        return x, captured["out"]

    def activations(self, images: np.ndarray, layer: str) -> np.ndarray:
        """Feature maps of ``layer`` (NHWC float32)."""
        _, out = self._run(np.asarray(images, dtype=np.float32), layer, grad=False)
        if out.ndim == 2:  # a dense layer: (N, K) -> (N, 1, 1, K)
            out = out[:, :, None, None]
        return out.detach().float().cpu().numpy().transpose(0, 2, 3, 1).copy()

    def value_and_grad(self, images: np.ndarray, layer: str,
                       channels: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Mean activation of map ``channels[i]`` on image ``i`` and its input gradient."""
        import torch

        images = np.asarray(images, dtype=np.float32)
        x, out = self._run(images, layer, grad=True)
        idx = torch.as_tensor(list(channels), dtype=torch.long, device=out.device)
        picked = out[torch.arange(out.shape[0], device=out.device), idx]  # (N, H, W), or (N,) for dense
        values = picked.reshape(picked.shape[0], -1).mean(dim=1)
        (grad,) = torch.autograd.grad(values.sum(), x)
        return (values.detach().double().cpu().numpy(),
                grad.detach().float().cpu().numpy().transpose(0, 2, 3, 1).copy())


__all__ = ["TorchProbe"]
