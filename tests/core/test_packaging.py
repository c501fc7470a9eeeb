"""The built wheel installs into a fresh virtual environment and `zoo list` works there."""

import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
from helpers.slowness import scaled

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "-o", str(out), str(ROOT)],
                   check=True, capture_output=True, text=True, timeout=scaled(300))
    (path,) = out.glob("zoo-*.whl")
    return path


def test_wheel_layout(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "zoo_core/registry.json" in names
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops <= {"zoo_core", "zoo_cli"} | {t for t in tops if t.startswith("zoo_")}, tops
    assert not tops & {"cli", "plugins", "tests"}
    shipped = json.loads(zipfile.ZipFile(wheel).read("zoo_core/registry.json"))
    for entry in shipped["models"]:
        source = (entry.get("weights") or {}).get("source", "")
        if source.startswith("pkg://"):
            assert source[len("pkg://"):] in names, f"{entry['name']}: {source} not in the wheel"


@pytest.mark.slow
def test_fresh_venv_install_then_list(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    # Core dependencies only: listing must work without any framework installed.
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], check=True, timeout=scaled(600),
                   capture_output=True, text=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run([str(env_dir / "bin" / "zoo"), "list", "--json"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=scaled(120))
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    expected = {e["name"] for e in json.loads((ROOT / "registry.json").read_text())["models"]}
    assert {r["name"] for r in rows} >= expected
    proc = subprocess.run([str(env_dir / "bin" / "zoo"), "sample", "glyphnet-64", "-o", str(tmp_path / "g.png")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=scaled(120))
    assert proc.returncode == 2 and "install 'zoo[torch]'" in proc.stderr and "Traceback" not in proc.stderr
