"""Looking inside a model: its conv layers, their feature maps, and gradients of a map's activation.

This is the small, framework-neutral interface that feature visualisation (:mod:`zoo_core.featureviz`,
``zoo layers``, ``zoo visualize``, ``zoo activations``) is written against. Nothing here imports a
deep-learning framework at module import; the torch and keras back ends import theirs inside
their functions.

Conventions (one for every framework):

* Images and feature maps are **NHWC float32 numpy** arrays: ``(N, H, W, C)``. A torch back end
  transposes to and from NCHW at its edge.
* :attr:`LayerInfo.output_shape` is ``(H, W, C)`` of one example (channels last, like zoo images).
* Inputs live in the model's own input space: for zoo models, float images in ``[0, 1]``
  (:meth:`FeatureProbe.prepare` maps ``uint8`` images into it).
* A layer's *feature map* is its output after the normalisation/activation that immediately
  follows it: a keras ``Conv2D(activation="relu")`` includes it, a keras conv whose output feeds
  ``BatchNormalization``/``Activation``/``LeakyReLU``... layers (in a chain) is read after the last
  of them; a torch ``Conv2d`` directly followed (inside an ``nn.Sequential``) by norm and/or
  activation modules likewise.

How a model becomes inspectable, in order of preference (see :func:`probe_for`):

1. it implements :class:`Inspectable`: ``feature_probe() -> FeatureProbe``;
2. it exposes its torch networks: ``torch_modules() -> {name: (nn.Module, (C, H, W))}``, the
   input shape of one example in torch's own layout;
3. it exposes its keras networks: ``keras_models() -> {name: keras.Model}`` (functional or built
   ``Sequential``; keras knows the input shape);
4. it *is* an ``nn.Module`` (pass ``input_shape=(C, H, W)``) or a ``keras.Model``.

With several networks, layer names are prefixed: ``decoder/net.3``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from zoo_core.errors import ZooError


class UnknownLayerError(ZooError, KeyError):
    """A layer name the model does not have; the message lists the valid ones."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ChannelError(ZooError, ValueError):
    """A channel index or range outside a layer's channels; the message gives the valid range."""


class NotInspectableError(ZooError, TypeError):
    """A model that exposes no network zoo can look into."""


@dataclass(frozen=True)
class LayerInfo:
    """One inspectable (convolutional) layer.

    :param name: the name to pass as ``--layer``.
    :param kind: the layer class, e.g. ``"Conv2d"`` or ``"Conv2D"``.
    :param output_shape: ``(H, W, C)`` of the feature maps of one example (channels last).
    :param framework: ``"torch"`` or ``"keras"``.
    """

    name: str
    kind: str
    output_shape: tuple[int, int, int]
    framework: str

    @property
    def channels(self) -> int:
        """Number of feature maps (the last entry of :attr:`output_shape`)."""
        return int(self.output_shape[-1])


