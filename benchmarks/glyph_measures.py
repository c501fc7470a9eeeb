"""Calibrate the glyph measures of issue #29 on references, and measure every shipped glyphnet model.

Usage (from the repository root)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/glyph_measures.py [--picture docs/glyph-measures.png]

Prints one Markdown row per image set (P, MP26, LC, S, ink and the seconds the measures took),
every set measured with :func:`zoo_glyphnet.metrics.glyph_measures` (MP26's draws seed 0):

* letters: A-Z, a-z, 0-9 (62 glyphs) from DejaVu Sans, Serif and Sans Mono at 32 and 64 px, light
  on black, each character scaled by one factor per font (the largest of the 62 fills the central
  75% box) and centred on its bounding box, rendered at 4x and box-filtered down;
* glyphs-64 data: 200 images of the project's ``glyphs-64`` training set (seed 0);
* random-cnn: ``random-cnn-256`` samples (200, seed 1) box-filtered to 64 px;
* shuffled letters: the DejaVu Sans 64 px letters with their pixels permuted (seed 0);
* lattice: 200 glyphs that each switch on a random half of the cells of one 4x4 grid of blobs;
* noise: 200 uniform-noise images of 64 px;
* every shipped glyphnet model: ``sample(200, seed=1)`` (what ``zoo eval`` measures).

``--picture`` draws, for letters and each shipped model: one glyph, its autocorrelation (the
central lobe dimmed), the mean of 26 glyphs, and the glyph's largest component highlighted.
"""

from __future__ import annotations

import argparse
import string
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CHARACTERS = string.ascii_uppercase + string.ascii_lowercase + string.digits
FONTS = ("DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf")
SHIPPED = ("glyphnet-32", "glyphnet-64", "glyphnet-64-rgb", "glyphnet-128-rgb", "glyphnet-alphabet-26")


def font_path(name: str) -> str:
    from zoo_core.glyphs import FONT_DIRS

    for root in FONT_DIRS:
        found = sorted(Path(root).expanduser().rglob(name))
        if found:
            return str(found[0])
    raise SystemExit(f"font {name} not found under {', '.join(FONT_DIRS)}")


def letters(font: str, size: int, scale: int = 4, box: float = 0.75) -> np.ndarray:
    """The 62 characters, uint8 (62, size, size, 1), light on black, inside the central ``box``."""
    big = size * scale
    probe = ImageFont.truetype(font_path(font), 100)
    extent = max(max(r - l, b - t) for l, t, r, b in (probe.getbbox(c) for c in CHARACTERS))
    face = ImageFont.truetype(font_path(font), int(100 * box * big / extent))
    out = []
    for c in CHARACTERS:
        image = Image.new("L", (big, big), 0)
        draw = ImageDraw.Draw(image)
        l, t, r, b = draw.textbbox((0, 0), c, font=face)
        draw.text(((big - (r - l)) / 2 - l, (big - (b - t)) / 2 - t), c, fill=255, font=face)
        out.append(np.asarray(image.resize((size, size), Image.BOX)))
    return np.stack(out)[..., None]


def box_down(images: np.ndarray, size: int) -> np.ndarray:
    return np.stack([np.asarray(Image.fromarray(im.squeeze(-1) if im.shape[-1] == 1 else im).resize(
        (size, size), Image.BOX)).reshape(size, size, -1) for im in images])


def references() -> dict[str, np.ndarray]:
    import zoo_core
    from zoo_core.datasets import load_dataset

    rng = np.random.default_rng(0)
    sets = {}
    for font in FONTS:
        for size in (32, 64):
            sets[f"letters {font[:-4]} {size} px"] = letters(font, size)
    sets["glyphs-64 data (200, seed 0)"] = load_dataset("glyphs-64", n=200, seed=0)[0]
    sets["random-cnn-256 -> 64 px (200, seed 1)"] = box_down(zoo_core.load("random-cnn-256").sample(200, seed=1), 64)
    base = sets["letters DejaVuSans 64 px"]
    sets["shuffled letters (Sans 64 px)"] = np.stack([rng.permutation(x.reshape(-1)).reshape(x.shape) for x in base])
    yy, xx = np.mgrid[:64, :64]
    cells = [((yy - 14 - 12 * i) ** 2 + (xx - 14 - 12 * j) ** 2 < 16) for i in range(4) for j in range(4)]
    on = rng.random((200, 16)) < 0.5
    sets["lattice: 4x4 grid, half the cells on"] = (np.einsum("nc,chw->nhw", on, np.array(cells)) > 0)[..., None] \
        .astype(np.uint8) * 255
    sets["uniform noise 64 px"] = rng.integers(0, 256, (200, 64, 64, 1), dtype=np.uint8)
    return sets


