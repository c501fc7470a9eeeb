"""The conformance kit (zoo_core.testing): a correct family passes, and each check catches its defect.

The families under test are installed as a real distribution (a ``*.dist-info`` folder with a
``zoo.plugins`` entry point) in a temporary folder: one well-behaved numpy family and one family
per defect, each differing from the good one in exactly one method or declaration.
"""

from __future__ import annotations

import json

import pytest

from helpers.pluginenv import on_sys_path, python, write_dist, zoo

MODELS = '''
import numpy as np
from zoo_core import History, ZooModel
from zoo_core.errors import NotTrainableError, ZooError
from zoo_core.model import to_uint8


class Good(ZooModel):
    """A mean image plus Gaussian pixel noise (inverted in mode b); training moves the mean towards bright squares."""

    def __init__(self, config, family=None):
        super().__init__(config, family)
        rng = np.random.default_rng(self.config["seed"])
        self.mean = rng.uniform(0.2, 0.8, size=self.shape()).astype(np.float32)

    def shape(self):
        return (self.config["size"], self.config["size"], 1)

    def sample(self, n, seed=0):
        noise = np.random.default_rng(seed).standard_normal((n, *self.shape())).astype(np.float32)
        images = to_uint8(self.mean + 0.2 * noise)
        return 255 - images if self.config["mode"] == "b" else images

    def training_session(self, data, steps, ctx):
        if data is not None:
            raise ZooError("kgood trains on generated squares; it takes no --data")
        return Session(self)

    def state_dict(self):
        return {"mean": self.mean}

    def load_state_dict(self, tensors):
        self.mean = np.array(tensors["mean"], dtype=np.float32)


class Session:
    """Each step moves the mean half-way to the mean of 8 random binary images drawn from (seed, step)."""

    steps_per_call = 1
    examples = None

    def __init__(self, model):
        self.model = model

    def run(self, first, last):
        m, out = self.model, []
        for step in range(first, last + 1):
            rng = np.random.default_rng([m.config["seed"], step])
            target = (rng.uniform(size=(8, *m.shape())) > 0.5).astype(np.float32).mean(0)
            m.mean = (m.mean + 0.5 * (target - m.mean)).astype(np.float32)
            out.append({"loss": float(np.abs(target - m.mean).mean())})
        return out

    def state(self):
        return {"mean": np.array(self.model.mean)}

    def load_state(self, tensors):
        self.model.mean = np.array(tensors["mean"], dtype=np.float32)

    def close(self):
        pass


class GlobalRng(Good):
    def sample(self, n, seed=0):
        return to_uint8(self.mean + 0.2 * np.random.standard_normal((n, *self.shape())))


class SeedIgnored(Good):
    def sample(self, n, seed=0):
        return super().sample(n, seed=0)


class FloatImages(Good):
    def sample(self, n, seed=0):
        return super().sample(n, seed).astype(np.float32) / 255


class WrongShape(Good):
    @property
    def image_shape(self):
        return (self.config["size"], self.config["size"], 3)


class NoopLoad(Good):
    def load_state_dict(self, tensors):
        pass


class Untrainable(Good):
    training_session = ZooModel.training_session  # weights are a function of the seed


class Refuser(Good):
    def training_session(self, data, steps, ctx):
        raise NotTrainableError("weights are a function of the seed")


class Silent(Good):
    def train(self, data=None, *, steps=1000, callbacks=(), **options):
        return History()


class ConfigPolluter(Good):
    def __init__(self, config, family=None):
        super().__init__(config, family)
        self.config["cache"] = object()


class NotAModel:
    def __init__(self, config, family=None):
        pass
'''

