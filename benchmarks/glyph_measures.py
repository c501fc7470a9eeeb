"""Calibrate the glyph measures of issue #29 on references, and measure every shipped glyphnet model.

Usage (from the repository root)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/glyph_measures.py [--picture docs/glyph-measures.png] \\
        [--sheet SHEET.png[:invert] ...]

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
* every shipped glyphnet model: ``sample(200, seed=1)`` (what ``zoo eval`` measures);
* with ``--sheet``: the cells of published glyph sheets, e.g. noahtren/GlyphNet's ``media/bw_098.png``
  (black ink on white: ``:invert``) and ``media/color_100.png``, read from a checkout of that
  repository (nothing of it is copied here).

``--picture`` draws, for letters, the synthetic lattice and each shipped model: one glyph, its
autocorrelation (central lobe tinted blue, the largest value outside it ringed red), the mean of 26
glyphs, and the glyph's largest component in red.
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
SHIPPED = ("glyphnet-32", "glyphnet-64", "glyphnet-64-rgb", "glyphnet-alphabet-26")


def font_path(name: str) -> str:
    from zoo_core.data.glyphs import FONT_DIRS

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
    from zoo_core.data.datasets import load_dataset

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


def runs(profile: np.ndarray, least: int = 32) -> list[tuple[int, int]]:
    """``(start, stop)`` of the runs of True in a 1-d profile at least ``least`` long."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], profile.astype(np.int8), [0]])))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]) if b - a >= least]


def sheet_cells(path: str, invert: bool, size: int = 64) -> np.ndarray:
    """The glyphs of a published sheet (a grid of cells on a white page), each box-filtered to ``size``.

    The cells are the runs (>= 32 px) of rows and columns where more than 5% of the pixels are dark
    (the page is white; the title's row is shorter); a sheet with dark ink on a light ground is read
    with ``invert`` (ink light, as zoo draws it).
    """
    rgb = np.asarray(Image.open(path).convert("RGB"))
    dark = rgb.astype(int).sum(-1) < 700  # every row and column of cells holds some dark pixels
    rows, cols = runs(dark.mean(1) > 0.05), runs(dark.mean(0) > 0.05)
    out = []
    for y0, y1 in rows:
        for x0, x1 in cols:
            cell = rgb[y0:y1, x0:x1]
            if invert:
                cell = 255 - cell
            out.append(np.asarray(Image.fromarray(np.ascontiguousarray(cell)).resize((size, size), Image.BOX)))
    return np.stack(out)


def shipped() -> dict[str, np.ndarray]:
    import zoo_core

    return {name: zoo_core.load(name).sample(200, seed=1) for name in SHIPPED}