def shipped() -> dict[str, np.ndarray]:
    import zoo_core

    return {name: zoo_core.load(name).sample(200, seed=1) for name in SHIPPED}


def picture(sets: dict[str, np.ndarray], path: str, side: int = 96) -> None:
    """One row per set: glyph, autocorrelation (lobe dimmed), mean of 26, largest component (red)."""
    from zoo_glyphnet.metrics import _label, autocorrelation, central_lobe, ink_map, lattice_means

    def fit(a: np.ndarray) -> Image.Image:
        return Image.fromarray(a).resize((side, side), Image.NEAREST)

    rows = []
    for label, images in sets.items():
        m = ink_map(images)
        pick = int(np.argmax([(x >= 0.5).mean() > 0.03 for x in m]))  # the first glyph with some ink
        glyph = (np.repeat(m[pick][..., None], 3, axis=-1) * 255).astype(np.uint8)
        r = autocorrelation(images[pick:pick + 1])
        lobe = central_lobe(r)[0]
        shown = np.clip(r[0], 0, 1) / max(1e-6, float(np.where(lobe, 0, r[0]).max()) or 1)
        acf = (np.clip(shown, 0, 1) * 255).astype(np.uint8)
        acf = np.stack([acf, acf, np.where(lobe, 255, acf)], axis=-1)  # the central lobe blue
        mean = lattice_means(images, seed=0, draws=1)[0]
        mean = (np.repeat((mean / max(mean.max(), 1e-6))[..., None], 3, axis=-1) * 255).astype(np.uint8)
        ink = m[pick] >= 0.5
        grid = _label(ink[None], diagonal=True)[0, 1:-1, 1:-1]
        comp = np.zeros(ink.shape + (3,), dtype=np.uint8)
        comp[ink] = 90
        if ink.any():
            biggest = np.bincount(grid[ink]).argmax()
            comp[grid == biggest] = (255, 60, 60)
        row = Image.new("RGB", (4 * side + 5 * 4 + 260, side + 8), (128, 128, 128))
        for k, part in enumerate((glyph, acf, mean, comp)):
            row.paste(fit(part), (4 + k * (side + 4), 4))
        ImageDraw.Draw(row).text((4 * (side + 4) + 8, side // 2 - 6), label, fill=(255, 255, 255))
        rows.append(row)
    sheet = Image.new("RGB", (rows[0].width, sum(r.height for r in rows)), (128, 128, 128))
    for i, row in enumerate(rows):
        sheet.paste(row, (0, i * rows[0].height))
    sheet.save(path)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--picture", help="also draw what each measure catches (PNG)")
    args = parser.parse_args()
    from zoo_glyphnet.metrics import glyph_measures

    sets = {**references(), **shipped()}
    print("| images | P | MP26 | LC | S | ink | seconds |")
    print("|---|---|---|---|---|---|---|")
    for label, images in sets.items():
        t0 = time.perf_counter()
        f = glyph_measures(images)
        took = time.perf_counter() - t0
        print(f"| {label} ({len(images)} x {images.shape[1]} px{' rgb' if images.shape[-1] == 3 else ''}) "
              f"| {f['periodicity']:.3f} | {f['lattice']:.3f} | {f['largest_component']:.2f} "
              f"| {f['frame_ink']:.2f} | {f['ink']:.3f} | {took:.2f} |", flush=True)
    if args.picture:
        picture({"letters DejaVu Sans 64 px": sets["letters DejaVuSans 64 px"],
                 "lattice (synthetic)": sets["lattice: 4x4 grid, half the cells on"],
                 **{k: sets[k] for k in SHIPPED}}, args.picture)


if __name__ == "__main__":
    main()
