"""``zoo reconstruct``: a grid of originals over their reconstructions (and the learnt logistic scale).

Only click and light zoo_core parts are imported here; numpy, Keras and the data are imported
in the command body, so ``zoo --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

import click

from zoo_core.config import MAX_SEED
from zoo_core.errors import ZooError
from zoo_core.runtime.devices import device_option


def add_commands(cli: click.Group) -> None:
    """Attach the plugin's commands to the root ``zoo`` group."""

    @cli.command("reconstruct")
    @click.argument("name")
    @click.option("--data", help="Images to reconstruct: a dataset spec (glyphs-28, ...), .npy/.npz or a folder. "
                  "Default: the test split of the model's training dataset.")
    @click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="FILE.png (the grid).")
    @click.option("-n", "--num", "n", default=16, show_default=True, type=click.IntRange(1, 256),
                  help="How many images.")
    @click.option("--seed", default=0, show_default=True, type=click.IntRange(0, MAX_SEED),
                  help="Which images to pick (random draw).")
    @click.option("--scale", "scale_png", type=click.Path(dir_okay=False),
                  help="Also write the learnt scale of a logistic-likelihood VAE as FILE.png "
                  "(log scale; white = largest).")
    @device_option()
    def reconstruct_cmd(name: str, data: str | None, output: str, n: int, seed: int, scale_png: str | None,
                        device: str) -> None:
        """Reconstruct images with autoencoder NAME: rows of originals above rows of reconstructions."""
        reconstruct(name, data, output, n, seed, scale_png, device)


def reconstruct(name: str, data: str | None, output: str, n: int, seed: int, scale_png: str | None,
                device: str) -> None:
    """``zoo reconstruct``: write the grid of ``n`` originals over their reconstructions (and the scale)."""
    import numpy as np

    import zoo_core
    from zoo_core.io.files import check_suffix
    from zoo_core.media.images import save_images

    for path in (output, scale_png):
        if path is not None:
            check_suffix(path, (".png",))
    model: Any = zoo_core.load(name, device=device)  # any family: probed for reconstruct below
    if not hasattr(model, "reconstruct"):
        raise ZooError(f"model '{name}' (family {model.family_name}) cannot reconstruct images; "
                       "use a vae or ae model")
    scale = model.output_scale() if hasattr(model, "output_scale") else None
    if scale_png is not None and scale is None:
        raise ZooError(f"model '{name}' has no learnt scale (--scale needs likelihood=logistic)")
    images = model.images_for(data, "test")
    pick = np.sort(np.random.default_rng(seed).choice(len(images), size=min(n, len(images)), replace=False))
    originals = images[pick]
    recon = model.reconstruct(originals)
    cols = min(len(originals), 8)
    save_images(reconstruction_grid(originals, recon, cols), output, ncols=cols)
    err = float(np.mean((originals.astype(np.float32) - recon.astype(np.float32)) ** 2) / 255.0 ** 2)
    click.echo(f"wrote {len(originals)} originals over their reconstructions to {output} "
               f"(mse per pixel {err:.4f})")
    if scale_png is not None:
        write_scale(scale, scale_png)


def reconstruction_grid(originals, recon, cols: int):
    """Rows of ``cols`` originals, each above its row of reconstructions; a short last row padded with white."""
    import numpy as np

    rows = []
    for start in range(0, len(originals), cols):  # each row of originals, then its reconstructions
        chunk = slice(start, start + cols)
        for part in (originals[chunk], recon[chunk]):
            pad = cols - len(part)
            rows.append(np.concatenate([part, np.full((pad, *part.shape[1:]), 255, np.uint8)]) if pad else part)
    return np.concatenate(rows)


def write_scale(scale, scale_png: str) -> None:
    """Write the learnt logistic scale as a log-scale picture, and say its range in grey levels."""
    from zoo_core.media.images import save_images, upscale

    save_images(upscale(scale_picture(scale)[None], 224), scale_png)
    levels = scale * 255.0
    click.echo(f"wrote the learnt logistic scale to {scale_png} (logarithmic: black {levels.min():.2f}, "
               f"white {levels.max():.2f} grey levels; mean {levels.mean():.2f})")

def scale_picture(scale):
    """The learnt scale ``(H, W, C)`` as uint8: log-scale from its minimum (black) to its maximum (white).

    Logarithmic, because the scale spans orders of magnitude (a fraction of a grey level where
    every image agrees, tens of levels where the decoder is unsure)."""
    import numpy as np

    log = np.log(np.maximum(scale, 1e-12))
    lo, hi = float(log.min()), float(log.max())
    unit = (log - lo) / (hi - lo) if hi > lo else np.zeros_like(log)
    return np.rint(unit * 255.0).astype(np.uint8)