def picture(sets: dict[str, np.ndarray], path: str, side: int = 112) -> None:
    """One row per set: a glyph, its autocorrelation, the mean of 26 glyphs, its largest component.

    Autocorrelation: sqrt of the positive values in grey, the central lobe tinted blue, the
    largest value outside it (the glyph's P) ringed in red. Largest component: red, other ink grey.
    """
    from zoo_glyphnet.metrics import (_label, autocorrelation, central_lobe, glyph_measures, ink_map,
                                      lattice_means)

    def fit(a: np.ndarray) -> Image.Image:
        return Image.fromarray(a).resize((side, side), Image.NEAREST)

    text = 250
    heads = ("one glyph", "autocorrelation", "mean of 26", "largest piece")
    header = Image.new("RGB", (4 * (side + 4) + 4 + text, 16), (255, 255, 255))
    for k, head in enumerate(heads):
        ImageDraw.Draw(header).text((4 + k * (side + 4), 2), head, fill=(0, 0, 0))
    rows = [header]
    for label, images in sets.items():
        m = ink_map(images)
        pick = int(np.argmax([(x >= 0.5).mean() > 0.03 for x in m]))  # the first glyph with some ink
        glyph = (np.repeat(m[pick][..., None], 3, axis=-1) * 255).astype(np.uint8)
        r = autocorrelation(images[pick:pick + 1])
        lobe = central_lobe(r)[0]
        grey = (np.sqrt(np.clip(r[0], 0, 1)) * 255).astype(np.uint8)
        acf = np.stack([np.where(lobe, grey // 4, grey), np.where(lobe, grey // 2, grey),
                        np.where(lobe, 128 + grey // 2, grey)], axis=-1).astype(np.uint8)
        outside = np.where(lobe, -np.inf, r[0])
        py, px = np.unravel_index(np.argmax(outside), outside.shape)
        mean = lattice_means(images, seed=0, draws=1)[0]
        mean = (np.repeat((mean / max(mean.max(), 1e-6))[..., None], 3, axis=-1) * 255).astype(np.uint8)
        ink = m[pick] >= 0.5
        grid = _label(ink[None], diagonal=True)[0, 1:-1, 1:-1]
        comp = np.zeros(ink.shape + (3,), dtype=np.uint8)
        comp[ink] = 90
        if ink.any():
            comp[grid == np.bincount(grid[ink]).argmax()] = (255, 60, 60)
        row = Image.new("RGB", (4 * (side + 4) + 4 + text, side + 8), (128, 128, 128))
        for k, part in enumerate((glyph, acf, mean, comp)):
            row.paste(fit(part), (4 + k * (side + 4), 4))
        draw = ImageDraw.Draw(row)
        cy, cx = 4 + (py + 0.5) * side / r.shape[1], 4 + side + 4 + (px + 0.5) * side / r.shape[2]
        draw.ellipse((cx - 5, cy - 5, cx + 5, cy + 5), outline=(255, 0, 0), width=2)
        f = glyph_measures(images)
        lines = (label, f"P {f['periodicity']:.3f}   MP26 {f['lattice']:.3f}",
                 f"LC {f['largest_component']:.2f}   S {f['frame_ink']:.2f}   ink {f['ink']:.3f}",
                 f"this glyph's P: {float(outside[py, px]):.3f}")
        for i, line in enumerate(lines):
            draw.text((4 * (side + 4) + 8, 20 + 16 * i), line, fill=(255, 255, 255))
        rows.append(row)
    sheet = Image.new("RGB", (rows[0].width, sum(r.height for r in rows)), (128, 128, 128))
    y = 0
    for row in rows:
        sheet.paste(row, (0, y))
        y += row.height
    sheet.save(path)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--picture", help="also draw what each measure catches (PNG)")
    parser.add_argument("--sheet", action="append", default=[], metavar="PATH[:invert]",
                        help="a published glyph sheet to measure (read, not copied), e.g. noahtren/GlyphNet's "
                             "media/*.png; ':invert' for dark ink on a light ground")
    args = parser.parse_args()
    from zoo_glyphnet.metrics import glyph_measures

    sets = references()
    for spec in args.sheet:
        path, _, flag = spec.partition(":")
        cells = sheet_cells(path, invert=flag == "invert")
        sets[f"sheet {Path(path).name}{' inverted' if flag else ''}"] = cells
    sets.update(shipped())
    print("| images | P | MP26 | LC | S | ink | seconds |")
    print("|---|---|---|---|---|---|---|")
    for label, images in sets.items():
        t0 = time.perf_counter()
        f = glyph_measures(images)
        took = time.perf_counter() - t0
        print(f"| {label} ({len(images)} x {images.shape[1]} px{' rgb' if images.shape[-1] == 3 else ''}) "
              f"| {f['periodicity']:.3f} | {f['lattice']:.3f} | {f['largest_component']:.2f} "
              f"| {f['frame_ink']:.2f} | {f['ink']:.3f} | {took:.2f} |", flush=True)
    import os

    images = sets["glyphnet-64"]
    took = []
    for _ in range(5):
        t0 = time.perf_counter()
        glyph_measures(images)
        took.append(time.perf_counter() - t0)
    print(f"\nglyph_measures on glyphnet-64's 200 glyphs of 64 px: median of 5 {np.median(took):.2f} s "
          f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f})")
    if args.picture:
        picture({"letters DejaVu Sans 64 px": sets["letters DejaVuSans 64 px"],
                 "lattice (synthetic)": sets["lattice: 4x4 grid, half the cells on"],
                 **{k: sets[k] for k in SHIPPED}}, args.picture)


if __name__ == "__main__":
    main()
