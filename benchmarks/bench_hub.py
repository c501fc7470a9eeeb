"""Cost of Hub references once a model is cached: `zoo pull` again, and `zoo sample hf://...`.

Goal: using an already pulled model adds <= 50 ms to a command. A real olah Hub mirror runs on
127.0.0.1 (see tests/helpers/hub_server.py) with one small numpy model (the tests' ``toy`` family,
installed as an entry point on PYTHONPATH), so the numbers include real HTTP round trips but no
internet. Commands run in fresh processes, interleaved, REPEAT times each; medians are reported.
Bytecode is cached as in an installed zoo (``PYTHONPYCACHEPREFIX`` in a temporary folder, even if
``PYTHONDONTWRITEBYTECODE`` is set). Run:

    .venv/bin/python benchmarks/bench_hub.py            # prints the table
    .venv/bin/python benchmarks/bench_hub.py --write    # and writes the `## hub` section of docs/benchmarks.md
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from helpers import hub_server  # noqa: E402
from report import write_section  # noqa: E402

REPEAT = 15
REF = "hf://bench/glyphs"
ZOO = [sys.executable, "-m", "zoo_cli.main"]


def _median_ms(samples: list[float]) -> float:
    return 1000 * statistics.median(samples)


def main() -> None:
    """Set up the mirror, pull once, then time the cached paths."""
    with tempfile.TemporaryDirectory(prefix="zoo-bench-hub-") as tmp:
        root = Path(tmp)
        olah = hub_server.Olah(root / "olah").start()
        try:
            env, commands = _prepare(root, olah)
            wall, cpu = _time_commands(commands)
            in_process = _in_process(env)
        finally:
            olah.stop()
    body = _report(wall, cpu, in_process)
    print(body)
    if "--write" in sys.argv:
        write_section("hub", ".venv/bin/python benchmarks/bench_hub.py --write", body)


def _prepare(root: Path, olah) -> tuple[dict, dict[str, tuple[dict, list[str]]]]:
    """Install the test plugin, publish one model on the mirror and pull it once; return the children's
    environment and the commands to time (label -> (environment, zoo arguments))."""
    from helpers.toyplugin import build_toy, saved_files

    site = hub_server.install_test_plugin(root / "site")
    model_dir = root / "model"
    build_toy(size=32, latent=16).save(model_dir)
    files = saved_files(model_dir)
    hub_server.make_model_repo(olah.mirrors, REF[5:], files)
    env = _child_env(root, olah, site)
    offline = {**env, "HF_HUB_OFFLINE": "1"}
    subprocess.run([*ZOO, "pull", "-q", REF], env=env, check=True, capture_output=True)
    out = str(root / "x.npy")
    commands = {
        "zoo --version": (env, ["--version"]),
        "zoo list (loads the plugins, as pull does)": (env, ["list"]),
        f"zoo pull {REF} (cached, asks the Hub)": (env, ["pull", "-q", REF]),
        f"zoo pull {REF} (cached, HF_HUB_OFFLINE=1)": (offline, ["pull", "-q", REF]),
        "zoo sample DIR (a local saved model)": (env, ["sample", str(model_dir), "-n", "1", "-o", out]),
        f"zoo sample {REF} (pulled, pinned)": (env, ["sample", REF, "-n", "1", "-o", out]),
        f"zoo sample {REF} (pulled, HF_HUB_OFFLINE=1)": (offline, ["sample", REF, "-n", "1", "-o", out]),
    }
    return env, commands


def _child_env(root: Path, olah, site: Path) -> dict:
    """This process's environment without HF_/ZOO_/XDG_ settings, pointed at the mirror and folders under ``root``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HF_", "ZOO_", "XDG_")) and k != "PYTHONDONTWRITEBYTECODE"}
    # bytecode is cached (in a temporary folder) as it is for an installed zoo; without it
    # every run would compile zoo's modules from source
    env.update(PYTHONPATH=str(site), ZOO_PLUGINS="toy", HF_ENDPOINT=olah.url, HF_HOME=str(root / "hf"),
               XDG_DATA_HOME=str(root / "data"), HF_HUB_DISABLE_TELEMETRY="1",
               PYTHONPYCACHEPREFIX=str(root / "pycache"))
    return env


