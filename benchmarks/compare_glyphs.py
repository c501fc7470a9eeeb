"""One row of glyphs per model, the same messages in every row: before/after figures for the docs.

Usage (from the repository root)::

    .venv/bin/python benchmarks/compare_glyphs.py -o docs/glyphnet-32-before-after.png \\
        before=git:a017a55:glyphnet-32 after=glyphnet-32

Each row is ``LABEL=SOURCE``: a catalog name, a run folder (``zoo train -o``), or
``git:REV:NAME``: catalog entry NAME as this repository shipped it at git revision REV (its
registry entry and its ``pkg://`` weights file read with ``git show``), e.g. a model before it was
retrained. Every row draws ``sample(N, seed=SEED)``: models of
one message size get the same messages. Labels are printed on stdout with the row order.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image


def load(source: str):
    import zoo_core

    if source.startswith("git:"):
        from safetensors.numpy import load as load_bytes

        _, rev, name = source.split(":", 2)
        root = Path(__file__).resolve().parent.parent

        def show(path: str) -> bytes:
            return subprocess.run(["git", "show", f"{rev}:{path}"], cwd=root, check=True, capture_output=True).stdout

        entry = next(m for m in json.loads(show("registry.json"))["models"] if m["name"] == name)
        package, _, file = entry["weights"]["source"][len("pkg://"):].partition("/")
        model = zoo_core.build(entry["family"], **entry["config"])
        model.load_state_dict(load_bytes(show(f"plugins/{package}/{file}")))
        return model
    return zoo_core.load(source)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="+", metavar="LABEL=SOURCE")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("-n", type=int, default=8, help="glyphs per row")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gap", type=int, default=2, help="pixels between glyphs")
    parser.add_argument("--side", type=int, default=64, help="each glyph enlarged (nearest) to at least this side")
    args = parser.parse_args()
    from zoo_core.media.images import tile, upscale

    rows = []
    for spec in args.rows:
        label, _, source = spec.partition("=")
        images = load(source).sample(args.n, seed=args.seed)
        rows.append(np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images)
        print(f"row {len(rows)}: {label} ({source})")
    side = max([args.side] + [r.shape[1] for r in rows])
    rows = [upscale(r, side) for r in rows]  # nearest, by an integer factor: every row the same side
    Image.fromarray(tile(np.concatenate(rows), ncols=args.n, pad=args.gap, pad_value=128)).save(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