PLUGIN = '''
import zoo_core
from zoo_core import ConfigSpec, Family, Param

def spec(**extra):
    params = {"size": Param(8, "int", "side", min=4, max=32), "seed": Param(0, "int", "seed", min=0),
              "mode": Param("a", "str", "a switch", choices=("a", "b"))}
    params.update(extra)
    return ConfigSpec(params)

def strict_check(config):
    if config["size"] == 32:
        raise ValueError("size 32 breaks the cross-field check")

def fam(name, cls, **kw):
    kw.setdefault("config", spec())
    return Family(name=name, framework="numpy", factory="kitfix_models:" + cls, **kw)

@zoo_core.hookimpl
def register_families(register):
    register(fam("kgood", "Good", count_parameters=lambda c: c["size"] ** 2))
    register(fam("kglobalrng", "GlobalRng"))
    register(fam("kseedignored", "SeedIgnored"))
    register(fam("kfloat", "FloatImages"))
    register(fam("kwrongshape", "WrongShape"))
    register(fam("knoopload", "NoopLoad"))
    register(fam("kuntrainable", "Refuser"))
    register(fam("kfrozen", "Untrainable", trainable=False))
    register(fam("kfrozenliar", "Good", trainable=False))
    register(fam("ksilent", "Silent"))
    register(fam("kpolluter", "ConfigPolluter"))
    register(fam("kbadcount", "Good", count_parameters=lambda c: 1))
    register(fam("knomodel", "NotAModel"))
    register(fam("kmissing", "NoSuchClass"))
    register(fam("knanconfig", "Good", config=spec(rate=Param(float("nan"), "float", "rate"))))
    register(fam("kbadcheck", "Good", config=ConfigSpec(spec().params, check=strict_check)))

@zoo_core.hookimpl
def register_models(register):
    register(name="kgood-16", family="kgood", config={"size": 16})
    register(name="kgood-weights", family="kgood", weights={"source": "file://WEIGHTS", "sha256": "SHA"})
    register(name="kgood-badsha", family="kgood", weights={"source": "file://WEIGHTS", "sha256": "0" * 64})
    register(name="knoopload-weights", family="knoopload", weights={"source": "file://WEIGHTS", "sha256": "SHA"})
'''

HEAVY = '''
import zoo_core
import zoo_kit_fakefw  # a "framework" imported at plugin import time: the defect under test
from zoo_core import Family

@zoo_core.hookimpl
def register_families(register):
    register(Family(name="kheavy", framework="fakefw", factory="kitfix_models:Good",
                    requires=("zoo_kit_fakefw",), config=__import__("kitfix").spec()))
'''

#: family -> (the check that must fail, a fragment of its message)
DEFECTS = {
    "kglobalrng": ("check_sample_deterministic", "global RNG"),
    "kseedignored": ("check_sample_deterministic", "seed is ignored"),
    "kfloat": ("check_sample", "uint8"),
    "kwrongshape": ("check_sample", "declares (8, 8, 3)"),
    "knoopload": ("check_save_load", "differs after save and load"),
    "kuntrainable": ("check_train_step", "but the family is trainable"),
    "kfrozenliar": ("check_registers", "declares trainable=False, but Good overrides training_session"),
    "ksilent": ("check_train_step", "never called its callbacks"),
    "kpolluter": ("check_build", "not JSON-serialisable"),
    "kbadcount": ("check_build", "count_parameters"),
    "knomodel": ("check_registers", "not a ZooModel subclass"),
    "kmissing": ("check_registers", "names no attribute"),
    "knanconfig": ("check_config_json", "not JSON-serialisable"),
    "kbadcheck": ("check_bad_config", "raise ConfigError instead"),
    "kheavy": ("check_list_no_framework", "imported zoo_kit_fakefw"),
    "kgood-badsha": ("check_catalog_weights", "sha256 mismatch"),
    "knoopload-weights": ("check_catalog_weights", "load_state_dict did not apply it"),
}


@pytest.fixture(scope="module")
def kit_site(tmp_path_factory):
    """The fixture plugins installed in a temporary folder, visible in this process."""
    import numpy as np

    from zoo_core.io.weights import save_tensors

    site = tmp_path_factory.mktemp("kit-site")
    weights = site / "kgood.safetensors"
    rng = np.random.default_rng(0)
    sha = save_tensors({"mean": rng.uniform(size=(8, 8, 1)).astype(np.float32)}, weights)
    plugin = PLUGIN.replace("WEIGHTS", weights.as_posix()).replace('"SHA"', f'"{sha}"')
    write_dist(site, "zoo-kitfix", {"kitfix": "kitfix"}, {"kitfix.py": plugin, "kitfix_models.py": MODELS})
    write_dist(site, "zoo-kitheavy", {"kitheavy": "kitheavy"},
               {"kitheavy.py": HEAVY, "zoo_kit_fakefw.py": "LOADED = True\n"})
    with on_sys_path(site):
        yield site


