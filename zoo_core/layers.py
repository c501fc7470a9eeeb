"""The protocol models implement to expose their layers: :class:`LayerInfo`, :class:`FeatureProbe`,
the opt-in protocols and the layer/channel errors.

This is the small, framework-neutral contract that the filter visualiser (plugin
``zoo_filterviz``: ``zoo layers``, ``zoo visualize``, ``zoo activations``, and
``zoo_filterviz.visualize``) is written against. The algorithm and the torch/keras back ends live in
that plugin; a model plugin only implements one of the protocols below and needs no import of it.
Nothing here imports a deep-learning framework.

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

How a model becomes inspectable, in order of preference (``zoo_filterviz.probes.probe_for``):

1. it implements :class:`Inspectable`: ``feature_probe() -> FeatureProbe``;
2. it exposes its torch networks (:class:`TorchInspectable`):
   ``torch_modules() -> {name: (nn.Module, (C, H, W))}``, the input shape of one example in
   torch's own layout;
3. it exposes its keras networks (:class:`KerasInspectable`): ``keras_models() -> {name: keras.Model}``
   (functional or built ``Sequential``; keras knows the input shape);
4. it *is* an ``nn.Module`` (pass ``input_shape=(C, H, W)``) or a ``keras.Model``.

With several networks, layer names are prefixed: ``decoder/net.3``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

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
        from zoo_core.util.suggest import did_you_mean

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


@runtime_checkable
class TorchInspectable(Protocol):
    """A torch model that exposes its networks; the filter visualiser builds the probe."""

    def torch_modules(self) -> Mapping[str, tuple[Any, tuple[int, int, int]]]:
        """``{name: (nn.Module, (C, H, W))}``: each network taking NCHW images, and one input's shape."""
        ...


@runtime_checkable
class KerasInspectable(Protocol):
    """A keras model that exposes its networks; the filter visualiser builds the probe."""

    def keras_models(self) -> Mapping[str, Any]:
        """``{name: keras.Model}``: functional or built ``Sequential`` models taking NHWC images."""
        ...


__all__ = ["ChannelError", "FeatureProbe", "Inspectable", "KerasInspectable", "LayerInfo", "NotInspectableError",
           "TorchInspectable", "UnknownLayerError"]
