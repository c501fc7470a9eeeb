"""The CLI over the core: listing, inspection, errors and start-up cost, run as a user runs it."""

import json

import numpy as np
import pytest

from zoo_cli.main import cli
from helpers.clitools import assert_one_line_error, imported_frameworks, invoke, one_error_line, run_zoo
from helpers.toyplugin import Toy


def test_list_and_json(runner, toy_registry):
    out = invoke(runner, "list")
    assert out.exit_code == 0 and "toy-8" in out.output and "numpy" in out.output
    rows = json.loads(invoke(runner, "list", "--json").output)
    assert [r["name"] for r in rows] == ["toy-8", "toy-16"]
    assert rows[0]["plugin"] == "toy" and rows[0]["framework"] == "numpy" and rows[0]["weights_local"] is True


def test_info_json(runner, toy_registry):
    info = json.loads(invoke(runner, "info", "toy-16", "--json").output)
    assert info["config"] == {"size": 16, "latent": 4, "seed": 0, "mode": "a"}
    assert info["installed"] == "yes"


def test_info_options_from_the_family_spec(runner, toy_registry):
    info = json.loads(invoke(runner, "info", "toy-16", "--options", "--json").output)
    options = {o["key"]: o for o in info["options"]}
    assert list(options) == ["size", "latent", "seed", "mode"]
    size = options["size"]
    assert (size["type"], size["default"], size["value"], size["min"], size["max"], size["help"], size["bounds"]) == \
        ("int", 8, 16, 2, 64, "image side", "2..64")
    assert options["mode"]["choices"] == ["a", "b"] and options["mode"]["bounds"] == 'one of "a", "b"'
    assert options["seed"]["bounds"] == "-"
    table = invoke(runner, "info", "toy-16", "--options").output.splitlines()
    assert table[0].startswith("toy-16 (toy): 4 config keys")
    assert table[1].split() == ["KEY", "TYPE", "VALUE", "DEFAULT", "BOUNDS", "HELP"]
    assert table[2].split() == ["size", "int", "16", "8", "2..64", "image", "side"]
    family = json.loads(invoke(runner, "info", "toy", "--options", "--json").output)  # a family name works too
    assert [o["value"] for o in family["options"]] == [8, 4, 0, "a"]


def test_sample_writes_deterministic_png_and_npy(runner, toy_registry, tmp_path):
    a, b, c = (tmp_path / n for n in ("a.png", "b.png", "c.png"))
    assert invoke(runner, "sample", "toy-8", "-n", "4", "--seed", "1", "-o", str(a)).exit_code == 0
    assert invoke(runner, "sample", "toy-8", "-n", "4", "--seed", "1", "-o", str(b)).exit_code == 0
    assert invoke(runner, "sample", "toy-8", "-n", "4", "--seed", "2", "-o", str(c)).exit_code == 0
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    npy = tmp_path / "x.npy"
    assert invoke(runner, "sample", "toy-8", "-n", "3", "--set", "size=4", "-o", str(npy)).exit_code == 0
    assert np.load(npy).shape == (3, 4, 4, 1)


@pytest.mark.parametrize("args, fragment", [
    (("sample", "toy-61"), "unknown model 'toy-61'; did you mean 'toy-16'?"),
    (("sample", "toy-8", "--set", "size=zero"), "config key 'size': cannot read 'zero' as int"),
    (("sample", "toy-8", "--set", "colour=red"), "unknown config key 'colour'"),
    (("info", "toy"), ""),  # a family name is fine for info
    (("train", "toy-8", "-o", "RUN"), "not trainable"),
    (("sample", "toy-8", "-o", "x.jpg"), "use one of .png, .npy, .npz"),
    (("interpolate", "toy-8", "-o", "x.mp4"), "use one of .gif, .webp"),
    (("eval", "toy-8"), "defines no evaluation"),
])
def test_user_errors_are_one_line_exit_2(runner, toy_registry, tmp_path, monkeypatch, args, fragment):
    if args[0] == "eval":  # the toy family evaluates; without it, the model's base class refuses
        monkeypatch.delattr(Toy, "evaluate")
    args = tuple(str(tmp_path / a) if a in ("RUN", "x.jpg", "x.mp4") else a for a in args)
    result = runner.invoke(cli, list(args))
    if not fragment:
        assert result.exit_code == 0
        return
    one_error_line(result, fragment)