def _time_commands(commands: dict) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and child CPU seconds of every command, REPEAT times, interleaved, after one warm-up run each."""
    for cmd_env, args in commands.values():  # warm-up: fills the bytecode cache
        subprocess.run([*ZOO, *args], env=cmd_env, check=True, capture_output=True)
    wall: dict[str, list[float]] = {k: [] for k in commands}
    cpu: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(REPEAT):  # interleaved, so that load from other processes hits all alike
        for label, (cmd_env, args) in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run([*ZOO, *args], env=cmd_env, check=True, capture_output=True)
            wall[label].append(time.perf_counter() - t0)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[label].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return wall, cpu


def _command_rows(wall: dict, cpu: dict) -> tuple[list[str], dict[str, tuple[float, float]]]:
    """The command table, and each Hub command's extra (best wall ms, median CPU ms) over its local baseline."""
    best = {k: 1000 * min(v) for k, v in wall.items()}
    med = {k: _median_ms(v) for k, v in wall.items()}
    cpu_med = {k: _median_ms(v) for k, v in cpu.items()}
    listing, base_sample = "zoo list (loads the plugins, as pull does)", "zoo sample DIR (a local saved model)"
    rows = ["| command | best wall ms | median wall ms | median CPU ms | extra (best wall / CPU) |",
            "|---|---:|---:|---:|---|"]
    extra: dict[str, tuple[float, float]] = {}
    for label in wall:
        base = base_sample if label.startswith("zoo sample hf") else listing if label.startswith("zoo pull") else None
        note = ""
        if base:
            extra[label] = (best[label] - best[base], cpu_med[label] - cpu_med[base])
            note = f"{extra[label][0]:+.0f} / {extra[label][1]:+.0f} ms vs. `{base.split(' (')[0]}`"
        rows.append(f"| `{label}` | {best[label]:.0f} | {med[label]:.0f} | {cpu_med[label]:.0f} | {note} |")
    return rows, extra


def _report(wall: dict, cpu: dict, in_process: dict[str, float]) -> str:
    """The section body: both tables, the verdict on the 50 ms goals, and how it was measured."""
    rows, extra = _command_rows(wall, cpu)
    rows += ["", "In-process, in a fresh process after the plugins loaded:", "", "| call | median ms |", "|---|---:|"]
    rows += [f"| `{label}` | {ms:.2f} |" for label, ms in in_process.items()]
    use = max(max(v) for k, v in extra.items() if k.startswith("zoo sample"))
    repull = max(max(v) for k, v in extra.items() if k.startswith("zoo pull"))
    verdict = (f"Using a pulled model adds at most {use:+.0f} ms to `zoo sample` (goal <= 50 ms): "
               + ("met." if use <= 50 else "NOT met.")
               + f" Re-pulling a cached model costs at most {repull:+.0f} ms more than `zoo list` (goal <= 50 ms): "
               + ("met." if repull <= 50 else "NOT met.")
               + f" In-process, `hub.pull` of a cached model takes {in_process['hub.pull(ref) (asks the Hub)']:.0f} ms"
               " (one HTTP request to the local mirror, sha256, pin file).")
    load = os.getloadavg()[0]
    return "\n".join(rows) + (
        f"\n\n{verdict}\n\n{REPEAT} runs of each command, interleaved. Other jobs shared the machine (1-minute "
        f"load average {load:.1f} at the end), so medians of wall time are noisy; the verdict uses the best wall "
        "time (least disturbed run) and the median CPU time of the command's process, whichever is worse.\n")


def _in_process(env: dict) -> dict[str, float]:
    """Time zoo_core.hub calls on the warm cache in a fresh child process with the benchmark's environment."""
    code = f"""
import json, statistics, sys, time
from zoo_core import hub
from zoo_core.plugins import get_registry
get_registry()  # plugins load once per process whatever the model reference
ref = {REF!r}
out = {{}}
t0 = time.perf_counter(); hub.snapshot(ref)
out['first hub.snapshot(ref) in a process (pinned; includes its imports)'] = 1000 * (time.perf_counter() - t0)
assert 'huggingface_hub' not in sys.modules, 'the pinned path imported huggingface_hub'
t0 = time.perf_counter(); import huggingface_hub.hf_api, huggingface_hub.file_download
out['import huggingface_hub (skipped by pinned refs)'] = 1000 * (time.perf_counter() - t0)
for name, fn in [('hub.snapshot(ref) (pinned)', lambda: hub.snapshot(ref)),
                 ('hub.pull(ref) (asks the Hub)', lambda: hub.pull(ref, progress=False))]:
    fn(); t = []
    for _ in range(30):
        t0 = time.perf_counter(); fn(); t.append(time.perf_counter() - t0)
    out[name] = 1000 * statistics.median(t)
print(json.dumps(out))
"""
    import json

    result = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
