"""Sample quality against a held-out reference set: Frechet distance, class coverage, confidence.

Generic machinery for any family that draws images of a dataset that has a *reference
classifier*: a catalog model trained on that dataset's ``train`` split whose
``embed(images) -> (features, logits)`` gives, for ``uint8`` NHWC images, a feature vector per
image (the classifier's penultimate layer) and the class logits. :data:`REFERENCE_CLASSIFIERS`
names the catalog model per dataset.

Figures (:func:`quality_figures`), each for the samples and, as the ceiling, for the held-out
split itself:

* ``fd``: the Frechet distance between Gaussians fitted to two sets of features
  (``|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2)``). It depends on the set sizes
  (finite samples add a positive bias), so the samples and the held-out split are compared on
  equal terms: for each of ``splits`` seeded halvings of the held-out split into ``A`` and
  ``B``, the ceiling is ``FD(A, B)`` and the samples' figure is ``FD(S, B)`` with ``S`` a fresh
  chunk of ``len(A)`` samples; both are averaged over the halvings.
* ``class_entropy`` (bits) and ``class_max_share``: the entropy of the histogram of predicted
  classes and its largest share (``log2(classes)`` and ``1 / classes`` for a perfectly even
  spread).
* ``confidence``: the mean largest softmax probability.

Everything here is numpy; the classifier is loaded through :func:`zoo_core.load` only when
:func:`sample_quality` runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: dataset spec -> the catalog classifier that scores samples of it (trained on its train split)
REFERENCE_CLASSIFIERS = {"digits-28": "digits-cnn", "glyphs-28": "glyph-cnn"}
#: dataset spec -> ``(H, W, C)`` of the images its reference classifier reads
REFERENCE_SHAPES = {"digits-28": (28, 28, 1), "glyphs-28": (28, 28, 1)}

#: how many seeded halvings of the held-out split the Frechet distances are averaged over
SPLITS = 10


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``(n, classes)`` logits, in float64."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _sqrtm_psd(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((m + m.T) / 2.0)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to the rows of ``a`` and of ``b`` (``(n, d)`` each, n >= 2).

    ``tr((S1 S2)^1/2)`` is computed as the sum of the square roots of the eigenvalues of the
    symmetric ``S1^1/2 S2 S1^1/2``, so no general matrix square root (and no scipy) is needed.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ValueError(f"frechet_distance needs two (n >= 2, d) arrays of the same d, got {a.shape} and {b.shape}")
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False).reshape(a.shape[1], -1), np.cov(b, rowvar=False).reshape(b.shape[1], -1)
    root = _sqrtm_psd(s1)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh((root @ s2 @ root + (root @ s2 @ root).T) / 2.0), 0.0, None)).sum()
    return float(max(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2.0 * cross, 0.0))


def class_coverage(probs: np.ndarray) -> dict[str, float]:
    """``class_entropy`` (bits) and ``class_max_share`` of the predicted classes (argmax of ``probs``)."""
    probs = np.asarray(probs)
    counts = np.bincount(probs.argmax(axis=1), minlength=probs.shape[1]).astype(np.float64)
    share = counts / counts.sum()
    nz = share[share > 0]
    return {"class_entropy": float(0.0 - (nz * np.log2(nz)).sum()) + 0.0, "class_max_share": float(share.max())}


def mean_confidence(probs: np.ndarray) -> float:
    """The mean largest class probability."""
    return float(np.asarray(probs).max(axis=1).mean())


def quality_figures(sample_features: np.ndarray, sample_logits: np.ndarray, ref_features: np.ndarray,
                    ref_logits: np.ndarray, *, splits: int = SPLITS, seed: int = 0) -> dict[str, float]:
    """The samples' figures and the held-out ceiling (see the module docstring).

    Returns ``fd``, ``class_entropy``, ``class_max_share``, ``confidence`` (the samples) and
    ``heldout_fd``, ``heldout_class_entropy``, ``heldout_class_max_share``, ``heldout_confidence``
    (the reference set against itself). Needs at least ``splits * (len(ref) // 2)`` samples for
    fresh chunks; with fewer, chunks wrap around.
    """
    n_ref = len(ref_features)
    if n_ref < 8 or len(sample_features) < 4:
        raise ValueError(f"quality_figures needs >= 8 reference images and >= 4 samples, got {n_ref} and "
                         f"{len(sample_features)}")
    rng = np.random.default_rng(seed)
    half = n_ref // 2
    fd, ceiling = [], []
    for k in range(splits):
        order = rng.permutation(n_ref)
        a, b = ref_features[order[:half]], ref_features[order[half:]]
        pick = (np.arange(half) + k * half) % len(sample_features)
        ceiling.append(frechet_distance(a, b))
        fd.append(frechet_distance(sample_features[pick], b))
    p_samples, p_ref = softmax(sample_logits), softmax(ref_logits)
    out = {"fd": float(np.mean(fd)), **class_coverage(p_samples), "confidence": mean_confidence(p_samples)}
    out.update({"heldout_fd": float(np.mean(ceiling)),
                **{f"heldout_{k}": v for k, v in class_coverage(p_ref).items()},
                "heldout_confidence": mean_confidence(p_ref)})
    return out


def reference_classifier(dataset: Any, shape: tuple | None = None) -> str | None:
    """The catalog classifier that scores samples of ``dataset`` (None if it has none, or if ``shape``,
    the ``(H, W, C)`` of the samples, is not the shape it reads: a model trained on resized images)."""
    if not isinstance(dataset, str) or dataset not in REFERENCE_CLASSIFIERS:
        return None
    if shape is not None and tuple(shape) != REFERENCE_SHAPES[dataset]:
        return None
    return REFERENCE_CLASSIFIERS[dataset]


def sample_quality(samples: np.ndarray, dataset: Any, *, seed: int = 0, classifier: Any = None,
                   reference: np.ndarray | None = None) -> dict[str, Any] | None:
    """Quality figures of ``uint8`` NHWC ``samples`` against the ``test`` split of ``dataset``.

    ``classifier`` (default: the catalog model :data:`REFERENCE_CLASSIFIERS` names, loaded with
    :func:`zoo_core.load`) must have ``embed(images) -> (features, logits)`` and may have
    ``input_shape`` ``(H, W, C)`` (samples of another shape raise :class:`ZooError`); ``reference``
    defaults to the dataset's ``test`` split at the samples' size and channels. Returns the
    figures of :func:`quality_figures` prefixed ``quality_`` (``quality_fd``,
    ``quality_class_entropy``, ..., ``quality_heldout_fd``, ...), plus ``quality_model`` and
    ``quality_samples``; ``None`` when the dataset has no reference classifier.
    """
    name = reference_classifier(dataset) if classifier is None else getattr(classifier, "name", None)
    if classifier is None:
        if name is None:
            return None
        import zoo_core

        classifier = zoo_core.load(name)
    wanted = getattr(classifier, "input_shape", None)
    if wanted is not None and tuple(samples.shape[1:]) != tuple(wanted):
        from zoo_core.errors import ZooError

        raise ZooError(f"{name or 'the classifier'} reads images of shape {tuple(wanted)}, not "
                       f"{tuple(samples.shape[1:])}: no sample-quality figures for this model")
    if reference is None:
        from zoo_core.data.datasets import load_dataset

        reference, _ = load_dataset(dataset, "test", size=samples.shape[1], channels=samples.shape[3])
    f_s, l_s = classifier.embed(samples)
    f_r, l_r = classifier.embed(reference)
    figures = quality_figures(f_s, l_s, f_r, l_r, seed=seed)
    out: dict[str, Any] = {"quality_model": name, "quality_samples": int(len(samples))}
    for key, value in figures.items():
        out[key.replace("heldout_", "quality_heldout_") if key.startswith("heldout_") else f"quality_{key}"] = value
    return out
