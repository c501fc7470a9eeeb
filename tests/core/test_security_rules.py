"""Fast, in-process checks of the rules docs/security.md states (the corpus in test_bad_inputs.py runs them end to end)."""

from __future__ import annotations

import math
import os

import pytest

import zoo_core
from zoo_core.catalog import source_problem
from zoo_core.config import MAX_LIST, Param
from zoo_core.errors import ConfigError, ZooError
from zoo_core.io.safeio import check_file, json_depth_ok, parse_json, read_bytes

BUILTIN = ("glyphnet", "random_cnn", "vae", "filterviz", "glyph_cnn")


def builtin_params():
    for family in zoo_core.list_families():
        if family.plugin in BUILTIN:
            for key, param in family.config.params.items():
                yield family.name, key, param


def test_every_numeric_key_of_every_builtin_family_has_finite_bounds():
    seen = 0
    for family, key, param in builtin_params():
        if param.type not in ("int", "float", "list") or param.choices is not None:
            continue
        seen += 1
        assert param.min is not None and param.max is not None, f"{family}.{key} lacks a bound"
        assert math.isfinite(param.min) and math.isfinite(param.max) and param.min <= param.max, f"{family}.{key}"
        if param.default is not None and param.type != "list":
            assert param.min <= param.default <= param.max, f"{family}.{key} default outside its bounds"
    assert seen >= 30


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "1e999"])
def test_floats_must_be_finite(text):
    with pytest.raises(ConfigError, match="finite"):
        Param(1.0, "float", min=0.0, max=10.0).parse("x", text)
    with pytest.raises(ConfigError, match="finite"):
        Param(1.0, "float").check("x", float(text))


def test_lists_are_bounded_and_huge_nesting_is_one_error():
    with pytest.raises(ConfigError, match="longer than"):
        Param([1], "list", min=1, max=9).check("x", [1] * (MAX_LIST + 1))
    with pytest.raises(ConfigError, match="cannot read"):
        Param([1], "list", min=1, max=9).parse("x", "[" * 100_000)


def test_special_files_are_refused_before_opening(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, kind in (("/dev/zero", "a device"), (fifo, "a FIFO"), (tmp_path, "a folder")):
        with pytest.raises(ZooError, match=kind):
            read_bytes(path, 1 << 20, "file")
    big = tmp_path / "big"
    big.write_bytes(b"x" * 2000)
    with pytest.raises(ZooError, match="more than the limit"):
        check_file(big, 1000, "file")
    assert read_bytes(big, 2000, "file") == b"x" * 2000


def test_json_nesting_is_bounded():
    assert json_depth_ok({"a": [[1]]}) and not json_depth_ok(eval("[" * 70 + "]" * 70))  # noqa: S307
    for text in ("[" * 100_000, "[" * 65 + "]" * 65):
        with pytest.raises(ZooError, match="nests deeper"):
            parse_json(text, "doc")
    assert parse_json("[" * 64 + "]" * 64, "doc") is not None


@pytest.mark.parametrize("source", [
    "pkg://zoo_glyphnet/../../../../etc/passwd", "pkg://zoo_glyphnet/weights/../x", "pkg://zoo_glyphnet/.x",
    "pkg://zoo_glyphnet//etc/passwd", "pkg://../x/y", "pkg://zoo_glyphnet", "hf://../..@x", "hf://a/b@../../c",
    "hf://a--b/c", "file:///a/../b", "file:///a/%2e%2e/b", "file://host/x", "file://relative", "s3://bucket/x",
    "pkg://zoo_glyphnet/w\nx", 12345])
def test_bad_weights_sources_are_refused(source):
    assert source_problem(source)


@pytest.mark.parametrize("source", ["pkg://zoo_glyphnet/weights/glyphnet-64.safetensors", "hf://org/repo",
                                    "hf://org/repo@v1.0", "hf://org/repo@refs/pr/1", "file:///abs/model.safetensors"])
def test_good_weights_sources_pass(source):
    assert source_problem(source) is None


def test_every_seed_option_is_a_non_negative_int_checked_by_click():
    import click

    from zoo_cli.main import add_plugin_commands, cli

    add_plugin_commands()
    seeds = []

    def walk(command):
        for param in command.params:
            if param.name == "seed":
                seeds.append((command.name, param.type))
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(cli)
    assert {"sample", "eval", "interpolate"} <= {name for name, _ in seeds}
    for name, kind in seeds:
        assert isinstance(kind, click.IntRange) and kind.min == 0 and kind.max is not None, name


def test_pins_with_a_repo_id_that_is_a_path_are_ignored(tmp_path, monkeypatch):
    import json

    from zoo_core import hub

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    (tmp_path / "zoo").mkdir()
    (tmp_path / "zoo" / "hub-pins.json").write_text(json.dumps(
        {"pins": {"../../x": {"commit": "a" * 40}, "org/repo": {"commit": "b" * 40}}}))
    assert list(hub.read_pins()) == ["org/repo"]  # 'zoo cache clear' can never delete outside the cache
