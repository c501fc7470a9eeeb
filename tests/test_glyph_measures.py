"""The glyph measures of issue #29 (zoo_glyphnet.metrics): known answers on small inputs."""

from __future__ import annotations

import numpy as np
import pytest

from zoo_glyphnet.metrics import (autocorrelation, central_lobe, frame_ink, glyph_measures, ink_map, ink_share,
                                  largest_component, lattice, meets_glyph_targets, periodicity)


def letter_t(size: int = 32) -> np.ndarray:
    """A centred 'T' (one piece, inside the central box), uint8 (1, size, size, 1)."""
    image = np.zeros((size, size), dtype=np.uint8)
    image[9:12, 9:23] = 255
    image[12:24, 15:18] = 255
    return image[None, ..., None]


def grid(size: int = 32, period: int = 8, on: np.ndarray | None = None) -> np.ndarray:
    """Square blobs on a grid of ``period`` px; ``on`` picks which cells (default all)."""
    cells = size // period
    on = np.ones(cells * cells, dtype=bool) if on is None else on
    image = np.zeros((size, size), dtype=np.uint8)
    for k in np.flatnonzero(on):
        y, x = divmod(int(k), cells)
        image[y * period + 2:y * period + 6, x * period + 2:x * period + 6] = 255
    return image


def test_ink_map_grey_colour_uint8_float():
    rgb = np.zeros((1, 4, 4, 3), dtype=np.uint8)
    rgb[0, 0, 0] = (10, 200, 30)
    rgb[0, 1, 1] = (100, 0, 0)
    m = ink_map(rgb)
    assert m.shape == (1, 4, 4) and m.dtype == np.float32
    assert m[0, 0, 0] == pytest.approx(200 / 255) and m[0, 1, 1] == pytest.approx(100 / 255)
    assert np.array_equal(ink_map(rgb.astype(np.float32) / 255), m)
    assert ink_share(rgb) == pytest.approx(1 / 16)  # only the pixel whose largest channel is >= 0.5
    assert np.array_equal(ink_map(rgb[..., :1]), ink_map(rgb[..., 0]))  # (n, H, W, 1) and (n, H, W)
    with pytest.raises(ValueError, match="shape"):
        ink_map(np.zeros((1, 4, 4, 2)))


def test_centred_letter():
    t = letter_t()
    f = glyph_measures(np.repeat(t, 30, axis=0))
    assert f["periodicity"] < 0.05  # one blob of autocorrelation: outside it, only the ground's floor
    assert f["largest_component"] == 1.0 and f["frame_ink"] == 0.0
    assert f["ink"] == pytest.approx((3 * 14 + 12 * 3) / 32 ** 2)
    r = autocorrelation(t)
    assert r.shape == (1, 64, 64) and r[0, 32, 32] == pytest.approx(1.0)
    assert np.allclose(r[0, 1:, 1:], r[0, 1:, 1:][::-1, ::-1], atol=1e-6)  # r(d) = r(-d)
    assert central_lobe(r)[0, 32, 32] and not central_lobe(r)[0, 0, 0]


def test_lattice_is_periodic_and_shared():
    full = grid()[None, ..., None]
    assert periodicity(full) > 0.5  # the cells repeat at the period, beyond a negative valley
    rng = np.random.default_rng(0)
    halves = np.stack([grid(on=rng.random(16) < 0.5) for _ in range(60)])[..., None]
    assert lattice(halves) > 0.5  # glyphs that switch cells of one grid average to that grid
    assert largest_component(halves) < 0.5  # and come in pieces
    letters = np.repeat(letter_t(), 26, axis=0)
    assert lattice(letters) < 0.10


def test_noise_and_shuffled_pixels():
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, (60, 32, 32, 1), dtype=np.uint8)
    f = glyph_measures(noise)
    assert f["periodicity"] < 0.15 and f["lattice"] < 0.15  # no repeat: the texture passes P and MP26 ...
    assert f["frame_ink"] == pytest.approx(1.0, abs=0.05)  # ... and fails S: it fills the frame
    shuffled = np.stack([rng.permutation(letter_t().reshape(-1)).reshape(32, 32, 1) for _ in range(30)])
    assert largest_component(shuffled) < 0.2  # scattered pixels: no one piece
    assert frame_ink(shuffled) == pytest.approx(1.0, abs=0.2)


