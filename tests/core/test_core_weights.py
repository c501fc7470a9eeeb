"""Safetensors IO: atomic writes, sha256 checks, and one-line errors for bad files."""

import pickle

import numpy as np
import pytest

from zoo_core.errors import WeightsError
from zoo_core.io.weights import check_state, load_tensors, save_tensors, sha256_file, verify_sha256


def test_round_trip_and_sha(tmp_path):
    tensors = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(4, np.int64)}
    path = tmp_path / "m.safetensors"
    sha = save_tensors(tensors, path)
    assert sha == sha256_file(path)
    loaded = load_tensors(path)
    assert set(loaded) == {"a", "b"} and np.array_equal(loaded["a"], tensors["a"])
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temp file left behind


def test_truncated_file_is_one_line_error(tmp_path):
    path = tmp_path / "m.safetensors"
    save_tensors({"a": np.zeros((64, 64), np.float32)}, path)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(WeightsError, match="not a valid safetensors file") as err:
        load_tensors(path)
    assert "\n" not in str(err.value)


def test_pickle_renamed_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(pickle.dumps({"a": [1, 2, 3]}))
    with pytest.raises(WeightsError, match="pickle"):
        load_tensors(path)


def test_missing_file(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        load_tensors(tmp_path / "nope.safetensors")


def test_sha_mismatch(tmp_path):
    path = tmp_path / "m.safetensors"
    save_tensors({"a": np.zeros(3, np.float32)}, path)
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        verify_sha256(path, "0" * 64)


def test_check_state_names_every_problem():
    expected = {"w": np.zeros((2, 3), np.float32), "b": np.zeros(3, np.float32), "c": np.zeros(1, np.float32)}
    got = {"w": np.zeros((3, 2), np.float32), "b": np.zeros(3, np.float64), "x": np.zeros(1, np.float32)}
    with pytest.raises(WeightsError) as err:
        check_state(expected, got, "f.safetensors")
    message = str(err.value)
    for fragment in ("missing c", "unexpected x", "w shape (3, 2) != expected (2, 3)", "b dtype float64"):
        assert fragment in message


def test_scalars_keep_their_shape(tmp_path):
    path = tmp_path / "s.safetensors"
    save_tensors({"step": np.array(7, np.int64)}, path)
    assert load_tensors(path)["step"].shape == ()


def test_written_files_follow_the_umask(tmp_path):
    import os

    path = tmp_path / "m.safetensors"
    save_tensors({"a": np.zeros(1, np.float32)}, path)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
