"""The random CNN on all 120 cells of the seed's 256x256 grey soph x noise grid: speed and information.

For every cell (s, q), soph = s * step and noise = q * step bits with step = (256*256*4 - 2) // 16.

1. **Speed.** The notebook's own loop (``notebook_random_cnn.py``: a faithful copy of its
   ``adhoc_params`` / ``random_model`` / ``single_image`` cell loop, plotting left out) and zoo's
   Python API (``zoo_core.build("random-cnn", ...).sample(1)`` per cell) each draw the 120 images,
   in one process, one after the other, after one warm-up cell each; ``import keras`` is timed
   apart. The ratio zoo / notebook is the figure of merit (target <= 0.5).
2. **Information.** Every cell is built through the API and sampled; the script checks that the
   parameter count is within 0.8-1.05x of soph / bits_per_weight, measures the 8-bit standard
   deviation and the information table of :mod:`zoo_random_cnn.information` (lzma, PNG and WebP
   lossless sizes against soph, noise and soph + noise, and the model-class bound), and reports
   the rank correlation between soph + noise and the best coder's size. With ``--before`` (the
   default) the same is measured for the notebook's network shape (``upsampling=nearest``,
   ``smoothing=none``), i.e. zoo before this change.

It writes the ``## random-cnn soph x noise grid`` section of docs/benchmarks.md. Exit status 1 if a
cell misses its parameter budget or is flat (8-bit std < 10). Run:

    .venv/bin/python benchmarks/bench_random_cnn_grid.py [--images 1] [--seed 0] [--no-before]
"""

from __future__ import annotations

import argparse
import json
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
BEFORE = {"upsampling": "nearest", "smoothing": "none"}


def command_line() -> str:
    """The command that ran this script, with the interpreter relative to the repository."""
    exe = Path(sys.executable)
    try:
        exe_text = str(exe.relative_to(ROOT)) if exe.is_relative_to(ROOT) else "python"
    except ValueError:
        exe_text = "python"
    script = Path(sys.argv[0]).resolve()
    return shlex.join([exe_text, str(script.relative_to(ROOT)), *sys.argv[1:]])


def zoo_grid(seed: int) -> list:
    """The 120 cells through the public API: build, sample one image."""
    import zoo_core
    from zoo_random_cnn.architecture import grid_cells, uncompressed_bits

    total = uncompressed_bits(SIDE, SIDE, 1)
    return [zoo_core.build("random-cnn", height=SIDE, width=SIDE, channels=1, soph=soph_bits / total,
                           noise=noise_bits / total, seed=seed).sample(1, seed=seed)
            for _s, _q, soph_bits, noise_bits in grid_cells(SIDE, SIDE, 1, N)]


