"""Filter-visualiser benchmark: the default recipe against the seed article's plain recipe.

For every channel of a layer (default: all 64 maps of glyph-cnn's ``conv_3``), each recipe runs
gradient ascent from the same multi-scale random starts (same seed) and we report:

* ``>=10x``: channels whose final mean activation is at least 10x the activation of its random
  start (and positive);
* median gain (final / start), mean start and final activation (the objective reached);
* steps taken and wall time per channel (all channels run as one batch; time / channels).

Usage::

    python benchmarks/bench_filterviz.py [--model glyph-cnn] [--layer conv_3] [--recipes seed,default]
        [--seed 0] [--markdown docs/benchmarks.md] [--grid-dir DIR]

Recipes: ``seed`` (pixels, no transforms, no regulariser, 600 steps, epsilon 0.01, stop on
convergence), ``default`` (what ``zoo visualize`` uses), and ablations ``jitter``, ``tv``,
``fourier``, ``seed-eps05`` used to pick the defaults.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

RECIPES = {
    "seed": dict(base="seed"),
    "seed-eps05": dict(base="seed", epsilon=0.05, steps=300),
    "jitter": dict(base="seed", epsilon=0.05, steps=300, jitter=1, rotate=5.0, scale_jitter=0.05,
                   stop_on_convergence=False),
    "jitter-stop": dict(base="seed", epsilon=0.05, steps=300, jitter=1, rotate=5.0, scale_jitter=0.05),
    "jitter-tv": dict(base="seed", epsilon=0.05, steps=300, jitter=1, rotate=5.0, scale_jitter=0.05, tv_weight=0.05,
                      stop_on_convergence=False),
    "tv": dict(base="seed", epsilon=0.05, steps=300, tv_weight=0.05, stop_on_convergence=False),
    "fourier": dict(base="seed", epsilon=0.05, steps=300, fourier=True, stop_on_convergence=False),
    "fourier-jitter-tv": dict(base="seed", epsilon=0.05, steps=300, fourier=True, jitter=1, rotate=5.0,
                              scale_jitter=0.05, tv_weight=0.05, stop_on_convergence=False),
    "default": dict(base="default"),
}


def run(model_name: str, layer: str, recipes: list[str], seed: int, grid_dir: str | None) -> list[dict]:
    """Run each recipe over every channel of ``layer``; return one row of numbers per recipe."""
    import torch

    import zoo_core
    from zoo_filterviz import ascend, make_recipe, probe_for, to_display

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    probe = probe_for(zoo_core.load(model_name))
    channels = list(range(probe.layer(layer).channels))
    rows = []
    for name in recipes:
        spec = dict(RECIPES[name])
        recipe = make_recipe(spec.pop("base"), **spec)
        t0 = time.perf_counter()
        res = ascend(probe, layer, channels, recipe, seed=seed)
        wall = time.perf_counter() - t0
        gain = res.gain
        ok = (gain >= 10) & (res.final > 0)
        rows.append({"recipe": name, "channels": len(channels), "ok": int(ok.sum()),
                     "median_gain": float(np.median(gain)), "start": float(res.start.mean()),
                     "final": float(res.final.mean()), "steps": float(res.steps_run.mean()),
                     "dead": int(res.dead.sum()), "retried": int((res.attempts > 1).sum()),
                     "s_per_channel": wall / len(channels), "recipe_fields": asdict(recipe)})
        print(f"{name:15s} >=10x {ok.sum()}/{len(channels)}  median gain {np.median(gain):7.1f}  "
              f"activation {res.start.mean():.3f} -> {res.final.mean():.3f}  steps {res.steps_run.mean():.0f}  "
              f"dead {res.dead.sum()}  {wall / len(channels):.3f} s/channel", flush=True)
        if grid_dir:
            from zoo_core.media.images import save_images, upscale

            Path(grid_dir).mkdir(parents=True, exist_ok=True)
            save_images(upscale(to_display(res.images[:16]), 84), Path(grid_dir) / f"{layer}-{name}.png", ncols=8)
    return rows


def markdown(rows: list[dict], command: str, model: str, layer: str) -> str:
    """The ``## filter visualizer`` section of docs/benchmarks.md."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = ["## filter visualizer", "",
             f"`{command}` - {now}, {platform.machine()} CPU, {os.cpu_count()} cores, torch 1 thread, "
             "niced while other training ran.", "",
             f"Every channel of `{model}` layer `{layer}`, one batch per recipe, same random starts (seed 0). "
             "`>=10x`: channels whose final mean activation is at least 10x that of their random start.", "",
             "| recipe | >=10x | median gain | mean activation start -> final | mean steps | dead | s/channel |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['recipe']} | {r['ok']}/{r['channels']} | {r['median_gain']:.1f} | "
                     f"{r['start']:.3f} -> {r['final']:.3f} | {r['steps']:.0f} | {r['dead']} | "
                     f"{r['s_per_channel']:.3f} |")
    lines.append("")
    for r in rows:
        f = r["recipe_fields"]
        lines.append(f"- `{r['recipe']}`: steps {f['steps']}, epsilon {f['epsilon']}, jitter {f['jitter']}, "
                     f"rotate {f['rotate']}, scale_jitter {f['scale_jitter']}, tv {f['tv_weight']}, "
                     f"fourier {f['fourier']}, stop_on_convergence {f['stop_on_convergence']}")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="glyph-cnn")
    ap.add_argument("--layer", default="conv_3")
    ap.add_argument("--recipes", default="seed,default")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--markdown", help="append the section to this file (e.g. docs/benchmarks.md)")
    ap.add_argument("--grid-dir", help="write the first 16 patterns of each recipe as PNG grids here")
    args = ap.parse_args()
    recipes = [r.strip() for r in args.recipes.split(",") if r.strip()]
    unknown = [r for r in recipes if r not in RECIPES]
    if unknown:
        sys.exit(f"unknown recipe {unknown[0]} (valid: {', '.join(RECIPES)})")
    rows = run(args.model, args.layer, recipes, args.seed, args.grid_dir)
    if args.markdown:
        command = "python benchmarks/bench_filterviz.py " + " ".join(sys.argv[1:])
        path = Path(args.markdown)
        old = path.read_text() if path.is_file() else "# Benchmarks\n"
        path.write_text(old.rstrip("\n") + "\n\n" + markdown(rows, command, args.model, args.layer))
        print(f"appended to {path}")


if __name__ == "__main__":
    main()
