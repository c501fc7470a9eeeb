"""``zoo random-cnn-grid``: the seed's soph x noise picture. Light at import (click only)."""

from __future__ import annotations

import click


@click.command("random-cnn-grid")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="FILE.png to write.")
@click.option("--n", "n", default=16, show_default=True, type=click.IntRange(2, 64),
              help="Grid resolution: soph = s*step, noise = q*step bits, step = (H*W*4 - 2) // n.")
@click.option("--height", default=64, show_default=True, type=click.IntRange(8, 1024),
              help="Side of each (square, grey) image.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**62),
              help="Seed of the weights and of the binary inputs.")
def grid_command(output: str, n: int, height: int, seed: int) -> None:
    """Draw the random CNN's soph x noise triangle, as in the seed notebook.

    \b
    One image per cell (s, q) for s = 1..n-1 and q = 1..n-s, with
      soph  = s * step bits of weights  (rows: sophistication grows downward)
      noise = q * step bits of input    (columns: noise grows to the right)
      step  = (H * W * 4 - 2) // n      (4 bits per pixel, grey images)
    Cells above the anti-diagonal (soph + noise > the image's bits) stay white, and so does a
    cell whose budgets fit no architecture (reported at the end).

    \b
    Example:
      zoo random-cnn-grid -o grid.png --n 16 --height 64 --seed 0
    """
    import sys
    from pathlib import Path

    import numpy as np

    import zoo_core
    from zoo_core.errors import ConfigError, ZooError
    from zoo_random_cnn.architecture import grid_cells, uncompressed_bits

    if Path(output).suffix.lower() != ".png":
        raise ZooError(f"cannot write '{output}': use a .png file")
    total = uncompressed_bits(height, height, 1)
    pad, size = 2, height
    cells = grid_cells(height, height, 1, n)
    margin = 14  # for the axis labels
    canvas = np.full((margin + (n - 1) * (size + pad), margin + (n - 1) * (size + pad)), 255, dtype=np.uint8)
    skipped = []
    with click.progressbar(cells, label="random-cnn grid", file=sys.stderr) as bar:
        for s, q, soph_bits, noise_bits in bar:
            try:
                model = zoo_core.build("random-cnn", height=height, width=height, channels=1,
                                       soph=soph_bits / total, noise=noise_bits / total, seed=seed)
            except ConfigError:
                skipped.append((s, q))
                continue
            image = model.sample(1, seed=seed)[0, :, :, 0]
            top, left = margin + (s - 1) * (size + pad), margin + (q - 1) * (size + pad)
            canvas[top:top + size, left:left + size] = image
    _save_with_labels(canvas, output, margin)
    note = f"; {len(skipped)} cells fit no architecture: {skipped}" if skipped else ""
    click.echo(f"wrote {len(cells) - len(skipped)} images ({n - 1}x{n - 1} triangle of {height}x{height}) "
               f"to {output}{note}")


def _save_with_labels(canvas, output: str, margin: int) -> None:
    """Write the grid with 'noise ->' along the top and 'soph ->' (reading downward) on the left."""
    from pathlib import Path

    from PIL import Image, ImageDraw

    image = Image.fromarray(canvas, mode="L")
    draw = ImageDraw.Draw(image)
    draw.text((margin + 2, 1), "noise ->", fill=0)
    label = Image.new("L", (60, margin - 2), 255)
    ImageDraw.Draw(label).text((1, 0), "soph ->", fill=0)
    image.paste(label.rotate(-90, expand=True), (1, margin + 2))
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    image.save(output, optimize=True)