def test_good_family_and_models_pass_every_check(kit_site):
    from zoo_core.testing import CHECKS, check_plugin

    for name in ("kgood", "kgood-16", "kgood-weights"):
        results = check_plugin(name)
        skipped = {r.check: r.message for r in results if r.status == "skipped"}
        assert all(r.status == "passed" for r in results if r.check not in skipped), results
        # not distributed, and it takes no data file: those checks do not apply, and say why
        assert set(skipped) == {"check_distributed", "check_examples", "check_trains_on_data"}
        assert "takes no image file as data (kgood trains on generated squares" in skipped["check_examples"]
        expected = set(CHECKS) - ({"check_catalog_weights"} if name != "kgood-weights" else set())
        assert {r.check for r in results} == expected


def test_untrainable_family_that_says_so_passes(kit_site):
    from zoo_core.testing import check_train_step, check_plugin

    check_train_step("kfrozen")  # expects NotTrainableError, and gets it
    results = check_plugin("kfrozen")
    skipped = {r.check for r in results if r.status == "skipped"}
    assert skipped == {"check_resume_exact", "check_zoo_train", "check_device", "check_distributed",
                       "check_trains_on_data", "check_examples"}
    assert all(r.status == "passed" for r in results if r.check not in skipped)
    assert all("does not learn its weights" in r.message for r in results if r.check in skipped)


@pytest.mark.parametrize("family", sorted(DEFECTS))
def test_each_defect_is_caught_by_its_check(kit_site, family):
    from zoo_core.testing import CHECKS, CheckFailure

    check, fragment = DEFECTS[family]
    with pytest.raises(CheckFailure) as info:
        CHECKS[check](family)
    assert fragment in str(info.value)
    assert str(info.value).startswith(f"{check}({family!r}): ")


#: family -> every check its defect makes fail
FAILING = {
    "kglobalrng": {"check_sample_deterministic", "check_save_load", "check_global_rng", "check_sample_prefix"},
    "knoopload": {"check_save_load", "check_zoo_train"},
    "ksilent": {"check_train_step", "check_resume_exact"},
    "kfloat": {"check_sample", "check_sample_empty", "check_train_step"},
    "kheavy": {"check_list_no_framework"},
}


@pytest.mark.parametrize("family", sorted(FAILING))
def test_check_plugin_reports_then_accepts_declared_failures(kit_site, family):
    from zoo_core.testing import CheckFailure, check_plugin

    with pytest.raises(CheckFailure) as info:
        check_plugin(family)
    for check in FAILING[family]:
        assert f"{family} {check} [failed]" in str(info.value)
    results = check_plugin(family, expected_failed_checks={c: "known defect" for c in FAILING[family]})
    statuses = {r.check: r.status for r in results}
    assert {c for c, s in statuses.items() if s == "xfail"} == FAILING[family]
    assert {c for c, s in statuses.items() if s != "xfail"} == set(statuses) - FAILING[family]
    assert all(s in ("passed", "xfail", "skipped") for s in statuses.values())


def test_declared_failure_that_passes_is_reported(kit_site):
    from zoo_core.testing import CheckFailure, check_plugin

    with pytest.raises(CheckFailure, match=r"xpass.*expected to fail \(stale\)"):
        check_plugin("kgood", expected_failed_checks={"check_sample": "stale"})
    results = check_plugin("kgood", {"check_sample": "stale"}, raise_on_failure=False)
    assert [r.status for r in results if r.check == "check_sample"] == ["xpass"]


def test_expected_failed_checks_by_name_and_unknown_checks(kit_site):
    from zoo_core.testing import check_plugin

    per_name = {"knoopload": {"check_save_load": "no-op load", "check_zoo_train": "no-op load"}}
    results = check_plugin("knoopload", lambda name: per_name.get(name, {}))
    assert [r.status for r in results if r.check == "check_save_load"] == ["xfail"]
    with pytest.raises(ValueError, match="unknown checks"):
        check_plugin("kgood", {"check_sampel": "typo"})
    with pytest.raises(ValueError, match="non-empty reason"):
        check_plugin("kgood", {"check_sample": ""})


