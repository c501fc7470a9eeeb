"""zoo_core.media.quality: the Frechet distance and class figures on known cases, and the digits-cnn calibration."""

from __future__ import annotations

import re

import numpy as np
import pytest

from zoo_core.media.quality import class_coverage, frechet_distance, mean_confidence, quality_figures, softmax


def test_frechet_distance_of_known_gaussians():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20000, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # N(0, I) vs N(m, 4 I) in 3-d: |m|^2 + 3 * (1 + 4 - 2 * 2) = |m|^2 + 3
    b = 2.0 * rng.standard_normal((20000, 3)) + np.array([1.0, 2.0, 0.0])
    assert frechet_distance(a, b) == pytest.approx(5.0 + 3.0, rel=0.03)
    with pytest.raises(ValueError):
        frechet_distance(a[:, :2], b)


def test_class_coverage_and_confidence():
    even = np.eye(10)[np.arange(1000) % 10]
    assert class_coverage(even) == {"class_entropy": pytest.approx(np.log2(10)), "class_max_share": 0.1}
    one = np.eye(10)[np.zeros(50, int)]
    assert class_coverage(one) == {"class_entropy": 0.0, "class_max_share": 1.0}
    assert mean_confidence(softmax(np.zeros((4, 10)))) == pytest.approx(0.1)
    assert mean_confidence(softmax(np.array([[100.0, 0.0]]))) == pytest.approx(1.0)


def test_quality_figures_put_the_reference_itself_at_the_ceiling_and_a_shift_far_above():
    rng = np.random.default_rng(1)
    ref, same = rng.standard_normal((300, 4)), rng.standard_normal((3000, 4))
    logits = rng.standard_normal((300, 10))
    q = quality_figures(same, rng.standard_normal((3000, 10)), ref, logits)
    assert q["fd"] < 1.5 * q["heldout_fd"]
    far = quality_figures(same + 3.0, rng.standard_normal((3000, 10)), ref, logits)
    assert far["fd"] > 10 * far["heldout_fd"]


@pytest.fixture(scope="module")
def digits_cnn():
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    import zoo_core

    return zoo_core.load("digits-cnn")


def test_digits_cnn_matches_its_card(digits_cnn):
    import zoo_core

    entry = zoo_core.get_entry("digits-cnn")
    card = re.search(r"([0-9.]+)% held-out accuracy", entry.description)
    assert card, entry.description
    metrics = digits_cnn.evaluate()
    assert metrics["images"] == 297
    assert 100 * metrics["accuracy"] == pytest.approx(float(card.group(1)), abs=0.01)


def test_real_digits_score_near_the_ceiling_noise_and_ae_codes_near_the_floor(digits_cnn):
    import zoo_core
    from zoo_core.data.datasets import load_dataset
    from zoo_core.media.quality import sample_quality

    train, _ = load_dataset("digits-28", "train")  # real digits the held-out split has never seen
    real = sample_quality(train, "digits-28", classifier=digits_cnn)
    ceiling = real["quality_heldout_fd"]
    assert real["quality_heldout_confidence"] > 0.85 and real["quality_heldout_class_entropy"] > 3.2
    assert real["quality_fd"] < 1.5 * ceiling
    assert real["quality_confidence"] > 0.85 and real["quality_class_entropy"] > 3.25
    assert real["quality_class_max_share"] < 0.13
    noise = np.random.default_rng(0).integers(0, 256, (2000, 28, 28, 1), dtype=np.uint8)
    floor = sample_quality(noise, "digits-28", classifier=digits_cnn)
    assert floor["quality_fd"] > 20 * ceiling and floor["quality_class_entropy"] < 2.5
    if "ae-glyphs-28" in {m.name for m in zoo_core.list_models()}:
        pytest.importorskip("tensorflow")
        ae = sample_quality(zoo_core.load("ae-glyphs-28").sample(2000, seed=0), "digits-28", classifier=digits_cnn)
        assert ae["quality_fd"] > 10 * ceiling and ae["quality_confidence"] < 0.8


def test_samples_of_another_shape_are_one_error_not_a_traceback(digits_cnn):
    from zoo_core.errors import ZooError
    from zoo_core.media.quality import sample_quality

    with pytest.raises(ZooError, match=r"reads images of shape \(28, 28, 1\)"):
        sample_quality(np.zeros((20, 16, 16, 1), np.uint8), "digits-28", classifier=digits_cnn)


def test_reference_classifier_only_for_its_dataset_and_image_shape():
    from zoo_core.media.quality import reference_classifier

    assert reference_classifier("digits-28") == "digits-cnn"
    assert reference_classifier("digits-28", (28, 28, 1)) == "digits-cnn"
    assert reference_classifier("glyphs-28", (16, 16, 1)) is None  # a model of resized glyphs
    assert reference_classifier("my_images.npz") is None and reference_classifier(np.zeros(3)) is None
