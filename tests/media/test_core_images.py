"""Grids, image files and latent walks."""

import numpy as np
import pytest
from PIL import Image

import zoo_core
from zoo_core.errors import ZooError
from zoo_core.media.images import save_animation, save_images, tile
from zoo_core.media.walks import lerp, slerp


def test_tile_layout():
    images = np.zeros((5, 4, 6, 1), np.uint8)
    grid = tile(images, pad=1)
    assert grid.shape == (1 + 2 * 5, 1 + 3 * 7, 1)  # 3 columns, 2 rows


@pytest.mark.parametrize("suffix", [".png", ".npy", ".npz"])
def test_save_images_formats(tmp_path, suffix):
    images = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    path = save_images(images, tmp_path / f"out{suffix}")
    if suffix == ".png":
        assert Image.open(path).size == (2 + 2 * 10, 2 + 2 * 10)
    elif suffix == ".npy":
        assert np.array_equal(np.load(path), images)
    else:
        assert np.array_equal(np.load(path)["images"], images)


def test_unknown_suffix_is_a_clear_error(tmp_path):
    with pytest.raises(ZooError, match="use one of .png, .npy, .npz"):
        save_images(np.zeros((1, 2, 2, 1), np.uint8), tmp_path / "x.jpg")


def test_animation_frames(tmp_path):
    frames = np.stack([np.full((8, 8, 1), v, np.uint8) for v in (0, 128, 255)])
    path = save_animation(frames, tmp_path / "a.gif", fps=10)
    assert Image.open(path).n_frames == 3


def test_slerp_keeps_norm_and_hits_endpoints():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(64), rng.standard_normal(64)
    t = np.linspace(0, 1, 11)
    path = slerp(a, b, t)
    assert np.allclose(path[0], a) and np.allclose(path[-1], b)
    norms = np.linalg.norm(path, axis=1)
    assert np.all(norms >= min(np.linalg.norm(a), np.linalg.norm(b)) - 1e-9)
    assert np.linalg.norm(lerp(a, b, np.array([0.5]))[0]) < norms[5]  # the straight line dips inward


def test_interpolate_on_a_latent_model(toy_registry):
    frames = zoo_core.interpolate(zoo_core.load("toy-8"), n=3, points=2, frames=5, path="lerp")
    assert frames.shape == (10, 3, 8, 8, 1) and frames.dtype == np.uint8
    assert np.array_equal(frames[0], zoo_core.load("toy-8").decode(zoo_core.load("toy-8").sample_latent(6)[:3]))
