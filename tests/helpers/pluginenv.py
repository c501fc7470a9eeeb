"""Shared helpers for the plugin tests: real installed distributions, and the CLI in subprocesses.

Plugins are installed for real, but never into the development virtual environment: either as a
minimal ``*.dist-info`` folder (METADATA + entry_points.txt, which is what an installer writes)
or with ``pip install --target`` into a temporary folder. Subprocesses see them through
``PYTHONPATH``; in-process tests through :func:`on_sys_path`.
"""

from __future__ import annotations

import atexit
import functools
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping
from helpers.slowness import scaled

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "zoo-blobs"
DOCS = ROOT / "docs" / "plugins.md"
ZOO_ENV_VARS = ("ZOO_PLUGINS", "ZOO_STRICT_PLUGINS", "ZOO_TRACE_HOOKS")


def write_dist(site: Path, dist: str, entry_points: Mapping[str, str], modules: Mapping[str, str],
               version: str = "0.1.0") -> Path:
    """Install a distribution by hand into ``site``: its modules plus a ``*.dist-info`` folder.

    :param entry_points: ``{entry-point name: module}`` in the ``zoo.plugins`` group.
    :param modules: ``{"pkg/mod.py" or "mod.py": source}`` (dedented).
    """
    site.mkdir(parents=True, exist_ok=True)
    for rel, source in modules.items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8")
    lines = "".join(f"{name} = {module}\n" for name, module in entry_points.items())
    (info / "entry_points.txt").write_text(f"[zoo.plugins]\n{lines}", encoding="utf-8")
    return info


def pip_install(project: Path, target: Path) -> None:
    """``pip install --no-deps --no-build-isolation --no-index --target target project`` (offline)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), str(project)],
        capture_output=True, text=True, timeout=scaled(300),
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert proc.returncode == 0, f"pip install {project} failed:\n{proc.stdout}\n{proc.stderr}"


def _temp_dir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


@functools.lru_cache(maxsize=None)
def installed_example() -> Path:
    """The example plugin pip-installed (once per test session) into a temporary ``--target`` folder."""
    site = _temp_dir("zoo-blobs-site-")
    pip_install(EXAMPLE, site)
    return site


def clean_env(env: Mapping[str, str] | None = None, path: tuple | list = ()) -> dict:
    """``os.environ`` without the ZOO_* plugin switches and the user catalog (``ZOO_REGISTRY=``),
    plus ``env``, with ``path`` on PYTHONPATH."""
    out = {k: v for k, v in os.environ.items() if k not in ZOO_ENV_VARS}
    out["ZOO_REGISTRY"] = ""
    if path:
        out["PYTHONPATH"] = os.pathsep.join([str(p) for p in path] + [os.environ.get("PYTHONPATH", "")]).rstrip(
            os.pathsep)
    out.update(env or {})
    return out


def zoo(*args: str, path: tuple | list = (), env: Mapping[str, str] | None = None, cwd: Path | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the real ``zoo`` CLI in a fresh interpreter with ``path`` on PYTHONPATH."""
    return subprocess.run([sys.executable, "-c", "from zoo_cli.main import main; main()", *args],
                          capture_output=True, text=True, env=clean_env(env, path), cwd=cwd, timeout=timeout)


def zoo_json(*args: str, path: tuple | list = (), env: Mapping[str, str] | None = None) -> Any:
    """Run ``zoo ARGS`` (a ``--json`` command) like :func:`zoo`: it must exit 0; returns its parsed output."""
    proc = zoo(*args, path=path, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def by_name(rows: list[dict]) -> dict[str, dict]:
    """``zoo list --json`` or ``zoo plugins --json`` rows keyed by their ``name``."""
    return {row["name"]: row for row in rows}


def python(code: str, path: tuple | list = (), env: Mapping[str, str] | None = None,
           cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -c code`` in a fresh interpreter with ``path`` on PYTHONPATH."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=clean_env(env, path),
                          cwd=cwd, timeout=scaled(300))


def error_lines(stderr: str) -> list[str]:
    """Non-empty stderr lines that are not plugin warnings."""
    return [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith("zoo: warning")]


@contextmanager
def on_sys_path(*dirs: Path) -> Iterator[None]:
    """Make plugins installed in ``dirs`` visible in this process, and forget them afterwards.

    Resets the zoo registry on entry and exit, and unloads every module imported from ``dirs``.
    """
    import zoo_core.plugins

    added = [str(d) for d in dirs]
    sys.path[:0] = added
    importlib.invalidate_caches()
    zoo_core.plugins.reset()
    try:
        yield
    finally:
        for entry in added:
            if entry in sys.path:
                sys.path.remove(entry)
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None) or ""
            if any(file.startswith(entry + os.sep) for entry in added):
                del sys.modules[name]
        importlib.invalidate_caches()
        zoo_core.plugins.reset()
