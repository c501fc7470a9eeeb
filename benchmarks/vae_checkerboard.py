"""2x2 checker energy of prior samples: transposed-convolution vs sub-pixel decoder (docs/vae-checkerboard.png).

Usage, after ``benchmarks/vae_table.py`` (whose saved digits models it loads)::

    OMP_NUM_THREADS=1 nice .venv/bin/python benchmarks/vae_checkerboard.py --runs /tmp/vae-table

Prints mean |x00 - x10 - x01 + x11| / 4 over all 2x2 windows (pixels in [0, 1]) of 256 prior
samples per model and of the held-out digits, and draws 8 samples of each bernoulli digits model
(transpose, then subpixel), each above its checker-filter response (absolute value, x8).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import zoo_core
from zoo_core.data.datasets import load_dataset
from zoo_core.media.images import save_images

ROOT = Path(__file__).resolve().parent.parent


def checker_map(images: np.ndarray) -> np.ndarray:
    x = images[..., 0].astype(np.float64) / 255.0
    return np.abs(x[:, :-1, :-1] - x[:, 1:, :-1] - x[:, :-1, 1:] + x[:, 1:, 1:]) / 4.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("/tmp/vae-table"))
    args = parser.parse_args()
    test, _ = load_dataset("digits-28", "test")
    print(f"held-out digits: {checker_map(test).mean():.5f}")
    rows = []
    for lik in ("bernoulli", "logistic"):
        for dec in ("transpose", "subpixel"):
            model = zoo_core.load(str(args.runs / f"digits-28-{lik}-{dec}"))
            samples = model.sample(256, seed=0)
            print(f"digits-28 {lik} {dec}: {checker_map(samples).mean():.5f}")
            if lik == "bernoulli":
                response = np.clip(checker_map(samples[:8]) * 8.0 * 255.0, 0, 255).astype(np.uint8)
                response = np.pad(response, ((0, 0), (0, 1), (0, 1)))[..., None]
                rows += [samples[:8], response]
    pic = np.concatenate(rows).repeat(4, axis=1).repeat(4, axis=2)
    save_images(pic, ROOT / "docs" / "vae-checkerboard.png", ncols=8)


if __name__ == "__main__":
    main()
