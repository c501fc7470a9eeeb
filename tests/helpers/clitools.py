"""Helpers to run the real ``zoo`` command in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from helpers.slowness import scaled

ZOO = str(Path(sys.executable).with_name("zoo"))
FRAMEWORKS = ("torch", "tensorflow", "keras")


def run_zoo(*args: str, env: dict | None = None, cwd: str | Path | None = None, timeout: float = 300):
    """Run ``zoo ARGS`` and return the CompletedProcess (text mode).

    ``timeout`` is the limit on a quiet machine; it is scaled by :func:`helpers.slowness.scaled`.
    """
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([ZOO, *args], capture_output=True, text=True, env=full_env, cwd=cwd,
                          timeout=scaled(timeout))


def imported_frameworks(*args: str, env: dict | None = None) -> tuple[list[str], str]:
    """Run the CLI in a fresh interpreter and report which frameworks ended up in sys.modules."""
    code = ("import sys\n"
            f"sys.argv = ['zoo', *{list(args)!r}]\n"
            "from zoo_cli.main import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            f"print('HEAVY=' + ','.join(m for m in {FRAMEWORKS!r} if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=scaled(120))
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("HEAVY=")]
    assert line, proc.stdout + proc.stderr
    heavy = line[-1][len("HEAVY="):]
    return [m for m in heavy.split(",") if m], proc.stdout + proc.stderr


def assert_one_line_error(proc, fragment: str) -> None:
    """Exit 2, a single 'zoo: error: ...' line on stderr containing ``fragment``, no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("zoo: warning")]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("zoo: error: ") and fragment in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def invoke(runner, *args: str):
    """``zoo ARGS`` in-process through a click ``CliRunner`` (the ``runner`` fixture); exceptions propagate."""
    from zoo_cli.main import cli

    return runner.invoke(cli, list(args), catch_exceptions=False)


def one_error_line(result, fragment: str = "") -> str:
    """A ``CliRunner`` result of a user error: exit 2 and all its output one ``zoo: error: ...`` line
    containing ``fragment``; returns that line."""
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("zoo: error: ") and fragment in lines[0], result.output
    return lines[0]
