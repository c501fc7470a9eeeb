"""How glyph-like a set of glyphs is: ink, how much they differ, how much they share a template.

Pure numpy (no torch; scipy, where installed, only speeds up labelling), so it can score any images,
e.g. ``zoo sample`` output or a dataset.

* :func:`glyph_statistics` (``hamming_ratio``, ``mean_correlation``: duplicate guards) works on
  binarised images: a pixel value (each channel of a colour pixel counts as its own value) is
  ink when it is at least half the full scale.
* :func:`glyph_measures` (issue #29: ``periodicity``, ``lattice``, ``largest_component``,
  ``frame_ink``, ``ink``) works on one ink map per image: the grey value, or for colour the
  largest of R, G, B; ink is ink map >= 0.5.
"""

from __future__ import annotations

import numpy as np

__all__ = ["GLYPH_TARGETS", "autocorrelation", "binarise", "central_lobe", "frame_ink", "frame_mask", "glyph_measures",
           "glyph_statistics", "ink_map", "ink_share", "largest_component", "largest_component_each", "lattice",
           "lattice_means", "meets_glyph_targets", "pairwise_hamming", "periodicity", "periodicity_each"]


def binarise(images: np.ndarray) -> np.ndarray:
    """``(n, ...)`` images, uint8 (0..255) or float (0..1) -> ``bool (n, d)``: value >= half scale."""
    images = np.asarray(images)
    flat = images.reshape(images.shape[0], -1)
    if images.dtype == np.uint8:
        return flat >= 128  # 127.5 on the 0..255 scale
    return flat >= 0.5


def glyph_statistics(binary: np.ndarray) -> dict[str, float]:
    """``ink``, ``hamming``, ``hamming_ratio`` and ``mean_correlation`` of binarised images ``(n, d)``.

    * ``ink``: the mean ink fraction ``p`` over every value of every image.
    * ``hamming``: the mean over all pairs ``i < j`` of the fraction of values where images i and
      j differ (exact, from per-pixel ink counts: ``sum_k c_k (n - c_k) / (d n (n-1) / 2)``).
    * ``hamming_ratio``: ``hamming / (2 p (1 - p))``, the Hamming distance of independent images
      with that much ink: 1 for unrelated images, 0 for copies of one template.
    * ``mean_correlation``: the mean Pearson correlation of an image with the mean image; an
      image with no variance (blank or all ink) counts as 0.
    """
    x = np.asarray(binary, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise ValueError(f"need (n >= 2, d >= 1) binarised images, got shape {x.shape}")
    n, d = x.shape
    counts = x.sum(axis=0)
    p = float(counts.sum() / (n * d))
    hamming = float((counts * (n - counts)).sum() / (d * n * (n - 1) / 2))
    independent = 2.0 * p * (1.0 - p)
    mean = counts / n
    xc = x - x.mean(axis=1, keepdims=True)
    mc = mean - mean.mean()
    norms = np.sqrt((xc ** 2).sum(axis=1)) * np.sqrt((mc ** 2).sum())
    corr = np.divide(xc @ mc, norms, out=np.zeros(n), where=norms > 0)
    return {"ink": p, "hamming": hamming, "hamming_ratio": hamming / independent if independent > 0 else 0.0,
            "mean_correlation": float(corr.mean())}


def pairwise_hamming(binary: np.ndarray) -> np.ndarray:
    """``(n, n)`` fractions of differing values between every two binarised images ``(n, d)``."""
    x = np.asarray(binary, dtype=np.float32)
    ones = x.sum(axis=1)
    both = x @ x.T
    return (ones[:, None] + ones[None, :] - 2.0 * both) / x.shape[1]


# -- the four glyph measures of issue #29 ---------------------------------------------------------
#
# Rendered letters fail hamming_ratio / mean_correlation while textures pass them, so those two
# stay only as duplicate guards; these four separate letters from textures and lattices. They all
# work on an *ink map* per image (see :func:`ink_map`); "ink" is ink map >= 0.5.

#: width of the outer band of :func:`frame_ink`, as a share of the side
FRAME_BAND = 0.125
#: glyphs averaged per draw of :func:`lattice`, and draws averaged
LATTICE_GLYPHS, LATTICE_DRAWS = 26, 20


def ink_map(images: np.ndarray) -> np.ndarray:
    """``float32 (n, H, W)`` in 0..1: the grey value, or for colour the largest of R, G, B.

    ``images``: ``(n, H, W, C)`` with C = 1 (grey) or 3 (RGB), or ``(n, H, W)`` grey; uint8 0..255
    (divided by 255) or float 0..1 (taken as is). Ink is light, as in zoo's glyph data (light on
    black): a model that draws dark marks on a light field is measured as light ink filling the frame.
    """
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3) or min(x.shape[:3]) < 1:
        raise ValueError(f"need images (n, H, W, 1 or 3) or (n, H, W), got shape {np.shape(images)}")
    x = x.max(axis=-1)
    if x.dtype == np.uint8:
        return x.astype(np.float32) / np.float32(255.0)
    return x.astype(np.float32)


