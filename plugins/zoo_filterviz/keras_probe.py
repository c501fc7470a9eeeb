"""The keras back end: :class:`KerasProbe` over keras 3 models (functional, or built ``Sequential``).

A conv layer whose output feeds a chain of ``BatchNormalization`` / ``Activation`` / ``LeakyReLU``
... layers is read after the last of them (``Conv2D(activation=...)`` includes its activation).
Gradients use the active keras back end: ``tf.GradientTape`` for tensorflow, autograd for torch.
keras is imported inside the methods, never at module import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from zoo_core.errors import ZooError
from zoo_core.layers import FeatureProbe, LayerInfo, NotInspectableError
from zoo_filterviz._common import prefixed, require_image_input

_KERAS_CONV = ("Conv2D", "Conv2DTranspose", "SeparableConv2D", "DepthwiseConv2D")
_KERAS_FOLLOWERS = ("BatchNormalization", "GroupNormalization", "LayerNormalization", "Activation", "ReLU",
                    "LeakyReLU", "ELU", "PReLU")


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
            require_image_input(key, self._model_input_shape(key, model))

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
    def input_shape(self) -> tuple[int, int, int]:  # type: ignore[override]  # a property for the base's attribute
        """``(H, W, C)`` of the first model's input."""
        key, model = next(iter(self.models.items()))
        return self._model_input_shape(key, model)  # type: ignore[return-value]  # 3 dims: require_image_input

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
                    h, w, c = (int(d) for d in target.output.shape[1:])  # (N, H, W, C) out of a conv
                    name = prefixed(key, lyr.name, many)
                    infos.append(LayerInfo(name, type(lyr).__name__, (h, w, c), "keras"))
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
            return _tensorflow_value_and_grad(sub, images, onehot)
        if backend == "torch":
            return _torch_value_and_grad(sub, images, onehot)
        raise ZooError(f"keras back end '{backend}' is not supported for gradients (use tensorflow or torch)")


def _tensorflow_value_and_grad(sub: Any, images: np.ndarray, onehot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean activation of each image's chosen map (``onehot`` rows) and its input gradient, by GradientTape."""
    import tensorflow as tf

    x = tf.convert_to_tensor(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = sub(x, training=False)
        values = tf.reduce_sum(tf.reduce_mean(out, axis=(1, 2)) * onehot, axis=1)
    grad = tape.gradient(values, x)
    return values.numpy().astype(np.float64), grad.numpy().astype(np.float32)


def _torch_value_and_grad(sub: Any, images: np.ndarray, onehot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same on keras's torch back end, by autograd."""
    import torch

    x = torch.tensor(images, requires_grad=True)
    out = sub(x, training=False)
    values = (out.mean(dim=(1, 2)) * torch.as_tensor(onehot, device=out.device)).sum(dim=1)
    (grad,) = torch.autograd.grad(values.sum(), x)
    return values.detach().double().cpu().numpy(), grad.detach().float().cpu().numpy()


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


__all__ = ["KerasProbe"]
