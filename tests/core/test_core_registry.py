"""Plugin loading, catalog validation, listing, building and loading through the public API."""

import json

import numpy as np
import pytest

import zoo_core
import zoo_core.plugins
from zoo_core import Family
from zoo_core.catalog import builtin_catalog_path, natural_key, parse_entry, read_catalog
from zoo_core.errors import PluginError, RegistryError, UnknownModelError, WeightsError
from zoo_core.util.suggest import closest
from helpers.toyplugin import TOY_SPEC, Toy, ToyPlugin, make_registry


def test_list_build_sample_save_load(toy_registry, tmp_path):
    assert [m.name for m in zoo_core.list_models()] == ["toy-8", "toy-16"]  # natural sort
    assert [m.name for m in zoo_core.list_models("*-16")] == ["toy-16"]
    model = zoo_core.load("toy-16")
    images = model.sample(5, seed=3)
    assert images.dtype == np.uint8 and images.shape == (5, 16, 16, 1)
    assert np.array_equal(images, model.sample(5, seed=3))
    assert not np.array_equal(images, model.sample(5, seed=4))
    model.save(tmp_path / "saved")
    meta = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert meta["family"] == "toy" and meta["config"]["size"] == 16
    again = zoo_core.load(str(tmp_path / "saved"))
    assert np.array_equal(again.sample(5, seed=3), images)


def test_build_by_family_with_overrides(toy_registry):
    model = zoo_core.build("toy", size=4, latent=2)
    assert model.sample(1).shape == (1, 4, 4, 1)
    assert model.num_parameters == 2 * 16 + 16  # W (latent x pixels) and b (pixels)


def test_unknown_name_suggests_closest(toy_registry):
    with pytest.raises(UnknownModelError, match=r"unknown model 'toy-61'; did you mean 'toy-16'\?"):
        zoo_core.load("toy-61")


def test_suggestion_handles_transposed_digits():
    assert closest("glyphnet-46", ["glyphnet-32", "glyphnet-64", "glyphnet-64-rgb", "random-cnn-256"]) == "glyphnet-64"
    assert closest("zzzz", ["glyphnet-64"]) is None


def test_saved_directory_with_tampered_weights_is_refused(toy_registry, tmp_path):
    zoo_core.load("toy-8").save(tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        zoo_core.load(str(tmp_path / "m"))


def test_saved_directory_with_wrong_shapes_is_refused(toy_registry, tmp_path):
    from zoo_core.io.weights import save_tensors

    zoo_core.load("toy-8").save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    wrong = {"decoder.weight": np.zeros((3, 3), np.float32), "decoder.bias": np.zeros(64, np.float32)}
    meta["weights_sha256"] = save_tensors(wrong, tmp_path / "m" / "model.safetensors")
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(WeightsError, match=r"decoder\.weight shape \(3, 3\) != expected \(4, 64\)"):
        zoo_core.load(str(tmp_path / "m"))


def test_not_trainable_is_clear(toy_registry):
    with pytest.raises(zoo_core.NotTrainableError, match="not trainable"):
        zoo_core.build("toy-8").train(steps=1)


class Duplicate:
    name = "dup"

    @zoo_core.hookimpl
    def register_models(self, register):
        register(name="toy-8", family="toy")


def test_duplicate_model_name_names_both_plugins(monkeypatch, capsys):
    registry = make_registry(ToyPlugin(), Duplicate(), monkeypatch=monkeypatch)
    assert registry.models["toy-8"].plugin == "toy"  # the first registration is kept
    assert "model 'toy-8' is registered by both plugin 'toy' and plugin 'dup'" in registry.plugins["dup"].errors[0]
    assert "plugin 'dup' skipped" in capsys.readouterr().err


class Broken:
    name = "broken"

    @zoo_core.hookimpl
    def register_families(self, register):
        raise RuntimeError("boom")


def test_broken_plugin_is_isolated(monkeypatch):
    registry = make_registry(Broken(), ToyPlugin(), monkeypatch=monkeypatch)
    assert "register_families failed: RuntimeError: boom" in registry.plugins["broken"].errors[0]
    assert [m.name for m in zoo_core.list_models()] == ["toy-8", "toy-16"]


def test_strict_mode_raises(monkeypatch):
    monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="plugin 'broken' register_families failed"):
        make_registry(Broken(), monkeypatch=monkeypatch)


def test_missing_framework_says_what_to_install(monkeypatch):
    class NeedsTorch:
        name = "needs"

        @zoo_core.hookimpl
        def register_families(self, register):
            register(Family(name="heavy", framework="torch", factory="nowhere:Model",
                            requires=("a_module_that_is_not_installed",), extra="torch"))

    make_registry(NeedsTorch(), monkeypatch=monkeypatch)
    with pytest.raises(zoo_core.MissingFrameworkError, match=r"install 'zoo\[torch\]'|zoo\[torch\]"):
        zoo_core.build("heavy")


