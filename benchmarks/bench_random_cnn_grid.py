"""The random CNN on all 120 cells of the seed's 256x256 grey soph x noise grid.

For every cell (s, q), soph = s * step and noise = q * step bits with step = (256*256*4 - 2) // 16,
the model is built through ``zoo_core.build`` and sampled; the script checks that the parameter
count is within 0.8-1.05x of soph / bits_per_weight and that every image's 8-bit standard
deviation is at least 10/255, times build and sampling per cell, and writes the
``## random-cnn soph x noise grid`` section of docs/benchmarks.md. Exit status 1 if a cell fails.
Run:

    .venv/bin/python benchmarks/bench_random_cnn_grid.py [--images 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from report import write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SIDE, N = 256, 16
STD_MIN = 10 / 255


def command_line() -> str:
    """The command that ran this script, with the interpreter relative to the repository."""
    exe = Path(sys.executable)
    try:
        exe_text = str(exe.relative_to(ROOT)) if exe.is_relative_to(ROOT) else "python"
    except ValueError:
        exe_text = "python"
    script = Path(sys.argv[0]).resolve()
    return shlex.join([exe_text, str(script.relative_to(ROOT)), *sys.argv[1:]])


def main() -> int:
    """Build and sample every cell, print a line per cell, write the report section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2, help="images sampled per cell (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="weight seed of every cell (default 0)")
    parser.add_argument("--sample-seed", type=int, default=1, help="seed of the binary inputs (default 1)")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args()

    import zoo_core
    from zoo_random_cnn.architecture import grid_cells, uncompressed_bits

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    t0 = time.perf_counter()
    import keras  # noqa: F401  (timed apart from the cells)
    import_s = time.perf_counter() - t0

    total = uncompressed_bits(SIDE, SIDE, 1)
    step = (total - 2) // N
    rows = []
    for s, q, soph_bits, noise_bits in grid_cells(SIDE, SIDE, 1, N):
        t1 = time.perf_counter()
        model = zoo_core.build("random-cnn", height=SIDE, width=SIDE, channels=1, soph=soph_bits / total,
                               noise=noise_bits / total, seed=args.seed)
        t2 = time.perf_counter()
        images = model.sample(args.images, seed=args.sample_seed)
        t3 = time.perf_counter()
        std = min(float((im / 255.0).std()) for im in images)
        ratio = model.num_parameters / (soph_bits / model.config["bits_per_weight"])
        ok = 0.8 <= ratio <= 1.05 and std >= STD_MIN
        arch = model.architecture
        rows.append(dict(s=s, q=q, std=std, ratio=ratio, ok=ok, build=t2 - t1, sample=t3 - t2,
                         depth=arch.depth, blocks=arch.numblocks, params=model.num_parameters))
        print(f"s={s:2d} q={q:2d} depth {arch.depth:2d} blocks {arch.numblocks} params {model.num_parameters:6d} "
              f"ratio {ratio:.3f} std {std:.3f} build {t2 - t1:.2f}s sample {t3 - t2:.2f}s"
              f"{'' if ok else '  FAIL'}", flush=True)

    wall = time.perf_counter() - t0 - import_s
    failed = [(r["s"], r["q"]) for r in rows if not r["ok"]]
    stds = [r["std"] for r in rows]
    ratios = [r["ratio"] for r in rows]
    per_cell = [r["build"] + r["sample"] for r in rows]
    worst = min(rows, key=lambda r: r["std"])
    slowest = max(rows, key=lambda r: r["build"] + r["sample"])
    summary = [
        f"256x256 grey, n = {N}: step = {step} bits, soph = s*step, noise = q*step, 120 cells; weights seed "
        f"{args.seed}, {args.images} images per cell (input seed {args.sample_seed}). A cell passes when the "
        f"parameter count is 0.8-1.05x soph/5 and every image's 8-bit std is >= 10/255 = {STD_MIN:.4f}.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| cells passing | {len(rows) - len(failed)} / {len(rows)}{' (failed: ' + str(failed) + ')' if failed else ''} |",
        f"| 8-bit std (min over images), min / median / max | {min(stds):.3f} (s={worst['s']}, q={worst['q']}) / "
        f"{statistics.median(stds):.3f} / {max(stds):.3f} |",
        f"| parameters / (soph / 5), min / median / max | {min(ratios):.3f} / {statistics.median(ratios):.3f} / "
        f"{max(ratios):.3f} |",
        f"| depth, min / max | {min(r['depth'] for r in rows)} / {max(r['depth'] for r in rows)} |",
        f"| build per cell, mean / max (s) | {statistics.mean(r['build'] for r in rows):.2f} / "
        f"{max(r['build'] for r in rows):.2f} |",
        f"| sample {args.images} per cell, mean / max (s) | {statistics.mean(r['sample'] for r in rows):.2f} / "
        f"{max(r['sample'] for r in rows):.2f} |",
        f"| build + sample per cell, mean / slowest (s) | {statistics.mean(per_cell):.2f} / "
        f"{max(per_cell):.2f} (s={slowest['s']}, q={slowest['q']}, depth {slowest['depth']}) |",
        f"| all 120 cells (s) | {wall:.1f} |",
        f"| `import keras` (s, once, not in the cells) | {import_s:.1f} |",
        f"| 1-minute load average at start (the machine is shared; times are wall clock) | {load:.1f} |",
        "",
        "8-bit std per cell (rows: s = soph steps, columns: q = noise steps):",
        "",
        "| s \\ q | " + " | ".join(str(q) for q in range(1, N)) + " |",
        "|---" * N + "|",
    ]
    by_cell = {(r["s"], r["q"]): r for r in rows}
    for s in range(1, N):
        cells = [f"{by_cell[(s, q)]['std']:.2f}" if (s, q) in by_cell else "" for q in range(1, N)]
        summary.append(f"| {s} | " + " | ".join(cells) + " |")
    summary += ["", "Picture of the 64x64 grid: `zoo random-cnn-grid -o docs/random-cnn-grid.png` "
                "(![grid](random-cnn-grid.png))."]
    body = "\n".join(summary)
    print(body)
    if not args.no_write:
        write_section("random-cnn soph x noise grid", command_line(), body)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