def ink_share(images: np.ndarray) -> float:
    """``ink``: the mean share of pixels that are ink (ink map >= 0.5) over all images."""
    return float((ink_map(images) >= 0.5).mean())


#: tests set this to check the numpy labelling where scipy is installed
_PURE_NUMPY = False


def _scipy_label():
    """``scipy.ndimage.label`` where scipy is installed (it is no dependency of zoo), else None."""
    try:
        from scipy.ndimage import label
    except ImportError:
        return None
    return label


def _label_scipy(label, padded: np.ndarray, diagonal: bool, index: type) -> np.ndarray:
    """:func:`_label`'s result by scipy: the same components, each named by one of its pixels' flat index."""
    structure = np.zeros((3, 3, 3), dtype=bool)  # no connection between images
    structure[1] = True if diagonal else [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
    found, count = label(padded, structure=structure)
    flat = found.ravel()
    representative = np.full(count + 1, -1, dtype=index)
    representative[flat] = np.arange(flat.size, dtype=index)  # the last pixel written wins: any of the component
    representative[0] = -1
    return representative[flat].reshape(padded.shape)


def _label(mask: np.ndarray, diagonal: bool) -> np.ndarray:
    """Connected components of a ``bool (n, H, W)`` mask, each image on its own (pure numpy).

    Returns ``int32 (n, H + 2, W + 2)`` (int64 past 2**31 pixels), the mask padded by one background
    pixel: a component's pixels hold one common label, the flat index of one of its pixels;
    background holds -1.
    Neighbours: 4 (edges), or 8 with ``diagonal``. With scipy installed, ``scipy.ndimage.label``
    finds them (about 20x faster); otherwise numpy does: each pass, a pixel takes its neighbours' largest
    label and hands it to the pixel its own label points at (hooking), then labels follow their
    pointers until they stop (pointer jumping): a component settles in a few passes, not one per
    pixel of its diameter. Every label is always the index of a pixel of the same component.
    """
    n, h, w = mask.shape
    padded = np.zeros((n, h + 2, w + 2), dtype=bool)
    padded[:, 1:-1, 1:-1] = mask
    flat_mask = padded.ravel()
    index = np.int32 if flat_mask.size < 2 ** 31 else np.int64
    fast = _scipy_label()
    if fast is not None and not _PURE_NUMPY:
        return _label_scipy(fast, padded, diagonal, index)
    labels = np.where(flat_mask, np.arange(flat_mask.size, dtype=index), index(-1))  # the last value is padding
    grid = labels.reshape(padded.shape)
    where = np.flatnonzero(flat_mask).astype(index)
    inner = padded[:, 1:-1, 1:-1]
    shifts = [(-1, 0), (1, 0), (0, -1), (0, 1)]
    if diagonal:
        shifts += [(-1, -1), (-1, 1), (1, -1), (1, 1)]
    while True:
        best = grid[:, 1:-1, 1:-1].copy()
        for dy, dx in shifts:
            np.maximum(best, grid[:, 1 + dy:h + 1 + dy, 1 + dx:w + 1 + dx], out=best)
        best[~inner] = -1
        if np.array_equal(best, grid[:, 1:-1, 1:-1]):  # settled: no pixel has a larger neighbour
            return grid
        # hook: the pixel a label points at takes the largest label seen next to any pixel holding it
        current = grid[:, 1:-1, 1:-1]
        grew = best > current
        np.maximum.at(labels, current[grew], best[grew])
        np.maximum(current, best, out=current)
        while True:  # pointer jumping, on the mask's pixels only (background stays -1)
            own = labels[where]
            jumped = labels[own]
            if np.array_equal(jumped, own):
                break
            labels[where] = jumped


def autocorrelation(images: np.ndarray) -> np.ndarray:
    """``float32 (n, 2H, 2W)``: each ink map's normalised autocorrelation, zero lag at ``[H, W]``.

    The linear (zero-padded, no wrap-around) autocorrelation of the mean-subtracted ink map, by
    FFT at ``2H x 2W``, divided by its zero-lag value (the map's energy): ``r[H + dy, W + dx]`` is
    the correlation at lag ``(dy, dx)``, 1 at zero lag. A map without variance (blank or all ink)
    gives all zeros.
    """
    m = ink_map(images).astype(np.float64)
    n, h, w = m.shape
    m -= m.mean(axis=(1, 2), keepdims=True)
    f = np.fft.rfft2(m, s=(2 * h, 2 * w))
    r = np.fft.irfft2(f.real ** 2 + f.imag ** 2, s=(2 * h, 2 * w))
    zero = r[:, :1, :1]
    r = np.divide(r, zero, out=np.zeros_like(r), where=zero > 1e-9 * h * w)
    return np.fft.fftshift(r, axes=(1, 2)).astype(np.float32)


def central_lobe(r: np.ndarray) -> np.ndarray:
    """``bool (n, 2H, 2W)``: the central lobe of autocorrelations ``r`` from :func:`autocorrelation`.

    The 4-connected region of lags around zero lag where the normalised autocorrelation stays
    above 0 (all of ``r <= 0`` for a map without variance).
    """
    n, hh, ww = r.shape
    grid = _label(r > 0, diagonal=False)[:, 1:-1, 1:-1]
    centre = grid[:, hh // 2, ww // 2]
    return (grid == centre[:, None, None]) & (centre[:, None, None] >= 0)


def periodicity_each(images: np.ndarray) -> np.ndarray:
    """``float (n,)``: per image, the largest autocorrelation value outside the central lobe.

    See :func:`autocorrelation` and :func:`central_lobe`. A glyph's autocorrelation is one
    positive blob as large as the glyph, so what lies outside is the slightly positive floor the
    mean-subtracted ground makes at long lags (about 0.02 for letters at 5% ink, more with more
    ink); a lattice of cells repeats itself at its period, beyond a negative valley: a high
    second peak (a regular lattice: 0.8-0.9). A blank or all-ink image gives 0.
    """
    r = autocorrelation(images)
    lobe = central_lobe(r)
    outside = np.where(lobe, -np.inf, r).reshape(len(r), -1).max(axis=1)
    return np.where(np.isfinite(outside), outside, 0.0)


def periodicity(images: np.ndarray) -> float:
    """``P``: the median over images of :func:`periodicity_each` (target for glyphs: <= 0.10)."""
    return float(np.median(periodicity_each(images)))


def lattice_means(images: np.ndarray, seed: int = 0, glyphs: int = LATTICE_GLYPHS,
                  draws: int = LATTICE_DRAWS) -> np.ndarray:
    """``float32 (draws, H, W)``: the mean ink map of ``glyphs`` random images, per draw.

    Each draw picks ``glyphs`` distinct images (with replacement when there are fewer) from
    ``numpy.random.default_rng(seed)``.
    """
    m = ink_map(images)
    rng = np.random.default_rng(seed)
    picks = [rng.choice(len(m), glyphs, replace=len(m) < glyphs) for _ in range(draws)]
    return np.stack([m[p].mean(axis=0) for p in picks])


def lattice(images: np.ndarray, seed: int = 0, glyphs: int = LATTICE_GLYPHS, draws: int = LATTICE_DRAWS) -> float:
    """``MP26``: the periodicity of the mean of 26 random glyphs, averaged over 20 draws.

    Glyphs that switch cells of one shared lattice on and off average to that lattice (high);
    letters average to a blob (low). Target for glyphs: <= 0.15.
    """
    return float(periodicity_each(lattice_means(images, seed, glyphs, draws)).mean())


def largest_component_each(images: np.ndarray) -> np.ndarray:
    """``float (n,)``: per image, the share of its ink in its largest 8-connected component (0 if blank)."""
    ink = ink_map(images) >= 0.5
    n = len(ink)
    grid = _label(ink, diagonal=True)
    labels = grid.ravel()
    sizes = np.bincount(labels[labels >= 0], minlength=labels.size).reshape(n, -1)
    total = ink.reshape(n, -1).sum(axis=1)
    return np.divide(sizes.max(axis=1), total, out=np.zeros(n), where=total > 0)


def largest_component(images: np.ndarray) -> float:
    """``LC``: the median over images of :func:`largest_component_each` (target for glyphs: >= 0.60)."""
    return float(np.median(largest_component_each(images)))


def frame_mask(h: int, w: int, band: float = FRAME_BAND) -> np.ndarray:
    """``bool (h, w)``: the outer band, ``round(band * side)`` pixels wide (at least 1) on each side."""
    by, bx = max(1, int(band * h + 0.5)), max(1, int(band * w + 0.5))
    mask = np.ones((h, w), dtype=bool)
    mask[by:h - by, bx:w - bx] = False
    return mask


def frame_ink(images: np.ndarray, band: float = FRAME_BAND) -> float:
    """``S``: the share of all ink that lies in the outer band, over the band's share of the area.

    Pooled over the images (ink pixels in the band / all ink pixels). 0: every glyph inside the
    central box; 1: ink spread evenly, as in a texture filling the frame (an all-ink image gives
    1); above 1: ink crowds the border. No ink at all gives 0.
    """
    ink = ink_map(images) >= 0.5
    mask = frame_mask(ink.shape[1], ink.shape[2], band=band)
    total = int(ink.sum())
    if total == 0:
        return 0.0
    return float(ink[:, mask].sum() / total / mask.mean())


def glyph_measures(images: np.ndarray, seed: int = 0) -> dict[str, float]:
    """The four measures of issue #29 and the ink share, for ``(n, H, W, C)`` images.

    ``periodicity`` (P, <= 0.10 for glyphs), ``lattice`` (MP26, <= 0.15; its draws seeded by
    ``seed``), ``largest_component`` (LC, >= 0.60), ``frame_ink`` (S, <= 0.50) and ``ink``
    (0.05-0.40). ``zoo eval`` reports them on 200 samples; callable while training or selecting.
    """
    return {"periodicity": periodicity(images), "lattice": lattice(images, seed=seed),
            "largest_component": largest_component(images), "frame_ink": frame_ink(images),
            "ink": ink_share(images)}


#: the glyph bars of issue #29: measure -> (lowest, highest) allowed
GLYPH_TARGETS = {"periodicity": (None, 0.10), "lattice": (None, 0.15), "largest_component": (0.60, None),
                 "frame_ink": (None, 0.50), "ink": (0.05, 0.40)}


def meets_glyph_targets(measures: dict[str, float]) -> dict[str, bool]:
    """Which of :data:`GLYPH_TARGETS` the figures of :func:`glyph_measures` meet."""
    return {key: (lo is None or measures[key] >= lo) and (hi is None or measures[key] <= hi)
            for key, (lo, hi) in GLYPH_TARGETS.items()}
