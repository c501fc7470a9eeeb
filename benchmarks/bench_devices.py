"""Sampling and training speed per device present: the CPU always, CUDA / MPS when torch or TF sees one.

    python benchmarks/bench_devices.py            # prints and writes docs/benchmarks.md ## devices
    python benchmarks/bench_devices.py --no-write

For each device: glyphnet-64 sampling (images/s, 1024 images) and training (steps/s of the
default recipe, batch 128), the VAE's sampling and training (batch 128, 28 px), and whether the
samples are byte-identical to the CPU's (same seed).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section  # noqa: E402


def devices() -> list[str]:
    found = ["cpu"]
    try:
        import torch

        if torch.cuda.is_available():
            found.append("cuda:0")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            found.append("mps")
    except ImportError:
        pass
    return found


def timed(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench(name: str, device: str, steps: int, reference: np.ndarray | None) -> dict:
    import zoo_core
    from zoo_core.errors import ZooError

    try:
        model = zoo_core.load(name, device=device)
    except ZooError as exc:
        return {"error": str(exc)}
    model.sample(8, seed=0)  # warm-up
    n = 1024
    sample_s = timed(lambda: model.sample(n, seed=0))
    images = model.sample(16, seed=0)
    same = None if reference is None else bool(np.array_equal(images, reference))
    fresh = zoo_core.build(name, device=device)
    history = fresh.train(steps=steps + 1)  # the first step warms up; timing from the run's clock would need a run dir
    t0 = time.perf_counter()
    fresh.train(steps=steps)
    train_s = time.perf_counter() - t0
    return {"images_per_s": n / sample_s, "steps_per_s": steps / train_s, "same_bytes": same, "images": images,
            "loss": float(history[next(k for k in history if k != "step")][-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    rows = []
    for name in ("glyphnet-64", "vae-glyphs-28"):
        reference = None
        for device in devices():
            result = bench(name, device, args.steps, reference)
            if device == "cpu" and "images" in result:
                reference = result["images"]
            rows.append((name, device, result))
            print(name, device, {k: v for k, v in result.items() if k != "images"}, flush=True)
    body = ["| model | device | sampling (images/s) | training (steps/s) | samples equal to the CPU's |",
            "|---|---|---|---|---|"]
    for name, device, r in rows:
        if "error" in r:
            body.append(f"| {name} | {device} | - | - | {r['error']} |")
            continue
        same = "(reference)" if r["same_bytes"] is None else ("yes" if r["same_bytes"] else "no")
        body.append(f"| {name} | {device} | {r['images_per_s']:.0f} | {r['steps_per_s']:.2f} | {same} |")
    present = ", ".join(devices())
    body += ["", f"Devices present: {present}. Training: the catalog entry's recipe from fresh weights, "
             f"{args.steps} steps after one warm-up run; sampling: 1024 images, best of 3."]
    if present == "cpu":
        body.append("No GPU was at hand when this section was written: the CUDA rows come from running this "
                    "script on a machine that has one.")
    if not args.no_write:
        write_section("devices", f"python benchmarks/bench_devices.py --steps {args.steps}", "\n".join(body))


if __name__ == "__main__":
    main()
