"""The blobs model: a diagonal-covariance Gaussian mixture over image pixels, trained by stochastic EM.

A sample picks a component ``k`` with probability ``softmax(logits)[k]`` and draws every pixel
from ``N(means[k], exp(log_std[k])**2)`` (the noise scaled by ``temperature``). One training
step draws a batch of blob images, computes each component's responsibility for each image
(E-step), solves the batch's M-step in closed form, and moves the parameters a fraction ``lr``
towards it (stochastic EM).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from zoo_core import ZooModel
from zoo_core.errors import ZooError
from zoo_core.model import to_uint8
from zoo_blobs.data import blob_images

_LOG_2PI = float(np.log(2 * np.pi))


class BlobsGMM(ZooModel):
    """Gaussian mixture model of ``size x size x channels`` images (numpy only)."""

    def __init__(self, config: Mapping[str, Any], family=None) -> None:
        super().__init__(config, family)
        c = self.config
        self.dims = c["size"] * c["size"] * c["channels"]
        rng = np.random.default_rng([c["seed"], 0])
        # Initial means: blob images of the training distribution (a data-based initialisation).
        starts = blob_images(c["components"], c["size"], c["channels"], c["blobs"], rng)
        self.means = starts.reshape(c["components"], self.dims)
        self.log_std = np.full((c["components"], self.dims), np.log(0.3), dtype=np.float32)
        self.logits = np.zeros(c["components"], dtype=np.float32)
        self.step = np.zeros(1, dtype=np.int64)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(size, size, channels)``, declared without sampling."""
        return (self.config["size"], self.config["size"], self.config["channels"])

    # -- sampling --------------------------------------------------------------------------------

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` images: a component per image, then independent Gaussian pixels."""
        rng = np.random.default_rng(seed)
        weights = _softmax(self.logits.astype(np.float64))
        k = rng.choice(len(weights), size=n, p=weights)
        noise = rng.standard_normal((n, self.dims)).astype(np.float32)
        x = self.means[k] + self.config["temperature"] * np.exp(self.log_std[k]) * noise
        return to_uint8(x.reshape(n, *self.image_shape))

    # -- likelihood and training -------------------------------------------------------------------

    def _log_joint(self, x: np.ndarray) -> np.ndarray:
        """``log pi_k + log N(x | mu_k, sigma_k)`` for every image and component, ``(B, K)``."""
        inv_var = np.exp(-2.0 * self.log_std)  # (K, D)
        # sum_d (x - mu)^2 / var = x^2 . iv - 2 x . (mu iv) + mu^2 . iv
        quad = (x * x) @ inv_var.T - 2.0 * x @ (self.means * inv_var).T + (self.means ** 2 * inv_var).sum(1)
        log_norm = -self.log_std.sum(1) - 0.5 * self.dims * _LOG_2PI
        return np.log(_softmax(self.logits.astype(np.float64)))[None, :] + log_norm[None, :] - 0.5 * quad

    def nll(self, x: np.ndarray) -> float:
        """Mean negative log-likelihood per pixel (nats) of float images in [0, 1]."""
        joint = self._log_joint(x.reshape(len(x), -1).astype(np.float64))
        return float(-_logsumexp(joint).mean() / self.dims)

    def training_session(self, data: Any, steps: int, ctx: Any) -> "BlobsSession":
        """Stochastic EM on generated blob images (or on ``data``), driven by zoo's runtime.

        :param data: ``None`` (blob images drawn from the seed), a ``(N, H, W, C)`` array (uint8
            or floats in [0, 1]) or a ``.npy``/``.npz`` file of one.

        ``model.train(steps=N, run_dir=...)`` and ``zoo train blobs -o RUN`` then checkpoint,
        resume exactly and write ``run.json`` with no code here. History key: ``nll``.
        """
        return BlobsSession(self, None if data is None else _as_images(data, self.image_shape))

    def em_step(self, step: int, images: np.ndarray | None) -> float:
        """One stochastic EM step (batch drawn from (seed, step)); returns the batch's NLL per pixel."""
        c = self.config
        lr, min_log_std = c["lr"], float(np.log(c["min_std"]))
        rng = np.random.default_rng([c["seed"], 1, step])
        if images is None:
            batch = blob_images(c["batch_size"], c["size"], c["channels"], c["blobs"], rng)
        else:
            batch = images[rng.integers(0, len(images), size=c["batch_size"])]
        x = batch.reshape(len(batch), self.dims).astype(np.float64)
        joint = self._log_joint(x)
        total = _logsumexp(joint)
        resp = np.exp(joint - total[:, None])  # E-step, (B, K)
        counts = resp.sum(0)  # (K,)
        used = counts > 1e-3
        mean_b = (resp.T @ x)[used] / counts[used, None]
        var_b = (resp.T @ (x * x))[used] / counts[used, None] - mean_b ** 2
        log_std_b = np.maximum(0.5 * np.log(np.maximum(var_b, 1e-12)), min_log_std)
        self.means[used] = ((1 - lr) * self.means[used] + lr * mean_b).astype(np.float32)
        self.log_std[used] = ((1 - lr) * self.log_std[used] + lr * log_std_b).astype(np.float32)
        weights = (1 - lr) * _softmax(self.logits.astype(np.float64)) + lr * counts / counts.sum()
        self.logits = np.log(np.maximum(weights, 1e-12)).astype(np.float32)
        self.step[0] = step
        return float(-total.mean() / self.dims)

    def evaluate(self, data: Any = None, *, seed: int = 0) -> dict[str, Any]:
        """Per-pixel NLL (nats and bits) on 512 held-out blob images (or on ``data``)."""
        c = self.config
        if data is None:
            x = blob_images(512, c["size"], c["channels"], c["blobs"], np.random.default_rng([c["seed"], 2, seed]))
        else:
            x = _as_images(data, self.image_shape)
        nll = self.nll(x)
        return {"nll_per_pixel": nll, "bits_per_pixel": nll / float(np.log(2)), "images": int(len(x))}

    # -- weights -------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, np.ndarray]:
        """``means`` and ``log_std`` ``(K, D)``, ``logits`` ``(K,)``, and the ``step`` counter."""
        return {"means": self.means, "log_std": self.log_std, "logits": self.logits, "step": self.step}

    def load_state_dict(self, tensors: Mapping[str, np.ndarray]) -> None:
        """Copy checked arrays into the model."""
        self.means = np.array(tensors["means"], dtype=np.float32)
        self.log_std = np.array(tensors["log_std"], dtype=np.float32)
        self.logits = np.array(tensors["logits"], dtype=np.float32)
        self.step = np.array(tensors["step"], dtype=np.int64)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def _logsumexp(a: np.ndarray) -> np.ndarray:
    top = a.max(axis=1)
    return top + np.log(np.exp(a - top[:, None]).sum(axis=1))


def _as_images(data: Any, shape: tuple[int, int, int]) -> np.ndarray:
    """Training/eval data as float32 ``(N, H, W, C)`` in [0, 1], checked against the model's shape."""
    if isinstance(data, (str, Path)):
        path = Path(data)
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                data = archive["images"]
        else:
            data = np.load(path, allow_pickle=False)
    array = np.asarray(data)
    if array.ndim != 4 or tuple(array.shape[1:]) != tuple(shape):
        raise ZooError(f"blobs: data must be N x {shape[0]} x {shape[1]} x {shape[2]} images, got {array.shape}")
    return array.astype(np.float32) / 255.0 if array.dtype == np.uint8 else array.astype(np.float32)


class BlobsSession:
    """A blobs training run for :func:`zoo_core.runtime.fit`: the model's arrays are its whole state."""

    steps_per_call = 1

    def __init__(self, model: BlobsGMM, images: np.ndarray | None) -> None:
        self.model, self.images = model, images
        self.examples = None if images is None else int(len(images))

    def run(self, first: int, last: int) -> list[dict[str, float]]:
        """EM steps ``first..last``."""
        return [{"nll": self.model.em_step(step, self.images)} for step in range(first, last + 1)]

    def state(self) -> dict[str, np.ndarray]:
        """The model's arrays (each step's randomness is a function of (seed, step): no RNG state)."""
        return {k: np.array(v) for k, v in self.model.state_dict().items()}

    def load_state(self, tensors: Mapping[str, np.ndarray]) -> None:
        """Restore the arrays."""
        self.model.load_state_dict(tensors)

    def close(self) -> None:
        """Nothing to release."""
