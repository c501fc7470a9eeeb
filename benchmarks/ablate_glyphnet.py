"""Short training runs of glyphnet variants toward distinct, symbol-like glyphs (issue #15).

Usage (from the repository root; one thread, one variant after the other)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ablate_glyphnet.py --steps 3000 --out runs/ablation \\
        base clean=clean_weight=1 div=diversity_weight=1 ...

Each variant is ``LABEL`` (the base recipe) or ``LABEL=KEY=VALUE[,KEY=VALUE...]`` on top of the base
recipe (glyphnet-32's shipped recipe, trained through the post's channel). Every run is evaluated
with ``model.evaluate(seed=0)`` (1,000 held-out messages, the post's channel) and appended as one
JSON line to ``OUT/results.jsonl``; ``OUT/LABEL.png`` holds ``sample(16, seed=0)`` and
``OUT/LABEL/`` the saved model.

``--figure FILE.png LABEL...`` trains nothing: it writes one row of ``sample(8, seed=0)`` per
model (the shipped glyphnet-32 first, then each saved variant of ``OUT``; the same 8 messages).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

BASE = {"image_size": 32, "msg_size": 32, "batch_size": 64, "lr": 0.002, "antialias": True, "upsample": 1,
        "channel": "post", "affine_p": 0.5}


def parse_variant(text: str) -> tuple[str, dict]:
    label, _, sets = text.partition("=")
    overrides = {}
    for pair in filter(None, sets.split(",")):
        key, _, value = pair.partition("=")
        overrides[key] = json.loads(value)
    return label, overrides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--base", default="", help="KEY=VALUE,... applied to every variant")
    parser.add_argument("--figure", type=Path, help="write the rows of the saved variants to FILE.png, train nothing")
    args = parser.parse_args()

    import torch

    import zoo_core
    from zoo_core.media.images import save_images

    torch.set_num_threads(1)
    if args.figure is not None:
        import numpy as np

        rows = [zoo_core.load(name).sample(8, seed=0) for name in
                ["glyphnet-32", *(str(args.out / parse_variant(v)[0]) for v in args.variants)]]
        save_images(np.concatenate(rows), args.figure, ncols=8)
        print(f"wrote {len(rows)} rows to {args.figure}")
        return
    args.out.mkdir(parents=True, exist_ok=True)
    _, base = parse_variant("base=" + args.base)
    for text in args.variants:
        label, overrides = parse_variant(text)
        config = {**BASE, **base, **overrides, "steps": args.steps}
        model = zoo_core.build("glyphnet", **config)
        t0 = time.perf_counter()
        model.train(steps=args.steps)
        seconds = time.perf_counter() - t0
        metrics = model.evaluate(seed=0)
        model.save(args.out / label)
        save_images(model.sample(16, seed=0), args.out / f"{label}.png", ncols=8)
        line = {"label": label, "overrides": {**base, **overrides}, "steps": args.steps,
                "train_seconds": round(seconds, 1), **metrics}
        with open(args.out / "results.jsonl", "a") as fh:
            fh.write(json.dumps(line) + "\n")
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