def speed(seed: int, repeats: int) -> dict:
    """Seconds for the notebook's loop and for zoo's API loop (best of ``repeats``, alternating)."""
    import zoo_core
    from notebook_random_cnn import Notebook

    notebook = Notebook(SIDE, SIDE, 1)
    step = (notebook.uncompressed - 2) // N
    notebook.single_image(notebook.random_model(notebook.adhoc_params(step, step)))  # warm-up
    zoo_core.build("random-cnn", height=SIDE, width=SIDE, soph=step / notebook.uncompressed,
                   noise=step / notebook.uncompressed).sample(1)
    times = {"notebook": [], "zoo": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        images = notebook.multi_show(N, seed=seed)
        times["notebook"].append(time.perf_counter() - t0)
        failed = sum(image is None for image in images)
        t0 = time.perf_counter()
        zoo_grid(seed)
        times["zoo"].append(time.perf_counter() - t0)
        print(f"notebook {times['notebook'][-1]:.1f} s ({failed} cells without a model), "
              f"zoo {times['zoo'][-1]:.1f} s", flush=True)
    best = {k: min(v) for k, v in times.items()}
    return {**best, "ratio": best["zoo"] / best["notebook"], "all": times, "notebook_failed": failed}


def information(seed: int, sample_seed: int, images: int, overrides: dict, label: str) -> list[dict]:
    """One row per cell: budgets, parameter ratio, contrast and the information table."""
    import zoo_core
    from zoo_random_cnn.architecture import grid_cells, uncompressed_bits

    total = uncompressed_bits(SIDE, SIDE, 1)
    rows = []
    for s, q, soph_bits, noise_bits in grid_cells(SIDE, SIDE, 1, N):
        model = zoo_core.build("random-cnn", height=SIDE, width=SIDE, channels=1, soph=soph_bits / total,
                               noise=noise_bits / total, seed=seed, **overrides)
        info = model.information(images, sample_seed)
        arch = model.architecture
        ratio = model.num_parameters / (soph_bits / model.config["bits_per_weight"])
        rows.append({"s": s, "q": q, "ratio": ratio, "depth": arch.depth, "blocks": arch.numblocks,
                     "input": list(arch.input_shape), **info})
        print(f"{label} s={s:2d} q={q:2d} depth {arch.depth:2d} blocks {arch.numblocks} input "
              f"{'x'.join(map(str, arch.input_shape)):9} ratio {ratio:.3f} std8 {info['std8_min']:5.1f} "
              f"budget {info['soph_plus_noise_frac']:.3f} lzma {info['lzma_frac']:.3f} png {info['png_frac']:.3f} "
              f"webp {info['webp_frac']:.3f} bound {info['model_bound_frac']:.3f}", flush=True)
    return rows


def frac_table(rows: list[dict], key: str = "best_coder_frac") -> list[str]:
    """A markdown triangle of ``key`` per cell (rows s, columns q)."""
    by_cell = {(r["s"], r["q"]): r for r in rows}
    lines = ["| s \\ q | " + " | ".join(str(q) for q in range(1, N)) + " |", "|---" * N + "|"]
    for s in range(1, N):
        cells = [f"{by_cell[(s, q)][key]:.2f}" if (s, q) in by_cell else "" for q in range(1, N)]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    return lines


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1, help="images measured per cell (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="weight seed of every cell (default 0)")
    parser.add_argument("--sample-seed", type=int, default=1, help="seed of the binary inputs (default 1)")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs of each loop; the best counts")
    parser.add_argument("--no-before", dest="before", action="store_false",
                        help="skip measuring the notebook-shaped network (nearest, no smoothing)")
    parser.add_argument("--json", type=Path, help="also write every row to this JSON file")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    return parser.parse_args()


def measure(args: argparse.Namespace) -> dict:
    """The load average, ``import keras``, both loops' speed, and every cell's information per variant."""
    from zoo_random_cnn.information import grid_statistics

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    t0 = time.perf_counter()
    import keras  # noqa: F401  (timed apart from the loops)
    import_s = time.perf_counter() - t0

    timing = speed(args.seed, args.repeats)
    variants = {"after": {}}
    if args.before:
        variants["before"] = BEFORE
    rows = {name: information(args.seed, args.sample_seed, args.images, overrides, name)
            for name, overrides in variants.items()}
    stats = {name: grid_statistics(r) for name, r in rows.items()}
    return {"load": load, "import_s": import_s, "timing": timing, "rows": rows, "stats": stats}


def bad_ratios(rows: list[dict]) -> list[tuple[int, int]]:
    """Cells whose parameter count misses its budget (outside 0.8-1.05x soph / bits_per_weight)."""
    return [(r["s"], r["q"]) for r in rows if not 0.8 <= r["ratio"] <= 1.05]


def speed_lines(args: argparse.Namespace, m: dict) -> list[str]:
    """The grid's description and the speed table."""
    timing = m["timing"]
    return [
        f"256x256 grey, n = {N}: step = {(SIDE * SIDE * 4 - 2) // N} bits, soph = s*step, noise = q*step, "
        f"120 cells; weights seed {args.seed}, input seed {args.sample_seed}, {args.images} image(s) per cell.",
        "",
        "**Speed** (one process, each loop once after a warm-up cell; wall clock on a shared machine):",
        "",
        "| loop | 120 cells (s) |",
        "|---|---|",
        f"| the notebook's code (`benchmarks/notebook_random_cnn.py`: `random_model` + `predict` per cell) | "
        f"{timing['notebook']:.1f} |",
        f"| zoo: `zoo_core.build('random-cnn', ...).sample(1)` per cell | {timing['zoo']:.1f} |",
        f"| **ratio zoo / notebook** (target <= 0.5) | **{timing['ratio']:.2f}** |",
        f"| `import keras` (once, not in the loops) | {m['import_s']:.1f} |",
        f"| 1-minute load average at start | {m['load']:.1f} |",
        "",
    ]


def information_lines(rows: dict[str, list[dict]], stats: dict[str, dict]) -> list[str]:
    """The information table: one column per variant (default network, and the notebook's shape)."""
    names = list(rows)
    header = "| measure | " + " | ".join(f"{n} ({'default' if n == 'after' else 'nearest, no smoothing'})"
                                          for n in names) + " |"

    def line(label: str, key: str, fmt: str = "{:.3f}") -> str:
        return f"| {label} | " + " | ".join(fmt.format(stats[n][key]) for n in names) + " |"

    def coder_line(coder: str) -> str:
        return f"| {coder} / uncompressed, median | " + " | ".join(
            f"{statistics.median(r[f'{coder}_frac'] for r in rows[n]):.3f}" for n in names) + " |"

    return [
        "**Information** (best = smallest of lzma, PNG and WebP lossless per image, as a fraction of the "
        "262144 uncompressed bits; low budget = soph + noise <= 1/4 of the bits, s + q <= 4; rank = "
        "Spearman over the 120 cells):",
        "",
        header,
        "|---" * (len(names) + 1) + "|",
        line("rank correlation, soph + noise vs best coder size (target >= 0.8)", "rank_budget"),
        line("rank correlation, noise alone", "rank_noise"),
        line("rank correlation, soph alone", "rank_soph"),
        line("best coder / uncompressed, median", "median_frac"),
        *(coder_line(coder) for coder in ("lzma", "png", "webp")),
        "| best coder / uncompressed, min / max | "
        + " | ".join(f"{stats[n]['min_frac']:.3f} / {stats[n]['max_frac']:.3f}" for n in names) + " |",
        line("low-budget cells: largest best-coder fraction (target <= 0.5)", "low_budget_max_frac"),
        line("flat cells (8-bit std < 10; target 0)", "flat", "{}"),
    ]


def cell_lines(rows: dict[str, list[dict]]) -> list[str]:
    """Parameter budgets, contrast, the model-class bound and the per-cell best-coder triangles."""
    after = rows["after"]
    bad_ratio = bad_ratios(after)
    ratios = [r["ratio"] for r in after]
    lines = [
        "",
        f"Parameters / (soph / 5): min {min(ratios):.3f}, median {statistics.median(ratios):.3f}, max "
        f"{max(ratios):.3f}{' (outside 0.8-1.05: ' + str(bad_ratio) + ')' if bad_ratio else ''}; smallest 8-bit std "
        f"{min(r['std8_min'] for r in after):.1f}. The model-class bound (weights at log2 33 bits + input bits) is "
        f"{min(r['model_bound_frac'] / r['soph_plus_noise_frac'] for r in after):.2f}-"
        f"{max(r['model_bound_frac'] / r['soph_plus_noise_frac'] for r in after):.2f}x soph + noise on this grid.",
        "",
        "Best coder / uncompressed per cell, default network (rows: s = soph steps, columns: q = noise steps):",
        "",
        *frac_table(after),
    ]
    if "before" in rows:
        lines += ["", "The same for the notebook's network shape (nearest upsampling, no smoothing):", "",
                  *frac_table(rows["before"])]
    return lines + ["", "soph + noise / uncompressed per cell, for comparison: (s + q) / 16.",
                    "", "Pictures and discussion: [random-cnn.md](random-cnn.md)."]


def main() -> int:
    """Time both loops, measure the information of every cell, write the report section."""
    args = parse_args()
    m = measure(args)
    rows, stats = m["rows"], m["stats"]
    body = "\n".join(speed_lines(args, m) + information_lines(rows, stats) + cell_lines(rows))
    print(body)
    if args.json:
        args.json.write_text(json.dumps({"timing": m["timing"], "stats": stats, "rows": rows}, indent=1) + "\n")
    if not args.no_write:
        write_section("random-cnn soph x noise grid", command_line(), body)
    flat = stats["after"]["flat"]
    return 1 if bad_ratios(rows["after"]) or flat else 0

if __name__ == "__main__":
    sys.exit(main())
