"""``zoo plugin new``: the scaffold installs offline, is listed, samples, and its own kit tests pass."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers.pluginenv import error_lines, pip_install, python, zoo


@pytest.fixture(scope="module")
def scaffold(tmp_path_factory):
    """``zoo plugin new sparkle-dust`` pip-installed into a temporary ``--target`` folder."""
    root = tmp_path_factory.mktemp("scaffold")
    project = root / "zoo-sparkle-dust"
    proc = zoo("plugin", "new", "sparkle-dust", "-o", str(project))
    assert proc.returncode == 0, proc.stderr
    site = root / "site"
    pip_install(project, site)
    return project, site


def test_scaffold_files(scaffold):
    project, _ = scaffold
    files = sorted(p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file())
    assert files == ["README.md", "pyproject.toml", "tests/test_conformance.py", "zoo_sparkle_dust/__init__.py",
                     "zoo_sparkle_dust/model.py"]
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    meta = tomllib.loads((project / "pyproject.toml").read_text())
    assert meta["project"]["name"] == "zoo-sparkle-dust"
    assert meta["project"]["entry-points"]["zoo.plugins"] == {"sparkle-dust": "zoo_sparkle_dust"}
    for path in project.rglob("*"):
        if path.is_file():
            assert "{{" not in path.read_text(), path
    for path in project.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")


def test_installed_scaffold_is_listed_and_samples(scaffold, tmp_path):
    _, site = scaffold
    listed = zoo("list", "--json", path=[site])
    assert listed.returncode == 0, listed.stderr
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["sparkle-dust-16"]["plugin"] == "sparkle-dust"
    assert rows["sparkle-dust-16"]["framework"] == "numpy"
    plugins = {p["name"]: p for p in json.loads(zoo("plugins", "--json", path=[site]).stdout)}
    assert plugins["sparkle-dust"]["distribution"] == "zoo-sparkle-dust"
    assert plugins["sparkle-dust"]["error"] is None
    out = tmp_path / "s.npy"
    sample = zoo("sample", "sparkle-dust-16", "-n", "4", "-o", str(out), path=[site])
    assert sample.returncode == 0, sample.stderr
    images = np.load(out)
    assert images.dtype == np.uint8 and images.shape == (4, 16, 16, 1)
    run = tmp_path / "run"
    train = zoo("train", "sparkle-dust", "--steps", "5", "-o", str(run), "--set", "batch_size=8", path=[site])
    assert train.returncode == 0, train.stderr
    assert (run / "model.safetensors").is_file()


def test_scaffold_passes_the_kit_through_its_generated_tests(scaffold):
    project, site = scaffold
    proc = python("import pytest, sys; sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider']))",
                  path=[site], cwd=project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # 19 checks each for the family and its model; it trains on generated images only, so the two checks
    # of a data file (check_trains_on_data, check_examples) are skipped with that reason
    assert "34 passed, 4 skipped" in proc.stdout
    check = zoo("plugin", "check", "sparkle-dust", path=[site])
    assert check.returncode == 0, check.stdout + check.stderr


def test_default_folder_and_zoo_prefix(tmp_path):
    proc = zoo("plugin", "new", "zoo-glow", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "zoo-glow" / "zoo_glow" / "__init__.py").is_file()
    assert 'glow = "zoo_glow"' in (tmp_path / "zoo-glow" / "pyproject.toml").read_text()


@pytest.mark.parametrize("name", ["Bad", "1abc", "two--hyphens", "under_score", "x" * 41])
def test_invalid_names_are_refused(tmp_path, name):
    proc = zoo("plugin", "new", name, "-o", str(tmp_path / "out"))
    assert proc.returncode == 2
    (line,) = error_lines(proc.stderr)
    assert line.startswith("zoo: error: invalid plugin name")
    assert not (tmp_path / "out").exists()


def test_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    proc = zoo("plugin", "new", "glow", "-o", str(tmp_path))
    assert proc.returncode == 2
    (line,) = error_lines(proc.stderr)
    assert "already exists and is not an empty folder" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_templates_are_package_data():
    """The template ships inside zoo_cli (hatch puts non-python files of a package in the wheel)."""
    code = ("from importlib import resources\n"
            "root = resources.files('zoo_cli') / 'templates' / 'plugin'\n"
            "print(sorted(p.name for p in root.iterdir()))\n")
    proc = python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['README.md.tmpl', '__package__', 'pyproject.toml.tmpl', 'tests']"
