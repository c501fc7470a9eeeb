"""Cost of Hub references once a model is cached: `zoo pull` again, and `zoo sample hf://...`.

Goal: using an already pulled model adds <= 50 ms to a command. A real olah Hub mirror runs on
127.0.0.1 (see tests/hub_server.py) with one small numpy model (the tests' ``hubtest`` family,
installed as an entry point on PYTHONPATH), so the numbers include real HTTP round trips but no
internet. Commands run in fresh processes, interleaved, REPEAT times each; medians are reported.
Run:

    .venv/bin/python benchmarks/bench_hub.py            # prints the table
    .venv/bin/python benchmarks/bench_hub.py --write    # and writes the `## hub` section of docs/benchmarks.md
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
import hub_server  # noqa: E402
from report import write_section  # noqa: E402

REPEAT = 15
REF = "hf://bench/glyphs"


def _median_ms(samples: list[float]) -> float:
    return 1000 * statistics.median(samples)


def main() -> None:
    """Set up the mirror, pull once, then time the cached paths."""
    import zoo_hubtest_family as fam

    with tempfile.TemporaryDirectory(prefix="zoo-bench-hub-") as tmp:
        root = Path(tmp)
        olah = hub_server.Olah(root / "olah").start()
        try:
            site = hub_server.install_test_plugin(root / "site")
            model_dir = root / "model"
            fam.TinyDecoder(fam.FAMILY.config.resolve({"size": 32, "latent": 16}), fam.FAMILY).save(model_dir)
            files = {n: (model_dir / n).read_bytes() for n in ("config.json", "model.safetensors")}
            hub_server.make_model_repo(olah.mirrors, REF[5:], files)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "ZOO_", "XDG_"))}
            env.update(PYTHONPATH=str(site), ZOO_PLUGINS="hubtest", HF_ENDPOINT=olah.url, HF_HOME=str(root / "hf"),
                       XDG_DATA_HOME=str(root / "data"), HF_HUB_DISABLE_TELEMETRY="1")
            offline = {**env, "HF_HUB_OFFLINE": "1"}
            zoo = [sys.executable, "-m", "zoo_cli.main"]
            subprocess.run([*zoo, "pull", "-q", REF], env=env, check=True, capture_output=True)
            out = str(root / "x.npy")
            commands = {
                "zoo --version": (env, ["--version"]),
                f"zoo pull {REF} (cached, asks the Hub)": (env, ["pull", "-q", REF]),
                f"zoo pull {REF} (cached, HF_HUB_OFFLINE=1)": (offline, ["pull", "-q", REF]),
                "zoo sample DIR (a local saved model)": (env, ["sample", str(model_dir), "-n", "1", "-o", out]),
                f"zoo sample {REF} (pulled, pinned)": (env, ["sample", REF, "-n", "1", "-o", out]),
                f"zoo sample {REF} (pulled, HF_HUB_OFFLINE=1)": (offline, ["sample", REF, "-n", "1", "-o", out]),
            }
            times: dict[str, list[float]] = {k: [] for k in commands}
            for _ in range(REPEAT):  # interleaved, so that load from other processes hits all alike
                for label, (cmd_env, args) in commands.items():
                    t0 = time.perf_counter()
                    subprocess.run([*zoo, *args], env=cmd_env, check=True, capture_output=True)
                    times[label].append(time.perf_counter() - t0)
            in_process = _in_process(env)
        finally:
            olah.stop()

    med = {k: _median_ms(v) for k, v in times.items()}
    base_sample = med["zoo sample DIR (a local saved model)"]
    rows = ["| command | median ms | vs. baseline |", "|---|---:|---:|"]
    for label, ms in med.items():
        if label.startswith("zoo sample hf"):
            delta = f"{ms - base_sample:+.0f} ms vs. `zoo sample DIR`"
        elif label.startswith("zoo pull"):
            delta = f"{ms - med['zoo --version']:+.0f} ms vs. `zoo --version`"
        else:
            delta = ""
        rows.append(f"| `{label}` | {ms:.0f} | {delta} |")
    rows += ["", "In-process (after imports; what a cached `hf://` reference costs inside a command):", "",
             "| call | median ms |", "|---|---:|"]
    rows += [f"| `{label}` | {ms:.2f} |" for label, ms in in_process.items()]
    overhead = max(med[k] for k in med if k.startswith("zoo sample hf")) - base_sample
    verdict = (f"Using a pulled model adds {overhead:+.0f} ms to `zoo sample` (goal <= 50 ms): "
               + ("met." if overhead <= 50 else "NOT met."))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    body = "\n".join(rows) + f"\n\n{verdict} {REPEAT} runs each, interleaved; 1-minute load average at the end: " \
                             f"{load:.1f} (other jobs shared the machine; subprocess medians are noisy).\n"
    print(body)
    if "--write" in sys.argv:
        write_section("hub", ".venv/bin/python benchmarks/bench_hub.py --write", body)


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
