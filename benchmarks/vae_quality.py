"""Sample quality of VAE models and of the reference cases, scored by ``digits-cnn`` (zoo_core.media.quality).

Usage (from the repository root)::

    OMP_NUM_THREADS=1 nice .venv/bin/python benchmarks/vae_quality.py vae-digits-28 runs/X ... [--refs]

For each model (a catalog name or a run folder): ``model.evaluate(seed=0)``'s ``quality_*`` keys
(2,000 prior samples against the 297 held-out digits) and its held-out bits/dim, one markdown
row each. ``--refs`` adds the reference rows: the digits-28 *training* split (real digits the
VAE and the classifier were trained on, scored against the held-out split), uniform noise, and
ae-glyphs-28's decoded N(0, 1) codes (the floor the issue names).
"""

from __future__ import annotations

import argparse
import json
import sys

KEYS = ("quality_fd", "quality_class_entropy", "quality_class_max_share", "quality_confidence")


def row(label: str, q: dict, bits: float | None) -> str:
    cells = [f"{q['quality_fd']:.2f}", f"{q['quality_fd'] / q['quality_heldout_fd']:.2f}",
             f"{q['quality_class_entropy']:.3f}", f"{q['quality_class_max_share']:.3f}",
             f"{q['quality_confidence']:.3f}", "–" if bits is None else f"{bits:.3f}"]
    return f"| {label} | " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*")
    ap.add_argument("--refs", action="store_true")
    ap.add_argument("--mixture", type=int, default=0, metavar="K",
                    help="refit each model's prior as a K-component mixture of its training codes before scoring "
                         "(what prior=mixture, mixture_components=K does at the end of training)")
    ap.add_argument("--normal", action="store_true", help="score N(0, I) draws even if the model has a mixture prior")
    ap.add_argument("--json", help="also write every figure to this file")
    args = ap.parse_args(argv)

    import numpy as np

    import zoo_core
    from zoo_core.data.datasets import load_dataset
    from zoo_core.media.quality import sample_quality

    print("| samples | Frechet distance | / held-out | class entropy (bits) | largest class share | "
          "mean confidence | held-out bits/dim |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    results: dict = {}
    heldout = None
    for name in args.models:
        model = zoo_core.load(name)
        label = f"`{name}`"
        if args.mixture:
            from zoo_vae.prior import standard_mixture

            model.config["mixture_components"] = args.mixture
            model.prior_tensors = standard_mixture(args.mixture, model.latent_size)
            model.fit_prior(model.training_images(model.config["dataset"]))
            label += f", mixture of {args.mixture} refitted"
        if args.normal:
            model.prior_tensors = None
            label += ", N(0, I) draws"
        ev = model.evaluate(seed=0)
        results[label] = ev
        heldout = ev
        print(row(label, ev, ev.get("bits_per_dim")), flush=True)
    if args.refs:
        train, _ = load_dataset("digits-28", "train")
        noise = np.random.default_rng(0).integers(0, 256, (2000, 28, 28, 1), dtype=np.uint8)
        ae = zoo_core.load("ae-glyphs-28").sample(2000, seed=0)
        for label, images in (("digits-28 training split (real)", train), ("uniform noise", noise),
                              ("`ae-glyphs-28` N(0, 1) codes", ae)):
            q = sample_quality(images, "digits-28", seed=0)
            results[label] = q
            heldout = q
            print(row(label, q, None), flush=True)
    if heldout is not None:
        print(f"| held-out vs held-out (ceiling) | {heldout['quality_heldout_fd']:.2f} | 1.00 | "
              f"{heldout['quality_heldout_class_entropy']:.3f} | {heldout['quality_heldout_class_max_share']:.3f} | "
              f"{heldout['quality_heldout_confidence']:.3f} | – |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
