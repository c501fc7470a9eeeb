"""Reproduce glyphnet's shipped pretrained models from their seeds.

Usage (from the repository root)::

    .venv/bin/python benchmarks/train_pretrained.py glyphnet-64          # one model
    .venv/bin/python benchmarks/train_pretrained.py --all                 # every shipped model
    .venv/bin/python benchmarks/train_pretrained.py glyphnet-64 --dry-run  # train + eval, write nothing

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

#: name -> (config that differs from the defaults, description, tags)
RECIPES: dict[str, tuple[dict, str, list[str]]] = {
    "glyphnet-32": (
        {"image_size": 32, "msg_size": 32, "batch_size": 64, "lr": 0.002, "steps": 30000, "antialias": True,
         "upsample": 1, "channel": "post", "affine_p": 0.5, "decoder_depth": 3, "separation_weight": 1.0,
         "ink_weight": 0.1, "clean_weight": 0.1},
        "32x32 grey glyphs carrying a 32-float message through the post's channel (noise, then rotation, "
        "shift, shear, perspective); white strokes on black, distinct per message, read back clean and distorted",
        ["glyphs", "latent", "grey", "32px"],
    ),
    "glyphnet-64": (
        {"batch_size": 64, "lr": 0.002, "steps": 12000, "antialias": True, "upsample": 1, "channel": "post",
         "affine_p": 0.5, "decoder_depth": 3, "separation_weight": 1.0, "ink_weight": 0.1, "clean_weight": 0.1},
        "64x64 grey glyphs carrying a 64-float message through the post's channel (noise, then rotation, "
        "shift, shear, perspective); white strokes on black, distinct per message, read back clean and distorted",
        ["glyphs", "latent", "grey", "64px"],
    ),
    "glyphnet-64-rgb": (
        {"channels": 3, "batch_size": 64, "lr": 0.002, "steps": 4000, "antialias": True, "upsample": 1,
         "channel": "post", "affine_p": 0.5, "decoder_depth": 2, "separation_weight": 1.0,
         "ink_weight": 0.1, "clean_weight": 0.1},
        "64x64 colour glyphs carrying a 64-float message through the post's channel (noise, then rotation, "
        "shift, shear, perspective); colour blobs on black, distinct per message, read back clean and distorted",
        ["glyphs", "latent", "colour", "64px"],
    ),
    # 7000 steps, then resumed to 14000: a warm restart of the cosine schedule (half the first rate
    # at step 7000), as `zoo train glyphnet -o RUN --steps 7000 ...` then `zoo train RUN --resume --steps 14000`
    "glyphnet-128-rgb": (
        {"msg_size": 128, "image_size": 128, "channels": 3, "widths": [16, 16, 32, 64, 128], "batch_size": 64,
         "lr": 0.002, "steps": 7000, "resume_to": 14000, "antialias": True, "upsample": 1, "channel": "post",
         "affine_p": 0.5, "decoder_depth": 2, "separation_weight": 1.0, "separation_pool": 4},
        "128x128 colour glyphs carrying a 128-float message through the post's channel (noise, then rotation, "
        "shift, shear, perspective); the high-resolution colour model: read back clean and distorted, drawn as a "
        "texture of colour dots rather than symbols",
        ["glyphs", "latent", "colour", "128px"],
    ),
}


def train_one(name: str, run_dir: Path, eval_every: int, dry_run: bool, extra: dict | None = None) -> dict:
    """Train, evaluate and (unless ``dry_run``) publish one recipe; return its summary.

    ``extra`` overrides the recipe's config (for experiments; only allowed with ``dry_run``).
    """
    import zoo_core
    from zoo_core.io.checkpoints import latest_checkpoint, read_checkpoint
    from zoo_core.io.weights import save_tensors

    overrides, description, tags = RECIPES[name]
    if extra:
        if not dry_run:
            raise SystemExit("--set is for experiments: use it with --dry-run, or edit RECIPES")
        overrides = {**overrides, **extra}
    overrides = dict(overrides)
    resume_to = overrides.pop("resume_to", None)  # a second stage: resumed to this many steps in all
    model = zoo_core.build("glyphnet", **overrides)
    steps = resume_to or model.config["steps"]
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
    for stage in (model.config["steps"], resume_to) if resume_to else (steps,):
        done = latest_checkpoint(ckpt)  # None where the folder is missing or empty
        if stage != steps and done is not None and read_checkpoint(done)[1]["step"] >= stage:
            continue  # a first stage this run dir already holds
        model.train(steps=stage, callbacks=[log], checkpoint_dir=ckpt, checkpoint_every=250, resume=done is not None)
    seconds = time.perf_counter() - t0
    metrics = model.evaluate(seed=0)
    summary = {"name": name, "train_seconds": round(seconds, 1), "steps": steps, **metrics}
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
    print(f"wrote {path.relative_to(ROOT)} sha256 {sha}", flush=True)
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
    args = parser.parse_args(argv)
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
