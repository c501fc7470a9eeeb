"""Reproduce glyphnet's shipped pretrained models from their seeds.

Usage (from the repository root)::

    .venv/bin/python benchmarks/train_pretrained.py glyphnet-64          # one model
    .venv/bin/python benchmarks/train_pretrained.py --all                 # every shipped model
    .venv/bin/python benchmarks/train_pretrained.py glyphnet-64 --dry-run  # train + eval, write nothing
    .venv/bin/python benchmarks/train_pretrained.py glyphnet-64 --from-run runs/g64  # ship a `zoo train` run

Each recipe below is a glyphnet config (only what differs from the family defaults, ``steps``
included) trained with ``model.train`` exactly as ``zoo train`` does; so
``zoo train glyphnet-64 -o run/`` retraces the same run. The script then writes
``plugins/zoo_glyphnet/weights/<name>.safetensors`` (exactly ``model.state_dict()``), evaluates it
with ``model.evaluate(seed=0)`` and records the entry and its sha256 in ``registry.json``
(read-modify-write, keeping other entries). A run killed half-way continues from its checkpoint
in ``--run-dir`` when started again.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS_DIR = ROOT / "plugins" / "zoo_glyphnet" / "weights"
REGISTRY = ROOT / "registry.json"

#: the stroke generator of issue #29 as the continuous models use it: one connected pen stroke of 12
#: quadratic Bezier curves carrying a 16-float message (docs/glyphnet.md, "Strokes for every model")
STROKES = {"msg_size": 16, "generator": "strokes", "strokes": 1, "segments": 12, "stroke_hidden": 512,
           "stroke_box": 0.65, "stroke_width_min": 0.06, "stroke_width_max": 0.12, "intensity_min": 0.8,
           "stroke_raster": 32, "antialias": True, "upsample": 1, "channel": "post", "affine_p": 0.5,
           "separation_weight": 1.0, "ink_weight": 0.0, "clean_weight": 0.1, "batch_size": 64, "lr": 0.002}

#: name -> (config that differs from the defaults, description, tags)
RECIPES: dict[str, tuple[dict, str, list[str]]] = {
    # The stroke recipes of issue #29 (the pixel-generator recipes they replace are the configs of
    # glyphnet-32/-64/-64-rgb in registry.json at f898a93: `git show f898a93:registry.json`).
    "glyphnet-32": (
        {"image_size": 32, **STROKES, "decoder_depth": 3, "steps": 10000},
        "32x32 grey glyphs carrying a 16-float message through the post's channel (noise, then rotation, shift, "
        "shear, perspective); each one white pen stroke (12 quadratic Bezier curves) on black; also as SVG paths",
        ["glyphs", "latent", "grey", "32px", "strokes"],
    ),
    "glyphnet-64": (
        {**STROKES, "decoder_depth": 3, "steps": 4000},
        "64x64 grey glyphs carrying a 16-float message through the post's channel (noise, then rotation, shift, "
        "shear, perspective); each one white pen stroke (12 quadratic Bezier curves) on black; also as SVG paths",
        ["glyphs", "latent", "grey", "64px", "strokes"],
    ),
    "glyphnet-64-rgb": (
        {"channels": 3, **STROKES, "decoder_depth": 2, "steps": 6000},
        "64x64 colour glyphs carrying a 16-float message through the post's channel (noise, then rotation, shift, "
        "shear, perspective); each one pen stroke of 12 coloured quadratic Bezier curves on black; also as SVG paths",
        ["glyphs", "latent", "colour", "64px", "strokes"],
    ),
}


def train_one(name: str, run_dir: Path, eval_every: int, dry_run: bool, extra: dict | None = None) -> dict:
    """Train, evaluate and (unless ``dry_run``) publish one recipe; return its summary.

    ``extra`` overrides the recipe's config (for experiments; only allowed with ``dry_run``).
    """
    import zoo_core
    from zoo_core.io.checkpoints import latest_checkpoint, read_checkpoint

    overrides = RECIPES[name][0]
    if extra:
        if not dry_run:
            raise SystemExit("--set is for experiments: use it with --dry-run, or edit RECIPES")
        overrides = {**overrides, **extra}
    overrides, stages = split_stages(overrides)
    model = zoo_core.build("glyphnet", **overrides)
    steps = stages[-1]
    t0 = time.perf_counter()
    last = [t0]

    def log(step: int, logs: dict) -> None:
        if step % 100 == 0 or step == steps:
            now = time.perf_counter()
            line = f"{name} step {step}/{steps} loss {logs['loss']:.4f} ({now - t0:.0f}s)"
            if eval_every and (step % eval_every == 0 or step == steps):
                metrics = model.evaluate(seed=1, messages=256)
                model.generator.train()
                model.decoder.train()
                line += f" | eval256 cos {metrics['cosine_channel']:.4f} clean {metrics['cosine_clean']:.4f}"
            print(line, flush=True)
            last[0] = now

    ckpt = run_dir / name / "checkpoint"
    for stage in stages:
        done = latest_checkpoint(ckpt)  # None where the folder is missing or empty
        if stage != steps and done is not None and read_checkpoint(done)[1]["step"] >= stage:
            continue  # a first stage this run dir already holds
        model.train(steps=stage, callbacks=[log], checkpoint_dir=ckpt, checkpoint_every=250, resume=done is not None)
    return publish(name, model, steps, time.perf_counter() - t0, dry_run)


def split_stages(overrides: dict) -> tuple[dict, list[int]]:
    """A recipe's config without ``resume_to``, and its stages: ``steps``, then each ``resume_to`` total."""
    config = {k: v for k, v in overrides.items() if k != "resume_to"}
    return config, [overrides["steps"], *overrides.get("resume_to", [])]