@pytest.mark.parametrize("raw, fragment", [
    ({"name": "Bad Name", "family": "toy"}, "field 'name'"),
    ({"name": "m", "family": ""}, "entry 'm': field 'family'"),
    ({"name": "m", "family": "toy", "weights": {"source": "http://x", "sha256": "0" * 64}}, "field 'weights.source'"),
    ({"name": "m", "family": "toy", "weights": {"source": "pkg://p/x.safetensors", "sha256": "abc"}},
     "field 'weights.sha256'"),
    ({"name": "m", "family": "toy", "tags": "x"}, "field 'tags'"),
    ({"name": "m", "family": "toy", "colour": "red"}, "field 'colour': unknown field"),
    ({"name": "m", "family": "toy", "sample_sha256": "ABC"}, "field 'sample_sha256'"),
    ({"name": "m", "family": "toy", "sample_sha256": 12}, "field 'sample_sha256'"),
])
def test_entry_validation_names_entry_and_field(raw, fragment):
    with pytest.raises(RegistryError) as err:
        parse_entry(raw, "registry.json", 0)
    assert fragment in str(err.value) and str(err.value).startswith("registry.json: entry")


def test_builtin_registry_json_is_valid_and_every_family_is_registered():
    entries = read_catalog(builtin_catalog_path())
    assert entries, "registry.json lists no models"
    zoo_core.plugins.reset()
    families = {f.name for f in zoo_core.list_families()}
    for entry in entries:
        assert entry.family in families, f"{entry.name}: family {entry.family} not registered"
        zoo_core.entry_config(entry)  # the entry's config validates against its family


def test_a_retired_name_says_why_in_one_line(tmp_path):
    """glyphnet-128-rgb left the catalog (issue #29): asking for it says why and what to use, exit 2."""
    from zoo_core.catalog import retired_models

    retired = retired_models()
    assert "glyphnet-128-rgb" in retired and "glyphnet-128-rgb" not in {e.name for e in zoo_core.list_models()}
    assert not set(retired) & {e.name for e in read_catalog(builtin_catalog_path())}  # never reused
    with pytest.raises(UnknownModelError, match="glyphnet-128-rgb' was retired from the catalog: .*glyphnet-64-rgb"):
        zoo_core.load("glyphnet-128-rgb")
    with pytest.raises(UnknownModelError, match="retired"):
        zoo_core.get_entry("glyphnet-128-rgb")
    with pytest.raises(UnknownModelError, match="unknown model 'glyphnet-129-rgb'"):
        zoo_core.load("glyphnet-129-rgb")
    bad = tmp_path / "registry.json"
    bad.write_text(json.dumps({"models": [], "retired": {"x": 1}}))
    with pytest.raises(RegistryError, match="'retired' must map"):
        retired_models(bad)
    assert retired_models(tmp_path / "missing.json") == {}


def test_natural_sort():
    names = ["glyphnet-128", "glyphnet-32", "glyphnet-64-rgb", "glyphnet-64"]
    assert sorted(names, key=natural_key) == ["glyphnet-32", "glyphnet-64", "glyphnet-64-rgb", "glyphnet-128"]


def test_toy_family_model_class_is_importable_from_string():
    family = Family(name="t", framework="numpy", factory="helpers.toyplugin:Toy")
    assert family.model_class() is Toy


def test_load_of_a_family_name_builds_it(toy_registry):
    model = zoo_core.load("toy", size=4)
    assert model.sample(2).shape == (2, 4, 4, 1)


def test_user_catalog_overrides_a_plugin_registered_name(monkeypatch, tmp_path):
    catalog = tmp_path / "mine.json"
    catalog.write_text(json.dumps({"models": [{"name": "toy-8", "family": "toy", "config": {"size": 5},
                                               "description": "mine"}]}))
    monkeypatch.setenv("ZOO_REGISTRY", str(catalog))
    registry = make_registry(ToyPlugin(), monkeypatch=monkeypatch)
    assert registry.plugins["toy"].errors == []
    assert registry.models["toy-8"].description == "mine"
    assert zoo_core.load("toy-8").sample(1).shape == (1, 5, 5, 1)


class RenamedToyPlugin:
    """The toy family under a new name; its old name ``toy`` is an alias."""

    name = "renamed"

    @zoo_core.hookimpl
    def register_families(self, register):
        register(Family(name="toy-new", framework="numpy", factory=Toy, config=TOY_SPEC, latent=True,
                        aliases=("toy",)))


def test_a_family_alias_finds_the_renamed_family(monkeypatch, tmp_path):
    make_registry(ToyPlugin(), monkeypatch=monkeypatch)
    zoo_core.load("toy-16").save(tmp_path / "old")  # saved while the family was called "toy"
    images = zoo_core.load(str(tmp_path / "old")).sample(3, seed=1)
    make_registry(RenamedToyPlugin(), monkeypatch=monkeypatch)
    family = zoo_core.get_family("toy")
    assert family.name == "toy-new" and zoo_core.get_family("toy-new") is family
    assert [f.name for f in zoo_core.list_families()] == ["toy-new"]  # listings show the current name only
    assert zoo_core.resolve("toy").family is family and zoo_core.build("toy", size=4).family is family
    again = zoo_core.load(str(tmp_path / "old"))
    assert again.family_name == "toy-new" and np.array_equal(again.sample(3, seed=1), images)
    again.save(tmp_path / "new")  # written back under the current name
    assert json.loads((tmp_path / "new" / "config.json").read_text())["family"] == "toy-new"