def test_frame_filling_texture():
    stripes = np.zeros((4, 64, 64, 1), dtype=np.uint8)
    stripes[:, :, ::2] = 255  # ink spread evenly over the whole frame
    assert frame_ink(stripes) == pytest.approx(1.0)
    border = np.zeros((1, 64, 64, 1), dtype=np.uint8)
    border[0, :8] = 255  # all ink in the band (8 px = 12.5% of 64)
    band_share = 1 - (48 * 48) / 64 ** 2
    assert frame_ink(border) == pytest.approx(1 / band_share)


def test_degenerate_images():
    empty = np.zeros((3, 16, 16, 1), dtype=np.uint8)
    f = glyph_measures(empty)
    assert f == {"periodicity": 0.0, "lattice": 0.0, "largest_component": 0.0, "frame_ink": 0.0, "ink": 0.0}
    full = np.full((3, 16, 16, 1), 255, dtype=np.uint8)
    f = glyph_measures(full)
    assert f == {"periodicity": 0.0, "lattice": 0.0, "largest_component": 1.0, "frame_ink": 1.0, "ink": 1.0}
    assert not meets_glyph_targets(glyph_measures(empty))["ink"]
    single = letter_t()  # fewer than 26 glyphs: the draws repeat them
    assert np.isfinite(lattice(single))


def test_colour_input_measured_on_the_largest_channel():
    t = letter_t()[..., 0]
    rgb = np.zeros(t.shape + (3,), dtype=np.uint8)
    rgb[..., 2] = t  # a blue letter
    rgb[..., 0] = 100  # on a dark red ground (below half scale: no ink)
    grey = glyph_measures(np.repeat(t[..., None], 10, axis=0))
    colour = glyph_measures(np.repeat(rgb, 10, axis=0))
    assert colour["largest_component"] == grey["largest_component"] == 1.0
    assert colour["ink"] == grey["ink"] and colour["frame_ink"] == grey["frame_ink"] == 0.0
    assert colour["periodicity"] == pytest.approx(grey["periodicity"], abs=0.02)


def test_components_are_eight_connected():
    image = np.zeros((1, 8, 8, 1), dtype=np.uint8)
    image[0, 1, 1] = image[0, 2, 2] = image[0, 3, 3] = 255  # a diagonal: one piece
    image[0, 6, 6] = 255  # apart
    assert largest_component(image) == pytest.approx(3 / 4)


def test_targets():
    good = {"periodicity": 0.03, "lattice": 0.07, "largest_component": 1.0, "frame_ink": 0.0, "ink": 0.1}
    assert all(meets_glyph_targets(good).values())
    bad = dict(good, lattice=0.5, ink=0.6)
    assert meets_glyph_targets(bad) == dict(periodicity=True, lattice=False, largest_component=True,
                                            frame_ink=True, ink=False)


@pytest.mark.parametrize("diagonal", [False, True])
def test_labelling_numpy_and_scipy_agree(monkeypatch, diagonal):
    """The numpy labelling (used where scipy is missing) finds scipy's components; both name them alike."""
    ndimage = pytest.importorskip("scipy.ndimage")
    import zoo_glyphnet.metrics as metrics

    rng = np.random.default_rng(2)
    for share in (0.3, 0.45, 0.6, 0.8):
        mask = rng.random((20, 23, 17)) < share
        fast = metrics._label(mask, diagonal)
        monkeypatch.setattr(metrics, "_PURE_NUMPY", True)
        slow = metrics._label(mask, diagonal)
        monkeypatch.setattr(metrics, "_PURE_NUMPY", False)
        structure = np.ones((3, 3)) if diagonal else None
        for labels in (fast, slow):
            inner = labels[:, 1:-1, 1:-1]
            assert (inner[~mask] == -1).all() and (labels[:, [0, -1]] == -1).all()
            flat = labels.ravel()
            assert (flat[flat[flat >= 0]] == flat[flat >= 0]).all()  # a label is the index of a pixel holding it
            for i in range(len(mask)):
                truth, count = ndimage.label(mask[i], structure=structure)
                pairs = np.unique(np.stack([inner[i][mask[i]], truth[mask[i]]]), axis=1)
                assert pairs.shape[1] == count == len(np.unique(inner[i][mask[i]]))  # the same partition
    monkeypatch.setattr(metrics, "_PURE_NUMPY", True)
    images = (rng.random((30, 32, 32, 1)) < 0.4).astype(np.uint8) * 255
    slow = glyph_measures(images)
    monkeypatch.setattr(metrics, "_PURE_NUMPY", False)
    assert glyph_measures(images) == slow
