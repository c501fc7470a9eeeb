"""Held-out -ELBO of the ``vae`` likelihoods and decoders, and what the TF2 series' loss options change.

Usage (from the repository root; about 15-25 min on 2 shared CPU cores)::

    OMP_NUM_THREADS=1 nice .venv/bin/python benchmarks/vae_table.py --steps 1500 --runs /tmp/vae-table

Part 1 trains the same small VAE (``BASE`` below) for the same number of steps on ``glyphs-28``
and ``digits-28`` with ``likelihood`` bernoulli / logistic x ``decoder`` transpose / subpixel,
and evaluates each on its data's held-out split (``model.evaluate(seed=0)``) and on up to 2000
of its training images. Part 2 trains the bernoulli/transpose digits model with the KL
solution type 2 instead of 3, with ``scale_by_pixels``, and with both. Every model is saved
under ``--runs`` with prior samples and reconstructions as PNGs; the results go to
``--runs/results.json`` and the markdown tables are printed (docs/vae.md quotes them).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

BASE = dict(filters=[32, 64], kernel_sizes=[3, 3], z_dim=16, batch_size=128, lr=1e-3, seed=0, fact=1.0)
DATASETS = ("glyphs-28", "digits-28")


def run(name: str, config: dict, steps: int, runs: Path) -> dict:
    import zoo_core
    from zoo_core.data.datasets import load_dataset
    from zoo_core.media.images import save_images

    model = zoo_core.build("vae", **config)
    t0 = time.perf_counter()
    history = model.train(steps=steps)
    seconds = time.perf_counter() - t0
    held = model.evaluate(seed=0)
    train_images, _ = load_dataset(config["dataset"], "train")
    train = model.evaluate(train_images[:2000], seed=0)
    folder = runs / name
    model.save(folder)
    save_images(model.sample(64, seed=0), folder / "samples.png", ncols=8)
    test_images, _ = load_dataset(config["dataset"], "test")
    save_images(np.concatenate([test_images[:8], model.reconstruct(test_images[:8])]), folder / "recon.png", ncols=8)
    scale = model.output_scale()
    if scale is not None:
        np.save(folder / "scale.npy", scale)
    # latent dimensions the posterior actually uses: mean KL per dimension above 0.01 nats
    codes_mu, codes_lv = (np.asarray(t) for t in model.encoder(test_images[:512].astype(np.float32) / 255.0))
    kl_dim = (-0.5 * (1 + codes_lv - codes_mu ** 2 - np.exp(codes_lv))).mean(0)
    row = {"name": name, "config": config, "steps": steps, "seconds": round(seconds, 1),
           "last100_total": float(np.mean(history["total_loss"][-100:])),
           "active_dims": int((kl_dim > 0.01).sum()), "heldout": held, "train": train}
    print(json.dumps({k: row[k] for k in ("name", "seconds", "last100_total", "active_dims")}
                     | {k: held[k] for k in ("neg_elbo", "bits_per_dim", "kl", "mse_per_pixel")}
                     | {"train_neg_elbo": train["neg_elbo"]}), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--runs", type=Path, default=Path("/tmp/vae-table"))
    parser.add_argument("--part", choices=("1", "2", "all"), default="all")
    args = parser.parse_args()
    args.runs.mkdir(parents=True, exist_ok=True)
    out = args.runs / "results.json"
    results = json.loads(out.read_text()) if out.exists() else {}
    jobs = []
    if args.part in ("1", "all"):
        for data in DATASETS:
            for lik in ("bernoulli", "logistic"):
                for dec in ("transpose", "subpixel"):
                    jobs.append((f"{data}-{lik}-{dec}", {**BASE, "dataset": data, "likelihood": lik, "decoder": dec}))
    if args.part in ("2", "all"):
        for sol, scale in ((2, False), (3, True), (2, True)):
            jobs.append((f"digits-28-bernoulli-transpose-kl{sol}{'-pixscale' if scale else ''}",
                         {**BASE, "dataset": "digits-28", "kl_solution": sol, "scale_by_pixels": scale}))
    for name, config in jobs:
        if name in results and results[name]["steps"] == args.steps:
            continue
        results[name] = run(name, config, args.steps, args.runs)
        out.write_text(json.dumps(results, indent=1))
    print("| data | likelihood | decoder | held-out -ELBO (nats) | bits/dim | train -ELBO | KL | MSE/pixel | s |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        c, h, t = r["config"], r["heldout"], r["train"]
        print(f"| {c['dataset']} | {c.get('likelihood', 'bernoulli')} | {c.get('decoder', 'transpose')}"
              f"{' kl' + str(c['kl_solution']) if 'kl_solution' in c else ''}"
              f"{' pixscale' if c.get('scale_by_pixels') else ''} | {h['neg_elbo']:.1f} | {h['bits_per_dim']:.3f} | "
              f"{t['neg_elbo']:.1f} | {h['kl']:.2f} | {h['mse_per_pixel']:.4f} | {r['seconds']:.0f} |")


if __name__ == "__main__":
    main()
