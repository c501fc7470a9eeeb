"""Issue 33 item 6: the tail, each one line and exit 2 (the bad-input corpus has the same cases)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

import zoo_core
from helpers.clitools import assert_one_line_error, run_zoo
from zoo_core.errors import DatasetError, UnknownModelError, WeightsError, ZooError
from zoo_core.io.safeio import parse_json
from zoo_core.io.weights import save_tensors


def _ae_folder(folder, *, sha=None, image_size=28):
    """A saved ``ae`` folder as far as ``zoo info`` reads it: config.json and a safetensors header
    holding as many weights as the default ae has (written with numpy, no Keras)."""
    from zoo_vae import count_ae_parameters

    folder.mkdir()
    save_tensors({"w": np.zeros(count_ae_parameters({}), np.float32)}, folder / "model.safetensors")
    digest = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    meta = {"format": "zoo-model/1", "family": "ae", "config": {"image_size": image_size},
            "weights_sha256": digest if sha is None else sha}
    (folder / "config.json").write_text(json.dumps(meta))
    return folder


def test_info_accepts_a_consistent_folder(tmp_path):
    proc = run_zoo("info", str(_ae_folder(tmp_path / "ok")))
    assert proc.returncode == 0, proc.stderr
    assert "family          ae" in proc.stdout


@pytest.mark.parametrize("sha", [12345, "abc", "A" * 64, [1], True])
def test_info_refuses_a_weights_sha256_that_sample_would_refuse(tmp_path, sha):
    proc = run_zoo("info", str(_ae_folder(tmp_path / "f", sha=sha)))
    assert_one_line_error(proc, "weights_sha256 must be 64 lowercase hex characters")


def test_info_refuses_a_config_that_does_not_fit_the_weights(tmp_path):
    proc = run_zoo("info", str(_ae_folder(tmp_path / "f", image_size=32)))
    assert_one_line_error(proc, "its config describes 62,494 weights, model.safetensors holds 47,854")


def test_json_must_be_utf8():
    text = '{"family": "ae"}'
    for encoding in ("utf-16", "utf-32"):  # with a BOM: not UTF-8 at byte 0
        with pytest.raises(ZooError, match="not UTF-8"):
            parse_json(text.encode(encoding), "config.json")
    with pytest.raises(ZooError, match="not valid JSON"):  # without one, NUL bytes are UTF-8 but not JSON
        parse_json(text.encode("utf-16-le"), "config.json")
    assert parse_json(text.encode("utf-8-sig"), "config.json") == {"family": "ae"}  # a BOM is fine


def test_a_utf16_config_json_is_refused_by_sample_and_info(tmp_path):
    folder = _ae_folder(tmp_path / "f")
    (folder / "config.json").write_bytes((folder / "config.json").read_text().encode("utf-16"))
    for args in (["info", str(folder)], ["sample", str(folder), "-o", str(tmp_path / "x.png")]):
        assert_one_line_error(run_zoo(*args), "not UTF-8")
    assert not (tmp_path / "x.png").exists()


def test_gallery_output_empty_is_refused(tmp_path):
    for value in ("", "   "):
        proc = run_zoo("gallery", "-o", value, cwd=tmp_path)
        assert_one_line_error(proc, "the gallery folder (-o) is empty")
    assert list(tmp_path.iterdir()) == []


def test_a_5000_character_name_is_one_short_line(tmp_path):
    name = "a" * 5000
    for args in (["sample", name, "-o", str(tmp_path / "x.png")], ["info", name]):
        proc = run_zoo(*args)
        assert_one_line_error(proc, "(5000 characters)' is not a model name or a folder (File name too long)")
        assert len(proc.stderr) < 300
    with pytest.raises(UnknownModelError):
        zoo_core.load(name)


def test_data_squeezed_out_of_shape_is_refused_and_a_near_square_is_resized(tmp_path):
    from zoo_core.data.datasets import load_dataset

    wide = tmp_path / "wide.npy"
    np.save(wide, np.zeros((3, 4, 5000), np.uint8))
    with pytest.raises(DatasetError, match="images of 4x5000 pixels would be squeezed into 28x28"):
        load_dataset(str(wide), size=28)
    assert load_dataset(np.zeros((2, 32, 40), np.uint8), size=28)[0].shape == (2, 28, 28, 1)


def test_grid_checks_its_info_path_before_drawing(tmp_path):
    proc = run_zoo("random-cnn-grid", "-o", str(tmp_path / "g.png"), "--info", "/proc/zoo-info.json")
    assert_one_line_error(proc, "--info /proc/zoo-info.json: cannot write there")
    assert not (tmp_path / "g.png").exists()


def test_grid_with_no_drawable_cell_is_an_error_not_zero_images(tmp_path):
    proc = run_zoo("random-cnn-grid", "--n", "2", "--size", "8", "-o", str(tmp_path / "g.png"),
                   env={"TF_CPP_MIN_LOG_LEVEL": "3", "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 2 and "zoo: error: no cell of the --n 2 --size 8 grid fits an architecture" in proc.stderr
    assert not (tmp_path / "g.png").exists()


def test_weights_error_is_a_zoo_error():
    assert issubclass(WeightsError, ZooError)
