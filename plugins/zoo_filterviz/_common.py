"""Small helpers shared by the torch and keras probes."""

from __future__ import annotations

from collections.abc import Sequence

from zoo_core.layers import NotInspectableError


def prefixed(prefix: str, name: str, many: bool) -> str:
    """A layer's name: ``network/layer`` when the probe spans several networks, else ``layer``."""
    return f"{prefix}/{name}" if many else name


def require_image_input(key: str, shape: Sequence[int]) -> None:
    """Refuse a network whose input is not an image (3 dimensions), with a one-line error."""
    if len(shape) != 3:
        raise NotInspectableError(
            f"network '{key or 'model'}' takes inputs of shape {tuple(shape)}; only image inputs "
            "(3 dimensions) can be visualised")
