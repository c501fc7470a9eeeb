"""Write a folder of colour PNG crops of scikit-learn's two bundled photos (``load_sample_images``).

Usage::

    .venv/bin/python benchmarks/make_photo_crops.py -o /tmp/photo-crops -n 2000 [--size 64]

scikit-learn ships two 427 x 640 JPEG photos (a Chinese temple, a flower) inside its wheel, so
this folder can be made on any machine with ``zoo[digits]`` and no download. Each crop is a
seeded random square (side 48 to 192 px of the photo) resized to ``size`` px with Pillow's
bilinear filter, half of them mirrored. It is the colour image folder that docs/vae.md trains
the seed-004 setup on (``zoo train vae --data FOLDER --set image_size=64 --set channels=3 --set
latent_dim=200``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def write_crops(out: Path, n: int, size: int = 64, seed: int = 0) -> list[Path]:
    """Write ``n`` crops as ``out/crop-NNNNN.png``; returns their paths."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        photo = photos[i % len(photos)]
        h, w = photo.shape[:2]
        side = int(rng.integers(48, 193))
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = Image.fromarray(photo[y:y + side, x:x + side]).resize((size, size), Image.BILINEAR)
        if rng.random() < 0.5:
            crop = crop.transpose(Image.FLIP_LEFT_RIGHT)
        path = out / f"crop-{i:05d}.png"
        crop.save(path)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", type=Path, required=True)
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    paths = write_crops(args.output, args.n, args.size, args.seed)
    print(f"wrote {len(paths)} {args.size}x{args.size} colour crops to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
