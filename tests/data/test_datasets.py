"""zoo_core.data.datasets: generated glyphs, file/folder loaders, and one-line errors for bad data."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
from PIL import Image

from zoo_core.data.datasets import GLYPH_CLASSES, glyph_fonts, load_dataset
from zoo_core.errors import DatasetError, ZooError


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text
    return text


@pytest.mark.parametrize("spec,shape", [("glyphs-28", (28, 28, 1)), ("glyphs-64", (64, 64, 1)),
                                        ("glyphs-28-rgb", (28, 28, 3)), ("glyphs-64-rgb", (64, 64, 3))])
def test_glyph_shapes_and_labels(spec, shape):
    images, labels = load_dataset(spec, n=40)
    assert images.shape == (40, *shape) and images.dtype == np.uint8
    assert labels.shape == (40,) and labels.dtype == np.int64
    assert labels.min() >= 0 and labels.max() < len(GLYPH_CLASSES)
    assert images.std() > 20  # drawn glyphs, not blank frames
    assert len(np.unique(images.reshape(40, -1), axis=0)) == 40


def test_glyphs_deterministic_and_split_disjoint():
    a, la = load_dataset("glyphs-28", n=30, seed=3)
    b, lb = load_dataset("glyphs-28", n=30, seed=3)
    c, _ = load_dataset("glyphs-28", n=30, seed=4)
    t, _ = load_dataset("glyphs-28", "test", n=30, seed=3)
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    assert not np.array_equal(a, c) and not np.array_equal(a, t)
    a[:] = 0  # callers get copies: the cache is not corrupted
    assert np.array_equal(load_dataset("glyphs-28", n=30, seed=3)[0], b)


def test_glyph_labels_are_the_characters():
    # A nearest-class-mean classifier must beat chance (1/36) by far on held-out glyphs,
    # which it can only if a label names the character drawn.
    x, y = load_dataset("glyphs-28", n=1500)
    xt, yt = load_dataset("glyphs-28", "test", n=300)
    x = x.reshape(len(x), -1) / 255.0
    xt = xt.reshape(len(xt), -1) / 255.0
    means = np.stack([x[y == k].mean(0) for k in range(len(GLYPH_CLASSES))])
    pred = ((xt[:, None, :] - means[None]) ** 2).sum(-1).argmin(1)
    assert (pred == yt).mean() > 0.25
    shuffled = np.random.default_rng(0).permutation(y)
    means = np.stack([x[shuffled == k].mean(0) for k in range(len(GLYPH_CLASSES))])
    pred = ((xt[:, None, :] - means[None]) ** 2).sum(-1).argmin(1)
    assert (pred == yt).mean() < 0.12


def test_pillow_font_only():
    assert glyph_fonts("pillow") == ["pillow"]
    assert glyph_fonts("all")[0] == "pillow"
    images, _ = load_dataset("glyphs-28", n=10, fonts="pillow")
    assert images.shape == (10, 28, 28, 1) and images.max() > 200


def test_rgb_glyphs_have_contrast():
    images, _ = load_dataset("glyphs-28-rgb", n=20)
    luma = images.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    spread = luma.reshape(20, -1).max(1) - luma.reshape(20, -1).min(1)
    assert spread.min() > 60


def test_npy_npz_roundtrip(tmp_path):
    images, labels = load_dataset("glyphs-28", n=12)
    np.save(tmp_path / "a.npy", images[..., 0])  # N x H x W grey
    got, none = load_dataset(tmp_path / "a.npy")
    assert none is None and np.array_equal(got, images)
    np.savez(tmp_path / "b.npz", images=images.astype(np.float32) / 255.0, labels=labels)
    got, got_labels = load_dataset(str(tmp_path / "b.npz"))
    assert np.array_equal(got, images) and np.array_equal(got_labels, labels)
    np.savez(tmp_path / "c.npz", x_train=images[:8], y_train=labels[:8], x_test=images[8:], y_test=labels[8:])
    train, ytr = load_dataset(tmp_path / "c.npz")
    test, yte = load_dataset(tmp_path / "c.npz", "test")
    assert np.array_equal(train, images[:8]) and np.array_equal(test, images[8:])
    assert np.array_equal(ytr, labels[:8]) and np.array_equal(yte, labels[8:])


def test_resize_channels_and_n(tmp_path):
    images, _ = load_dataset("glyphs-28", n=6, size=16, channels=3)
    assert images.shape == (6, 16, 16, 3)
    assert np.array_equal(images[..., 0], images[..., 2])
    grey, _ = load_dataset("glyphs-28-rgb", n=6, channels=1)
    assert grey.shape == (6, 28, 28, 1)
    first, _ = load_dataset(np.zeros((10, 8, 8, 1), np.uint8), n=3)
    assert first.shape == (3, 8, 8, 1)


def test_image_folder_with_class_folders(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(tmp_path / cls / f"{i}.png")
    images, labels = load_dataset(tmp_path)
    assert images.shape == (6, 20, 20, 3)
    assert labels.tolist() == [0, 0, 0, 1, 1, 1]
    flat = tmp_path / "flat"
    flat.mkdir()
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(flat / "x.png")
    images, labels = load_dataset(flat)
    assert images.shape == (1, 9, 9, 1) and labels is None


@pytest.mark.parametrize("data,needle", [
    (np.zeros((4, 28, 28, 5), np.uint8), "shape"),
    (np.zeros((4, 28), np.uint8), "shape"),
    (np.zeros((0, 28, 28, 1), np.uint8), "no images"),
    (np.zeros((4, 3, 3, 1), np.uint8), "too small"),
    (np.full((2, 8, 8), 2.5, np.float32), "[0, 1]"),
    (np.full((2, 8, 8), -0.1, np.float64), "[0, 1]"),
    (np.full((2, 8, 8), np.nan, np.float32), "NaN"),
    (np.full((2, 8, 8), 300, np.int32), "[0, 255]"),
    (np.array([["a"]]), "numbers"),
])
def test_bad_arrays(data, needle):
    with pytest.raises(DatasetError) as info:
        load_dataset(data)
    assert needle in _one_line(info.value)
    assert isinstance(info.value, ZooError)


def test_bad_files_and_specs(tmp_path):
    (tmp_path / "empty").mkdir()
    cases = {"empty": "no image files", "missing.npz": "neither a built-in", "glyphs-99": "neither a built-in"}
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    cases["obj.npy"] = "pickle"
    np.savez(tmp_path / "nokey.npz", weights=np.zeros(3))
    cases["nokey.npz"] = "no image array"
    np.savez(tmp_path / "badlabels.npz", images=np.zeros((4, 8, 8), np.uint8), labels=np.zeros(3))
    cases["badlabels.npz"] = "labels"
    (tmp_path / "mixed").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "mixed" / "a.png")
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(tmp_path / "mixed" / "b.png")
    cases["mixed"] = "different sizes"
    (tmp_path / "notes.txt").write_text("hi")
    cases["notes.txt"] = ".npy or .npz"
    for name, needle in cases.items():
        spec = name if name.startswith("glyphs") else str(tmp_path / name)
        with pytest.raises(DatasetError) as info:
            load_dataset(spec)
        assert needle in _one_line(info.value), (name, str(info.value))
    with pytest.raises(DatasetError, match="split"):
        load_dataset("glyphs-28", "valid")


def test_mnist_offline_says_how_to_pass_a_file(monkeypatch):
    def offline():
        raise OSError("Temporary failure in name resolution")

    fake = types.ModuleType("keras")
    fake.datasets = types.SimpleNamespace(mnist=types.SimpleNamespace(load_data=offline))
    monkeypatch.setitem(sys.modules, "keras", fake)
    with pytest.raises(DatasetError) as info:
        load_dataset("mnist")
    text = _one_line(info.value)
    assert "offline" in text and "--data mnist.npz" in text
    monkeypatch.setitem(sys.modules, "keras", None)  # keras not installed
    with pytest.raises(DatasetError, match="--data fashion_mnist.npz"):
        load_dataset("fashion_mnist")


def test_mnist_through_keras_when_available(monkeypatch):
    train = (np.zeros((5, 28, 28), np.uint8), np.arange(5))
    test = (np.full((2, 28, 28), 255, np.uint8), np.arange(2))
    fake = types.ModuleType("keras")
    fake.datasets = types.SimpleNamespace(fashion_mnist=types.SimpleNamespace(load_data=lambda: (train, test)))
    monkeypatch.setitem(sys.modules, "keras", fake)
    images, labels = load_dataset("fashion_mnist", "test")
    assert images.shape == (2, 28, 28, 1) and images.max() == 255 and labels.tolist() == [0, 1]


def test_works_with_pillow_alone(monkeypatch):
    # A fresh machine: no system fonts at all; Pillow's bundled scalable font must suffice.
    import zoo_core.data.glyphs as ds

    monkeypatch.setattr(ds, "FONT_DIRS", ())
    ds._font_objects.cache_clear()
    ds._glyphs_cached.cache_clear()
    try:
        assert ds.glyph_fonts("all") == ["pillow"]
        images, labels = load_dataset("glyphs-28", n=20, seed=9)
        reference, _ = load_dataset("glyphs-28", n=20, seed=9, fonts="pillow")
        assert np.array_equal(images, reference) and images.max() > 200
    finally:
        ds._font_objects.cache_clear()
        ds._glyphs_cached.cache_clear()