def test_eval_prints_the_familys_figures(runner, toy_registry):
    figures = json.loads(invoke(runner, "eval", "toy-8", "--json").output)
    assert figures["model"] == "toy-8" and figures["images"] == 64 and 0 < figures["mean_intensity"] < 1


def test_train_refuses_to_clobber_a_run_folder(runner, toy_registry, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "keep.txt").write_text("precious")
    result = runner.invoke(cli, ["train", "toy", "-o", str(tmp_path / "run")])
    assert result.exit_code == 2 and "not empty; pass --resume" in result.output
    assert (tmp_path / "run" / "keep.txt").read_text() == "precious"


def test_interpolate_writes_gif(runner, toy_registry, tmp_path):
    from PIL import Image

    out = tmp_path / "walk.gif"
    result = invoke(runner, "interpolate", "toy-8", "-o", str(out), "--frames", "3", "--points", "2", "-n", "4")
    assert result.exit_code == 0, result.output
    assert Image.open(out).n_frames == 6


def test_corrupt_saved_model_one_line_in_real_cli(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{not json")
    assert_one_line_error(run_zoo("sample", str(tmp_path / "m"), "-o", str(tmp_path / "x.png")), "not valid JSON")


def test_unknown_model_in_real_cli():
    assert_one_line_error(run_zoo("sample", "no-such-model-xyz"), "unknown model 'no-such-model-xyz'")


def test_version():
    from zoo_core import __version__

    proc = run_zoo("--version")
    assert proc.returncode == 0 and __version__ in proc.stdout


@pytest.mark.parametrize("args", [("list",), ("list", "--json"), ("plugins",), ("--help",), ("info", "random-cnn-256"),
                                  ("info", "glyphnet-64", "--options"),
                                  ("info", "vae-glyphs-28", "--options", "--json")])
def test_listing_imports_no_framework(args):
    heavy, output = imported_frameworks(*args)
    assert heavy == [], f"zoo {' '.join(args)} imported {heavy}: {output[-500:]}"


def test_plugins_can_be_disabled():
    proc = run_zoo("list", "--json", env={"ZOO_PLUGINS": ""})
    assert proc.returncode == 0 and json.loads(proc.stdout) == []
    proc = run_zoo("plugins", env={"ZOO_PLUGINS": ""})
    assert "no plugins loaded" in proc.stdout


def test_unwritable_output_is_one_line(runner, toy_registry, tmp_path):
    (tmp_path / "file").write_text("x")
    result = runner.invoke(cli, ["sample", "toy-8", "-o", str(tmp_path / "file" / "out.png")])
    assert result.exit_code == 2 and result.output.startswith("zoo: error: ") and "Traceback" not in result.output


def test_info_on_a_saved_directory(runner, toy_registry, tmp_path):
    import zoo_core

    zoo_core.build("toy", size=4).save(tmp_path / "m")
    info = json.loads(invoke(runner, "info", str(tmp_path / "m"), "--json").output)
    assert info["family"] == "toy" and info["config"]["size"] == 4 and info["weights_local"] is True


@pytest.mark.parametrize("damage", ["truncated", "wrong-shape", "pickle"])
def test_damaged_weights_are_one_line_exit_2(runner, toy_registry, tmp_path, damage):
    import pickle

    import zoo_core
    from zoo_core.io.weights import save_tensors

    saved = tmp_path / "m"
    zoo_core.build("toy-8").save(saved)
    weights = saved / "model.safetensors"
    meta = json.loads((saved / "config.json").read_text())
    if damage == "truncated":
        weights.write_bytes(weights.read_bytes()[:200])
    elif damage == "wrong-shape":
        save_tensors({"decoder.weight": np.zeros((4, 10), np.float32), "decoder.bias": np.zeros(64, np.float32)},
                     weights)
    else:
        weights.write_bytes(pickle.dumps({"decoder.weight": [0.0] * 4}))
    from zoo_core.io.weights import sha256_file

    meta["weights_sha256"] = sha256_file(weights)  # the hash matches: the file itself must be judged
    (saved / "config.json").write_text(json.dumps(meta))
    line = one_error_line(runner.invoke(cli, ["sample", str(saved), "-o", str(tmp_path / "x.png")]))
    assert {"truncated": "not a valid safetensors file",
            "wrong-shape": "decoder.weight shape (4, 10) != expected (4, 64)",
            "pickle": "pickle/zip file, not safetensors"}[damage] in line
    assert not (tmp_path / "x.png").exists()
