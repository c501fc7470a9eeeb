"""The ``vae`` family's ex-post prior: a Gaussian mixture fitted to the training codes (numpy only).

With ``prior: mixture`` the model keeps, next to its networks, a mixture of ``K`` full-covariance
Gaussians fitted by EM to the posterior means of its training images at the end of every
training run ("ex-post density estimation", Ghosh et al. 2019): the aggregated posterior of a
VAE is not N(0, I), and prior draws that land where no training code lies decode to
in-between blobs. ``zoo sample`` (``model.sample_latent``) then draws codes from the mixture.
The mixture is three tensors in the weights file (``prior/weights`` ``(K,)``, ``prior/means``
``(K, d)``, ``prior/covariances`` ``(K, d, d)``), so loading and sampling need neither
scikit-learn nor a refit.
"""

from __future__ import annotations

import math

import numpy as np

#: EM stops when the mean log-likelihood per code improves by less than this
TOL = 1e-5
MAX_ITER = 300


def standard_mixture(k: int, d: int) -> dict[str, np.ndarray]:
    """``k`` copies of N(0, I): the mixture before any fit (sampling it is sampling N(0, I))."""
    return {"prior/weights": np.full(k, 1.0 / k, np.float32), "prior/means": np.zeros((k, d), np.float32),
            "prior/covariances": np.broadcast_to(np.eye(d, dtype=np.float32), (k, d, d)).copy()}


def _log_gauss(x: np.ndarray, means: np.ndarray, chol: np.ndarray) -> np.ndarray:
    """``(n, k)`` log densities of ``x`` under each component (Cholesky factors of the covariances)."""
    n, d = x.shape
    out = np.empty((n, len(means)))
    for j, (m, c) in enumerate(zip(means, chol, strict=False)):
        sol = np.linalg.solve(c, (x - m).T)  # c lower-triangular; small d, so a general solve is fine
        out[:, j] = -0.5 * (sol ** 2).sum(0) - np.log(np.diag(c)).sum() - 0.5 * d * np.log(2 * np.pi)
    return out


def _kmeans_init(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding then 20 Lloyd iterations: the component assignment EM starts from."""
    seeds = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        d2 = np.min(((x[:, None, :] - np.asarray(seeds)[None]) ** 2).sum(-1), axis=1)
        p = d2 / d2.sum() if d2.sum() > 0 else np.full(len(x), 1.0 / len(x))
        seeds.append(x[rng.choice(len(x), p=p)])
    centres = np.asarray(seeds)
    for _ in range(20):
        label = ((x[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
        for j in range(k):
            if np.any(label == j):
                centres[j] = x[label == j].mean(0)
    return ((x[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)


def fit_mixture(codes: np.ndarray, k: int, *, seed: int = 0) -> tuple[dict[str, np.ndarray], float]:
    """Fit ``k`` full-covariance Gaussians to ``codes`` ``(n, d)`` by EM; ``(tensors, mean log-likelihood)``.

    ``k`` is capped at ``n``. Each covariance gets a ridge of 1e-3 times the codes' mean
    variance (and 1e-6 absolute), so a component fitted to a handful of codes stays invertible.
    Seeded: same codes, same ``k`` and ``seed``, same mixture.
    """
    x = np.asarray(codes, dtype=np.float64)
    n, d = x.shape
    k = max(1, min(int(k), n))
    rng = np.random.default_rng(seed)
    ridge = 1e-3 * float(x.var(0).mean()) + 1e-6
    resp = np.eye(k)[_kmeans_init(x, k, rng)] if k > 1 else np.ones((n, 1))
    last = -np.inf
    for _ in range(MAX_ITER):
        nk = resp.sum(0) + 1e-10
        weights = nk / n
        means = resp.T @ x / nk[:, None]
        covs = np.empty((k, d, d))
        for j in range(k):
            c = x - means[j]
            covs[j] = (resp[:, j, None] * c).T @ c / nk[j] + ridge * np.eye(d)
        chol = np.linalg.cholesky(covs)
        logp = _log_gauss(x, means, chol) + np.log(weights)
        top = logp.max(1, keepdims=True)
        norm = top[:, 0] + np.log(np.exp(logp - top).sum(1))
        resp = np.exp(logp - norm[:, None])
        ll = float(norm.mean())
        if ll - last < TOL:
            break
        last = ll
    tensors = {"prior/weights": weights.astype(np.float32), "prior/means": means.astype(np.float32),
               "prior/covariances": covs.astype(np.float32)}
    return tensors, ll


def sample_mixture(tensors: dict[str, np.ndarray], n: int, seed: int = 0) -> np.ndarray:
    """``n`` draws ``float32 (n, d)`` from the stored mixture, seeded."""
    weights = np.asarray(tensors["prior/weights"], np.float64)
    means = np.asarray(tensors["prior/means"], np.float64)
    covs = np.asarray(tensors["prior/covariances"], np.float64)
    rng = np.random.default_rng(seed)
    # one row of d + 1 normals per draw, so that sample(m) is sample(n)[:m]: d for the code, the last one
    # (through the normal CDF, a uniform) picks the component
    draws = rng.standard_normal((n, means.shape[1] + 1))
    eps = draws[:, :-1]
    uniform = 0.5 * (1.0 + np.vectorize(math.erf, otypes=[np.float64])(draws[:, -1] / math.sqrt(2.0)))
    cumulative = np.cumsum(weights / weights.sum())
    comp = np.minimum(np.searchsorted(cumulative, uniform, side="right"), len(weights) - 1)
    chol = np.linalg.cholesky(covs)
    return (means[comp] + np.einsum("nij,nj->ni", chol[comp], eps)).astype(np.float32)