class FeatureProbe(ABC):
    """Maps an input batch to feature maps, and to the mean activation of chosen maps with gradients.

    Subclasses set :attr:`framework` and :attr:`input_shape` and implement :meth:`layers`,
    :meth:`activations` and :meth:`value_and_grad`.
    """

    #: ``"torch"`` or ``"keras"``
    framework: str = ""
    #: ``(H, W, C)`` of one input example
    input_shape: tuple[int, int, int] = (0, 0, 0)

    @abstractmethod
    def layers(self) -> list[LayerInfo]:
        """The conv layers, in forward order."""

    @abstractmethod
    def activations(self, images: np.ndarray, layer: str) -> np.ndarray:
        """Feature maps of ``layer`` for an NHWC float32 batch, as NHWC float32."""

    @abstractmethod
    def value_and_grad(self, images: np.ndarray, layer: str,
                       channels: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Mean activation of map ``channels[i]`` for image ``i``, and its gradient w.r.t. image ``i``.

        :param images: ``(N, H, W, C)`` float32, ``N == len(channels)``.
        :returns: ``values`` ``(N,)`` float64 and ``grads`` ``(N, H, W, C)`` float32.
        """

    def prepare(self, images: np.ndarray) -> np.ndarray:
        """``uint8`` NHWC images -> the model's input space (float32 in ``[0, 1]`` by default)."""
        return np.asarray(images, dtype=np.float32) / 255.0

    def layer(self, name: str) -> LayerInfo:
        """The :class:`LayerInfo` called ``name``, or :class:`UnknownLayerError` listing the valid names."""
        infos = self.layers()
        for info in infos:
            if info.name == name:
                return info
        from zoo_core.suggest import did_you_mean

        valid = ", ".join(i.name for i in infos) or "none"
        raise UnknownLayerError(f"unknown layer '{name}'{did_you_mean(name, [i.name for i in infos])} "
                                f"(valid layers: {valid})")

    def check_channels(self, name: str, channels: Sequence[int]) -> list[int]:
        """Validate channel indices of layer ``name``; raise :class:`ChannelError` naming the valid range."""
        info = self.layer(name)
        bad = [c for c in channels if not 0 <= int(c) < info.channels]
        if bad:
            raise ChannelError(f"channel {bad[0]} is out of range for layer '{name}', which has "
                               f"{info.channels} channels (valid: 0..{info.channels - 1})")
        if not channels:
            raise ChannelError(f"no channels chosen for layer '{name}' (valid: 0..{info.channels - 1})")
        return [int(c) for c in channels]


@runtime_checkable
class Inspectable(Protocol):
    """A model that hands out its own :class:`FeatureProbe` (the most explicit way to opt in)."""

    def feature_probe(self) -> FeatureProbe:
        """The probe over this model's networks."""
        ...


def parse_channels(text: str, count: int | None = None) -> list[int]:
    """Parse ``"0:16"``, ``"0:16:2"``, ``"3"``, ``"1,5,9"`` (or mixes: ``"0:4,9"``) into channel indices.

    ``"a:"`` runs to ``count`` (needed then); ``":"`` or ``"all"`` is every channel.
    """
    out: list[int] = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        if part == "all":
            part = ":"
        if ":" in part:
            bits = part.split(":")
            if len(bits) > 3:
                raise ChannelError(f"cannot read channel range '{part}' (use start:stop or start:stop:step)")
            try:
                start = int(bits[0]) if bits[0] else 0
                step = int(bits[2]) if len(bits) == 3 and bits[2] else 1
                if bits[1]:
                    stop = int(bits[1])
                elif count is not None:
                    stop = count
                else:
                    raise ChannelError(f"channel range '{part}' needs an end")
            except ValueError:
                raise ChannelError(f"cannot read channel range '{part}' (use start:stop, e.g. 0:16)") from None
            if step <= 0:
                raise ChannelError(f"channel range '{part}': step must be positive")
            if count is not None and stop > count:
                raise ChannelError(f"channel range '{part}' ends past the last channel "
                                   f"(valid: 0..{count - 1})")
            out.extend(range(start, stop, step))
        else:
            try:
                out.append(int(part))
            except ValueError:
                raise ChannelError(f"cannot read channel '{part}' (use e.g. 3, 0:16 or 1,5,9)") from None
    return out


# ---------------------------------------------------------------------------------------------
# Finding the probe of a model


def probe_for(model: Any, input_shape: Sequence[int] | None = None) -> FeatureProbe:
    """The :class:`FeatureProbe` of a zoo model, an ``nn.Module`` or a ``keras.Model``.

    :param input_shape: only for a bare ``nn.Module``: ``(C, H, W)`` of one input example.
    :raises NotInspectableError: when the model exposes no network.
    """
    if isinstance(model, FeatureProbe):
        return model
    if hasattr(model, "feature_probe"):
        return model.feature_probe()
    if hasattr(model, "torch_modules"):
        return TorchProbe(_as_torch_specs(model.torch_modules()))
    if hasattr(model, "keras_models"):
        return KerasProbe(dict(model.keras_models()))
    kind = _framework_of(model)
    if kind == "torch":
        if input_shape is None:
            raise NotInspectableError("a bare torch module needs input_shape=(C, H, W)")
        return TorchProbe({"": (model, tuple(input_shape))})
    if kind == "keras":
        return KerasProbe({"": model})
    name = getattr(model, "name", None) or type(model).__name__
    raise NotInspectableError(
        f"model '{name}' exposes no network to inspect: its class needs feature_probe(), "
        "torch_modules() -> {name: (nn.Module, (C, H, W))} or keras_models() -> {name: keras.Model}")


def _framework_of(obj: Any) -> str | None:
    for cls in type(obj).__mro__:
        mod = cls.__module__ or ""
        if mod.startswith("torch.nn"):
            return "torch"
        if mod.startswith(("keras", "tf_keras", "tensorflow")):
            return "keras"
    return None


def _as_torch_specs(raw: Mapping[str, Any]) -> dict[str, tuple[Any, tuple[int, ...]]]:
    specs = {}
    for key, value in raw.items():
        if not isinstance(value, tuple) or len(value) != 2:
            raise NotInspectableError(f"torch_modules()['{key}'] must be (nn.Module, (C, H, W))")
        specs[key] = (value[0], tuple(int(v) for v in value[1]))
    return specs


def _prefixed(prefix: str, name: str, many: bool) -> str:
    return f"{prefix}/{name}" if many else name


def _split_image_shape(key: str, shape: Sequence[int]) -> None:
    if len(shape) != 3:
        raise NotInspectableError(
            f"network '{key or 'model'}' takes inputs of shape {tuple(shape)}; only image inputs "
            "(3 dimensions) can be visualised")


# ---------------------------------------------------------------------------------------------
# torch


_TORCH_CONV = ("Conv2d", "ConvTranspose2d", "LazyConv2d")
_TORCH_FOLLOWERS = ("ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Tanh",
                    "Sigmoid", "Hardtanh", "Hardswish", "PReLU", "Softplus", "BatchNorm2d", "GroupNorm",
                    "InstanceNorm2d", "LayerNorm")


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
            _split_image_shape(key, shape)
        self._layers: list[LayerInfo] | None = None
        self._targets: dict[str, tuple[str, Any, Any]] = {}  # name -> (network key, module to hook, conv)

    @property
    def input_shape(self) -> tuple[int, int, int]:  # type: ignore[override]
        """``(H, W, C)`` of the first network's input (the one ``zoo visualize`` optimises)."""
        c, h, w = next(iter(self.specs.values()))[1]
        return (h, w, c)

    def _discover(self) -> None:
        import torch

        many = len(self.specs) > 1
        infos: list[LayerInfo] = []
        for key, (net, shape) in self.specs.items():
            found: list[tuple[str, Any, Any]] = []
            for qual, module in net.named_modules():
                if type(module).__name__ not in _TORCH_CONV and qual not in self.extra:
                    continue
                found.append((qual, self._feature_module(net, qual, module), module))
            shapes: dict[int, tuple[int, ...]] = {}

            def hook(mod: Any, _inp: Any, out: Any) -> None:
                shapes[id(mod)] = tuple(out.shape[1:])

            handles = [target.register_forward_hook(hook) for _, target, _ in found]
            try:
                with torch.no_grad():
                    param = next(net.parameters(), None)
                    dtype = param.dtype if param is not None else torch.float32
                    device = param.device if param is not None else "cpu"
                    was_training = net.training
                    net.eval()
                    net(torch.zeros((1, *shape), dtype=dtype, device=device))
                    net.train(was_training)
            finally:
                for h in handles:
                    h.remove()
            for qual, target, conv in found:
                if id(target) not in shapes:
                    continue  # not used in forward()
                c, h, w = (*shapes[id(target)], 1, 1)[:3]
                name = _prefixed(key, qual, many)
                infos.append(LayerInfo(name, type(conv).__name__, (int(h), int(w), int(c)), "torch"))
                self._targets[name] = (key, target, conv)
        self._layers = infos

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
        import torch

        self.layer(layer)  # validates the name
        key, target, _ = self._targets[layer]
        net, shape = self.specs[key]
        param = next(net.parameters(), None)
        dtype = param.dtype if param is not None else torch.float32
        device = param.device if param is not None else "cpu"
        x = torch.as_tensor(np.ascontiguousarray(images.transpose(0, 3, 1, 2)), dtype=dtype, device=device)
        x.requires_grad_(grad)
        captured: dict[str, Any] = {}

        class _Stop(Exception):
            pass

        def hook(_mod: Any, _inp: Any, out: Any) -> None:
            captured["out"] = out
            raise _Stop  # nothing after the layer is needed

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


# ---------------------------------------------------------------------------------------------
# keras


_KERAS_CONV = ("Conv2D", "Conv2DTranspose", "SeparableConv2D", "DepthwiseConv2D")


class KerasProbe(FeatureProbe):
    """Probe over one or more keras 3 models (functional, or built ``Sequential``) taking NHWC images.

    Gradients use the active keras back end: ``tf.GradientTape`` for tensorflow, autograd for torch.
    """

    framework = "keras"

    def __init__(self, models: Mapping[str, Any]) -> None:
        if not models:
            raise NotInspectableError("keras_models() returned no model")
        self.models = dict(models)
        self._layers: list[LayerInfo] | None = None
        self._targets: dict[str, tuple[str, Any]] = {}
        self._submodels: dict[str, Any] = {}
        for key, model in self.models.items():
            _split_image_shape(key, self._model_input_shape(key, model))

    @staticmethod
    def _model_input_shape(key: str, model: Any) -> tuple[int, ...]:
        try:
            shape = model.inputs[0].shape
        except (AttributeError, IndexError, ValueError, TypeError):
            raise NotInspectableError(
                f"keras model '{key or model.name}' has no symbolic input; build it with keras.Input "
                "(functional API or Sequential([keras.Input(shape), ...]))") from None
        dims = tuple(shape[1:])
        if any(d is None for d in dims):
            raise NotInspectableError(f"keras model '{key or model.name}' has an input of unknown size {dims}")
        return tuple(int(d) for d in dims)

    @property
    def input_shape(self) -> tuple[int, int, int]:  # type: ignore[override]
        """``(H, W, C)`` of the first model's input."""
        key, model = next(iter(self.models.items()))
        return self._model_input_shape(key, model)  # type: ignore[return-value]

    def layers(self) -> list[LayerInfo]:
        """The conv layers of every model, in layer order."""
        if self._layers is None:
            many = len(self.models) > 1
            infos = []
            for key, model in self.models.items():
                layers = _keras_walk(model)
                for i, lyr in enumerate(layers):
                    if type(lyr).__name__ not in _KERAS_CONV:
                        continue
                    target = _keras_feature_layer(layers, i)
                    shape = tuple(int(d) for d in target.output.shape[1:])
                    name = _prefixed(key, lyr.name, many)
                    infos.append(LayerInfo(name, type(lyr).__name__, shape, "keras"))  # type: ignore[arg-type]
                    self._targets[name] = (key, target)
            self._layers = infos
        return list(self._layers)

    def _submodel(self, layer: str) -> Any:
        import keras

        self.layer(layer)
        if layer not in self._submodels:
            key, lyr = self._targets[layer]
            model = self.models[key]
            self._submodels[layer] = keras.Model(model.inputs, lyr.output, name=f"probe_{lyr.name}")
        return self._submodels[layer]

    def activations(self, images: np.ndarray, layer: str) -> np.ndarray:
        """Feature maps of ``layer`` (NHWC float32)."""
        import keras

        out = self._submodel(layer)(keras.ops.convert_to_tensor(np.asarray(images, dtype=np.float32)),
                                    training=False)
        return np.asarray(keras.ops.convert_to_numpy(out), dtype=np.float32)

    def value_and_grad(self, images: np.ndarray, layer: str,
                       channels: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Mean activation of map ``channels[i]`` on image ``i`` and its input gradient."""
        import keras

        sub = self._submodel(layer)
        images = np.asarray(images, dtype=np.float32)
        onehot = np.zeros((len(channels), sub.output.shape[-1]), dtype=np.float32)
        onehot[np.arange(len(channels)), list(channels)] = 1.0
        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            x = tf.convert_to_tensor(images)
            with tf.GradientTape() as tape:
                tape.watch(x)
                out = sub(x, training=False)
                values = tf.reduce_sum(tf.reduce_mean(out, axis=(1, 2)) * onehot, axis=1)
            grad = tape.gradient(values, x)
            return values.numpy().astype(np.float64), grad.numpy().astype(np.float32)
        if backend == "torch":
            import torch

            x = torch.tensor(images, requires_grad=True)
            out = sub(x, training=False)
            values = (out.mean(dim=(1, 2)) * torch.as_tensor(onehot, device=out.device)).sum(dim=1)
            (grad,) = torch.autograd.grad(values.sum(), x)
            return values.detach().double().cpu().numpy(), grad.detach().float().cpu().numpy()
        raise ZooError(f"keras back end '{backend}' is not supported for gradients (use tensorflow or torch)")


_KERAS_FOLLOWERS = ("BatchNormalization", "GroupNormalization", "LayerNormalization", "Activation", "ReLU",
                    "LeakyReLU", "ELU", "PReLU")


def _keras_feature_layer(layers: list[Any], index: int) -> Any:
    """The conv layer itself, or the last norm/activation layer fed only by it (a chain right after it)."""
    target = layers[index]
    for nxt in layers[index + 1:]:
        if type(nxt).__name__ not in _KERAS_FOLLOWERS:
            break
        try:
            if nxt.input is not target.output:
                break
        except (AttributeError, ValueError):
            break
        target = nxt
    return target


def _keras_walk(model: Any) -> list[Any]:
    """Top-level layers of a keras model (a nested model's own layers are not reachable from its inputs)."""
    return list(model.layers)


__all__ = ["ChannelError", "FeatureProbe", "Inspectable", "KerasProbe", "LayerInfo", "NotInspectableError",
           "TorchProbe", "UnknownLayerError", "parse_channels", "probe_for"]