def recipe_config(name: str) -> dict:
    """The resolved config of recipe ``name`` (``steps`` being the run's total)."""
    import zoo_core

    overrides, stages = split_stages(RECIPES[name][0])
    return {**zoo_core.get_family("glyphnet").config.resolve(overrides), "steps": stages[-1]}


def from_run(name: str, run: Path, dry_run: bool) -> dict:
    """Publish the model a ``zoo train`` run folder holds, once its config is exactly recipe ``name``'s.

    The run's own ``run.json`` is then the recipe: ``zoo train glyphnet-64 -o RUN --set ...`` retraces it.
    """
    import zoo_core

    model = zoo_core.load(run)
    record = json.loads((run / "run.json").read_text(encoding="utf-8"))
    if record.get("step") != record.get("steps") or not record.get("finished"):
        raise SystemExit(f"{run}: the run is not finished (step {record.get('step')} of {record.get('steps')})")
    stages = split_stages(RECIPES[name][0])[1]
    schedule = [stage.get("steps") for stage in record.get("schedule", [])]
    if schedule != stages:
        raise SystemExit(f"{run}: trained in stages of {schedule} steps, recipe {name}: {stages}")
    want, got = recipe_config(name), {**model.config, "steps": record["steps"]}
    differ = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
    if differ:
        raise SystemExit(f"{run}: config differs from recipe {name} in " +
                         ", ".join(f"{k}: run {got.get(k)!r}, recipe {want.get(k)!r}" for k in differ))
    return publish(name, model, record["steps"], None, dry_run)


def publish(name: str, model, steps: int, seconds: float | None, dry_run: bool) -> dict:
    """Evaluate ``model`` and (unless ``dry_run``) write its weights and registry entry."""
    from zoo_core.io.weights import save_tensors

    _, description, tags = RECIPES[name]
    metrics = model.evaluate(seed=0)
    summary = {"name": name, "steps": steps, **({"train_seconds": round(seconds, 1)} if seconds else {}), **metrics}
    print(json.dumps(summary), flush=True)
    if dry_run:
        return summary
    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    path = WEIGHTS_DIR / f"{name}.safetensors"
    sha = save_tensors(model.state_dict(), path)
    summary["sha256"] = sha
    # The entry pins the whole resolved config, so later changes of the family's defaults
    # cannot silently change what the shipped weights mean.
    entry = {"name": name, "family": "glyphnet", "config": {**model.config, "steps": steps},
             "weights": {"source": f"pkg://zoo_glyphnet/weights/{name}.safetensors", "sha256": sha},
             "description": description, "license": "MIT", "tags": tags}
    update_registry(entry)
    print(f"wrote {path.relative_to(ROOT)} sha256 {sha} (then: zoo verify --write {name})", flush=True)
    return summary


def update_registry(entry: dict) -> None:
    """Insert or replace ``entry`` (by name) in registry.json, keeping everyone else's entries."""
    data = json.loads(REGISTRY.read_text(encoding="utf-8"))
    models = data.setdefault("models", [])
    names = [m.get("name") for m in models]
    if entry["name"] in names:  # in place: the catalog keeps its order
        models[names.index(entry["name"])] = entry
    else:
        models.append(entry)
    REGISTRY.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"recipes to train: {', '.join(RECIPES)}")
    parser.add_argument("--all", action="store_true", help="train every recipe")
    parser.add_argument("--run-dir", type=Path, default=Path("/tmp/glyphnet-runs"),
                        help="where checkpoints go (default /tmp/glyphnet-runs)")
    parser.add_argument("--eval-every", type=int, default=500, help="print a 256-message eval every N steps (0: off)")
    parser.add_argument("--dry-run", action="store_true", help="train and evaluate, but write no weights/registry")
    parser.add_argument("--set", dest="pairs", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe's config value (experiments; needs --dry-run)")
    parser.add_argument("--from-run", type=Path, metavar="RUN",
                        help="publish the finished `zoo train` run folder RUN (its config must be the recipe's)")
    args = parser.parse_args(argv)
    if args.from_run:
        if len(args.names) != 1 or args.names[0] not in RECIPES:
            parser.error(f"--from-run publishes one recipe: name one of {', '.join(RECIPES)}")
        from_run(args.names[0], args.from_run, args.dry_run)
        return 0
    names = list(RECIPES) if args.all else args.names
    unknown = [n for n in names if n not in RECIPES]
    if not names or unknown:
        parser.error(f"name one or more of {', '.join(RECIPES)} (unknown: {', '.join(unknown) or '-'})")
    extra = {}
    if args.pairs:
        import zoo_core

        extra = zoo_core.get_family("glyphnet").config.parse_overrides(args.pairs)
    for name in names:
        train_one(name, args.run_dir, args.eval_every, args.dry_run, extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
