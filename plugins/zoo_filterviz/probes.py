"""Finding the :class:`~zoo_core.layers.FeatureProbe` of a model, and reading ``--channels`` text.

How a model becomes inspectable, in order of preference (the protocols are documented in
:mod:`zoo_core.layers`):

1. it implements :class:`~zoo_core.layers.Inspectable`: ``feature_probe() -> FeatureProbe``;
2. it exposes its torch networks: ``torch_modules() -> {name: (nn.Module, (C, H, W))}``, the
   input shape of one example in torch's own layout (:class:`~zoo_filterviz.torch_probe.TorchProbe`);
3. it exposes its keras networks: ``keras_models() -> {name: keras.Model}`` (functional or built
   ``Sequential``; keras knows the input shape; :class:`~zoo_filterviz.keras_probe.KerasProbe`);
4. it *is* an ``nn.Module`` (pass ``input_shape=(C, H, W)``) or a ``keras.Model``.

With several networks, layer names are prefixed: ``decoder/net.3``. Nothing here imports a
framework at module import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from zoo_core.layers import ChannelError, FeatureProbe, NotInspectableError
from zoo_filterviz.keras_probe import KerasProbe
from zoo_filterviz.torch_probe import TorchProbe


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
            out.extend(_channel_range(part, count))
            continue
        try:
            out.append(int(part))
        except ValueError:
            raise ChannelError(f"cannot read channel '{part}' (use e.g. 3, 0:16 or 1,5,9)") from None
    return out


def _channel_range(part: str, count: int | None) -> range:
    """``start:stop[:step]`` (``stop`` defaults to ``count``) as a range, checked against ``count``."""
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
        raise ChannelError(f"channel range '{part}' ends past the last channel (valid: 0..{count - 1})")
    return range(start, stop, step)


__all__ = ["parse_channels", "probe_for"]
