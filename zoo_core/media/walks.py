"""Walks through latent space: linear or spherical interpolation between prior samples.

Works for every model whose family is ``latent=True`` (a :class:`~zoo_core.model.LatentModel`).
"""

from __future__ import annotations

import numpy as np

from zoo_core.errors import ZooError


def lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Straight line from ``a`` to ``b`` at fractions ``t`` (shape ``(T,)``) -> ``(T, *a.shape)``."""
    t = t.reshape((-1,) + (1,) * a.ndim)
    return (1.0 - t) * a + t * b


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Great-circle path between ``a`` and ``b`` (last axis), its norm interpolated linearly.

    Gaussian latents live near a sphere of radius sqrt(d); a straight line between two of them
    dips toward the origin, where decoders see atypical inputs. ``slerp`` keeps to the shell.
    """
    na, nb = np.linalg.norm(a, axis=-1, keepdims=True), np.linalg.norm(b, axis=-1, keepdims=True)
    ua, ub = a / np.maximum(na, 1e-12), b / np.maximum(nb, 1e-12)
    omega = np.arccos(np.clip(np.sum(ua * ub, axis=-1, keepdims=True), -1.0, 1.0))
    so = np.sin(omega)
    t = t.reshape((-1,) + (1,) * a.ndim)
    near = so < 1e-6  # parallel vectors: fall back to lerp of the directions
    wa = np.where(near, 1.0 - t, np.sin((1.0 - t) * omega) / np.where(near, 1.0, so))
    wb = np.where(near, t, np.sin(t * omega) / np.where(near, 1.0, so))
    direction = wa * ua + wb * ub
    direction /= np.maximum(np.linalg.norm(direction, axis=-1, keepdims=True), 1e-12)
    return direction * ((1.0 - t) * na + t * nb)


def latent_walk(model, n: int = 16, points: int = 4, frames: int = 60, path: str = "slerp",
                seed: int = 0) -> np.ndarray:
    """Latents for ``n`` looping walks through ``points`` prior samples: ``(points*frames, n, d)``."""
    if path not in ("lerp", "slerp"):
        raise ZooError(f"unknown interpolation path '{path}' (use lerp or slerp)")
    keys = model.sample_latent(n * points, seed=seed).reshape(points, n, -1)
    t = np.arange(frames, dtype=np.float64) / frames
    step = lerp if path == "lerp" else slerp
    segments = [step(keys[i].astype(np.float64), keys[(i + 1) % points].astype(np.float64), t)
                for i in range(points)]
    return np.concatenate(segments).astype(np.float32)


def interpolate(model, n: int = 16, points: int = 4, frames: int = 60, path: str = "slerp",
                seed: int = 0) -> np.ndarray:
    """Frames of a looping latent walk: ``uint8 (points*frames, n, H, W, C)``.

    :param model: a loaded model of a ``latent=True`` family.
    :param n: walks shown side by side.
    :param points: prior samples visited by each walk, the last joined back to the first.
    :param frames: frames per segment between two points.
    :param path: ``"lerp"`` or ``"slerp"``.
    """
    from zoo_core.model import LatentModel

    if not isinstance(model, LatentModel):
        raise ZooError(f"model '{getattr(model, 'name', model)}' has no latent input; "
                       "interpolate works with latent families (e.g. glyphnet, vae)")
    walk = latent_walk(model, n=n, points=points, frames=frames, path=path, seed=seed)
    flat = model.decode(walk.reshape(-1, walk.shape[-1]))
    return flat.reshape(walk.shape[0], n, *flat.shape[1:])
