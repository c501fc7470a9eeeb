"""Golden samples: every bundled model still draws the bytes its catalog entry records.

``registry.json`` records, per entry, the sha256 of ``sample(4, seed=0)``'s uint8 bytes
(``sample_sha256``). These tests recompute it for every bundled model (the same check as
``zoo verify``), and check ``zoo verify``'s report, exit status and ``--write``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import zoo_core
from helpers.clitools import assert_one_line_error, run_zoo
from zoo_core.media.golden import images_digest, sample_digest, verify, write_hashes

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = [raw["name"] for raw in json.loads((ROOT / "registry.json").read_text())["models"]]


def test_every_bundled_entry_records_a_golden_sample():
    for raw in json.loads((ROOT / "registry.json").read_text())["models"]:
        assert len(raw.get("sample_sha256", "")) == 64, f"{raw['name']}: run 'zoo verify --write'"


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_model_matches_its_golden_sample(name):
    entry = zoo_core.get_entry(name)
    family = zoo_core.get_family(entry.family)
    if family.missing_requirements():
        pytest.skip(f"{name} needs {family.missing_requirements()}")
    [check] = verify([name])
    assert check.status == "ok", check.line()
    assert check.actual == entry.sample_sha256


def test_digest_is_of_the_uint8_bytes_and_checks_the_type():
    import hashlib

    import numpy as np

    images = np.arange(2 * 3 * 3 * 1, dtype=np.uint8).reshape(2, 3, 3, 1)
    assert images_digest(images) == hashlib.sha256(images.tobytes()).hexdigest()
    assert images_digest(np.asfortranarray(images)) == images_digest(images)  # C order, whatever the layout
    with pytest.raises(zoo_core.ZooError, match="expected uint8"):
        images_digest(images.astype(np.float32))


def user_catalog(tmp_path: Path, **golden: str) -> Path:
    """A user catalog (ZOO_REGISTRY) redefining bundled entries with other golden samples."""
    entries = {raw["name"]: raw for raw in json.loads((ROOT / "registry.json").read_text())["models"]}
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"models": [{**entries[name.replace("_", "-")], "sample_sha256": sha}
                                           for name, sha in golden.items()]}))
    return path


@pytest.mark.slow
def test_verify_reports_drift_one_line_per_model_and_exits_1(tmp_path):
    catalog = user_catalog(tmp_path, glyphnet_32="0" * 64)
    proc = run_zoo("verify", "glyphnet-32", "glyphnet-64", env={"ZOO_REGISTRY": str(catalog)})
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("DRIFT       glyphnet-32: sample(4, seed=0) sha256 ")
    assert "catalog records 0000000000000000" in lines[0] and "torch" in lines[0]
    assert lines[1].startswith("ok          glyphnet-64")
    as_json = json.loads(run_zoo("verify", "glyphnet-32", "--json", env={"ZOO_REGISTRY": str(catalog)}).stdout)
    assert as_json[0]["status"] == "drift" and as_json[0]["actual"] == zoo_core.get_entry("glyphnet-32").sample_sha256

    assert run_zoo("verify", "glyphnet-64").returncode == 0
    assert_one_line_error(run_zoo("verify", "glyphnet-99"), "unknown model 'glyphnet-99'")


@pytest.mark.slow
def test_verify_write_records_the_hashes_in_a_catalog_file(tmp_path):
    original = (ROOT / "registry.json").read_text()
    data = json.loads(original)
    for raw in data["models"]:
        if raw["name"] in ("glyphnet-32", "glyphnet-64"):
            del raw["sample_sha256"]
    copy = tmp_path / "registry.json"
    copy.write_text(json.dumps(data, indent=2) + "\n")
    proc = run_zoo("verify", "--write", "--catalog", str(copy), "glyphnet-32", "glyphnet-64")
    assert proc.returncode == 0, proc.stderr
    assert f"recorded sample_sha256 of glyphnet-32, glyphnet-64 in {copy}" in proc.stdout
    assert copy.read_text() == original  # same place in each entry, same layout, nothing else touched
    again = run_zoo("verify", "--write", "--catalog", str(copy), "glyphnet-32")
    assert "already records every digest" in again.stdout and copy.read_text() == original
    assert_one_line_error(run_zoo("verify", "--catalog", str(copy)), "add --write")
    assert_one_line_error(run_zoo("verify", "--write", "--catalog", str(tmp_path / "none.json"), "glyphnet-32"),
                          "file not found")


def test_write_hashes_refuses_names_defined_elsewhere(tmp_path):
    from zoo_core.errors import RegistryError
    from zoo_core.media.golden import Check

    copy = tmp_path / "registry.json"
    shutil.copyfile(ROOT / "registry.json", copy)
    with pytest.raises(RegistryError, match="no entry named someones-model"):
        write_hashes([Check("someones-model", "unrecorded", None, "a" * 64)], copy)
    assert copy.read_bytes() == (ROOT / "registry.json").read_bytes()


def test_sample_digest_matches_a_fresh_sample(tmp_path):
    pytest.importorskip("torch")
    model = zoo_core.load("glyphnet-32")
    assert sample_digest(model) == images_digest(model.sample(4, seed=0)) == \
        zoo_core.get_entry("glyphnet-32").sample_sha256
