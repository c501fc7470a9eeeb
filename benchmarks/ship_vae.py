"""Train, evaluate and ship a ``vae`` catalog model (weights, sha256 and registry entry).

Usage (from the repository root)::

    OMP_NUM_THREADS=1 nice .venv/bin/python benchmarks/ship_vae.py vae-digits-28            # train + ship
    OMP_NUM_THREADS=1 nice .venv/bin/python benchmarks/ship_vae.py vae-digits-28 --dry-run  # write nothing
    .venv/bin/python benchmarks/ship_vae.py vae-digits-28 --from-run runs/vae-digits-28      # ship a zoo train run

``--from-run`` ships the weights of a run folder written by ``zoo train vae ... -o RUN`` (its
``run.json`` is the recipe; its config must be the recipe's) instead of training here.

Each recipe is a ``vae`` config (what differs from the family defaults, ``steps`` included),
trained with ``model.train`` exactly as ``zoo train`` does. The script writes
``plugins/zoo_vae/weights/<name>.safetensors`` (``model.state_dict()``), evaluates the model on
its dataset's held-out split with ``model.evaluate(seed=0)`` and records the entry, its sha256
and the held-out -ELBO (in its description, the catalog card) in ``registry.json``.
``tests/plugins/vae/test_vae.py`` re-evaluates the shipped file and checks the card's figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_pretrained import ROOT, update_registry  # noqa: E402

WEIGHTS_DIR = ROOT / "plugins" / "zoo_vae" / "weights"

#: name -> (config that differs from the defaults, description prefix, tags)
RECIPES: dict[str, tuple[dict, str, list[str]]] = {
    "vae-digits-28": (
        {"dataset": "digits-28", "filters": [32, 64], "kernel_sizes": [3, 3], "z_dim": 16, "lr": 1e-3,
         "likelihood": "logistic", "logistic_scale": "pixel", "decoder": "subpixel", "prior": "mixture",
         "mixture_components": 20, "steps": 2500},
        "28x28 conv VAE (z=16, discretized-logistic likelihood with a learnt per-pixel scale, sub-pixel "
        "decoder, prior: a 20-component Gaussian mixture fitted to the training codes) on scikit-learn's digits "
        "(digits-28)",
        ["vae", "keras", "trained", "grey", "28", "digits"],
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(RECIPES))
    parser.add_argument("--dry-run", action="store_true", help="train and evaluate, but write nothing")
    parser.add_argument("--run-dir", type=Path, default=Path("/tmp/vae-ship"))
    parser.add_argument("--from-run", type=Path, help="ship this zoo train run folder's weights instead of training")
    args = parser.parse_args(argv)

    import zoo_core

    overrides, description, tags = RECIPES[args.name]
    t0 = time.perf_counter()
    if args.from_run is not None:
        model = zoo_core.load(args.from_run)
        run = json.loads((args.from_run / "run.json").read_text())
        want = zoo_core.get_family("vae").config.resolve(overrides)
        differ = {k: (run["config"].get(k), v) for k, v in want.items() if k != "steps" and run["config"].get(k) != v}
        if differ or run["step"] != overrides["steps"]:
            parser.error(f"{args.from_run} is not the recipe: {differ or run['step']}")
        return ship(args, model, overrides, description, tags, t0)
    model = zoo_core.build("vae", **overrides)
    steps = model.config["steps"]

    def log(step: int, logs: dict) -> None:
        if step % 250 == 0 or step == steps:
            print(f"{args.name} step {step}/{steps} total {logs['total_loss']:.1f} = reco {logs['reco_loss']:.1f} "
                  f"+ kl {logs['kl_loss']:.2f} ({time.perf_counter() - t0:.0f}s)", flush=True)

    model.train(steps=steps, callbacks=[log], checkpoint_dir=args.run_dir / args.name, checkpoint_every=500,
                resume=(args.run_dir / args.name / "checkpoint.safetensors").is_file())
    return ship(args, model, overrides, description, tags, t0)


def ship(args, model, overrides: dict, description: str, tags: list[str], t0: float) -> int:
    """Evaluate ``model`` and (unless ``--dry-run``) write its weights and registry entry."""
    from zoo_core.io.weights import save_tensors

    metrics = model.evaluate(seed=0)
    print(json.dumps({"name": args.name, "train_seconds": round(time.perf_counter() - t0, 1), **metrics}), flush=True)
    if args.dry_run:
        return 0
    path = WEIGHTS_DIR / f"{args.name}.safetensors"
    sha = save_tensors(model.state_dict(), path)
    card = (f"{description}: held-out -ELBO {metrics['neg_elbo']:.1f} nats ({metrics['bits_per_dim']:.4f} bits/dim) "
            f"on its {metrics['images']} test digits")
    if "quality_fd" in metrics:
        card += (f"; {metrics['quality_samples']} prior samples scored by {metrics['quality_model']}: Frechet distance "
                 f"{metrics['quality_fd']:.2f} (held-out vs held-out {metrics['quality_heldout_fd']:.2f}), class "
                 f"entropy {metrics['quality_class_entropy']:.3f} bits, largest class "
                 f"{100 * metrics['quality_class_max_share']:.1f}%, mean confidence {metrics['quality_confidence']:.3f}")
    entry = {"name": args.name, "family": "vae", "config": overrides,
             "weights": {"source": f"pkg://zoo_vae/weights/{args.name}.safetensors", "sha256": sha},
             "description": card, "license": "MIT", "tags": tags}
    update_registry(entry)
    print(f"wrote {path.relative_to(ROOT)} sha256 {sha}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