def test_plugin_name_expands_to_its_families_and_models(kit_site):
    from zoo_core.testing import check_plugin, expand_names

    names = expand_names("kitfix")
    assert {"kgood", "kfrozen", "kgood-16", "kgood-badsha"} <= set(names)
    assert expand_names("kgood-16") == ["kgood-16"]
    results = check_plugin("kitheavy", {"check_list_no_framework": "imports its framework"})
    assert {r.name for r in results} == {"kheavy"}


def test_unknown_name_fails_with_an_explanation(kit_site):
    from zoo_core.testing import CheckFailure, check_plugin, checks_for

    assert [c for c, _ in checks_for("kgod")] == ["check_registers"]
    with pytest.raises(CheckFailure, match="did you mean 'kgood'"):
        check_plugin("kgod")


def test_overrides_reach_the_model(kit_site):
    from zoo_core.testing import CheckFailure, check_build, check_sample

    check_sample("kgood", overrides={"size": 5})
    with pytest.raises(CheckFailure, match="above the maximum"):
        check_build("kgood", overrides={"size": 99})


def test_parametrize_with_checks_builds_ids_and_strict_xfail_marks(kit_site):
    from zoo_core.testing import CHECKS, parametrize_with_checks

    mark = parametrize_with_checks(["kgood", "kwrongshape"], overrides={"size": 6},
                                   expected_failed_checks=lambda n: {"check_sample": "3 channels"}
                                   if n == "kwrongshape" else {})
    argnames, params = mark.args
    assert argnames == "name, check"
    ids = [p.id for p in params]
    assert "kgood-check_save_load" in ids and "kwrongshape-check_sample" in ids
    assert len(params) == 2 * (len(CHECKS) - 1)
    for p in params:
        _, check = p.values
        assert check.keywords == {"overrides": {"size": 6}}
        xfails = [m for m in p.marks if m.name == "xfail"]
        if p.id == "kwrongshape-check_sample":
            assert xfails and xfails[0].kwargs == {"reason": "3 channels", "strict": True}
        else:
            assert not xfails


def test_parametrize_with_checks_in_a_real_pytest_run(kit_site, tmp_path):
    test_file = tmp_path / "test_kit_run.py"
    test_file.write_text(
        "from zoo_core.testing import parametrize_with_checks\n"
        "@parametrize_with_checks(['kgood', 'knoopload'],\n"
        "    expected_failed_checks=lambda n: {'check_save_load': 'no-op load', 'check_zoo_train': 'no-op load'}\n"
        "    if n == 'knoopload' else {})\n"
        "def test_zoo(name, check):\n    check(name)\n", encoding="utf-8")
    proc = python(f"import pytest, sys; sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', {str(test_file)!r}]))",
                  path=[kit_site], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "30 passed, 6 skipped, 2 xfailed" in proc.stdout, proc.stdout


def test_importing_the_kit_imports_neither_pytest_nor_frameworks():
    proc = python("import sys, zoo_core.testing; "
                  "print(sorted(m for m in ('pytest', '_pytest', 'torch', 'tensorflow', 'keras') if m in sys.modules))")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_zoo_plugin_check_command(kit_site):
    ok = zoo("plugin", "check", "kgood", "kfrozen", path=[kit_site])
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "29 passed, 9 skipped" in ok.stdout
    bad = zoo("plugin", "check", "knoopload", "--set", "size=6", path=[kit_site])
    assert bad.returncode == 1
    assert "FAILED  knoopload  check_save_load" in bad.stdout
    declared = zoo("plugin", "check", "knoopload", "--xfail", "check_save_load=no-op load", "--xfail",
                   "check_zoo_train=no-op load", "--json", path=[kit_site])
    assert declared.returncode == 0, declared.stdout + declared.stderr
    rows = {r["check"]: r["status"] for r in json.loads(declared.stdout)}
    assert rows["check_save_load"] == "xfail" and rows["check_sample"] == "passed"
    typo = zoo("plugin", "check", "kgood", "--xfail", "check_nope=x", path=[kit_site])
    assert typo.returncode == 2 and "unknown checks" in typo.stderr

