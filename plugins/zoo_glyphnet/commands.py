"""glyphnet's commands: ``zoo glyph-alphabet`` (a labelled sheet of every symbol) and
``zoo glyph-experiment`` (the post's three usefulness experiments).

Only click and light zoo_core parts are imported here; torch and the models are imported in the
command bodies, so ``zoo --help`` stays fast.
"""

from __future__ import annotations

import json
from typing import Any

import click

from zoo_core.config import MAX_SEED
from zoo_core.errors import ZooError
from zoo_core.runtime.devices import device_option

#: most symbols one alphabet sheet shows
MAX_SHEET = 4096


def labelled_sheet(images, labels: list[str], cols: int):
    """uint8 ``(n, H, W, C)`` glyphs -> one uint8 ``(height, width, C)`` sheet, each glyph above its label."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    n, h, w, c = images.shape
    font = ImageFont.load_default()
    strip = 12
    cell_w = max(w, 8 * max(len(t) for t in labels)) + 4
    rows = -(-n // cols)
    mode, white, black = ("RGB", (255, 255, 255), (0, 0, 0)) if c == 3 else ("L", 255, 0)
    sheet = Image.new(mode, (cols * cell_w, rows * (h + strip + 4)), color=white)
    draw = ImageDraw.Draw(sheet)
    for i in range(n):
        x0, y0 = (i % cols) * cell_w + (cell_w - w) // 2, (i // cols) * (h + strip + 4) + 2
        glyph = images[i] if c == 3 else images[i, :, :, 0]
        sheet.paste(Image.fromarray(np.ascontiguousarray(glyph)), (x0, y0))
        draw.text(((i % cols) * cell_w + 2, y0 + h + 1), labels[i], fill=black, font=font)
    out = np.asarray(sheet)
    return out if c == 3 else out[..., None]


def add_commands(cli: click.Group) -> None:
    """Attach the plugin's commands to the root ``zoo`` group."""

    @cli.command("glyph-alphabet")
    @click.argument("name")
    @click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="FILE.png (the sheet).")
    @click.option("--cols", default=16, show_default=True, type=click.IntRange(1, 256), help="Symbols per row.")
    @click.option("--json", "as_json", is_flag=True, help="Also print the sheet's figures as JSON.")
    def alphabet_cmd(name: str, output: str, cols: int, as_json: bool) -> None:
        """Draw every symbol of a discrete glyphnet NAME (message onehot or binary) as a labelled sheet.

        Prints the smallest Hamming ratio between two symbols' binarised glyphs (their Hamming
        distance over that of independent images with the same ink).
        """
        import numpy as np

        import zoo_core
        from zoo_core.io.files import check_suffix
        from zoo_core.media.images import save_images
        from zoo_glyphnet.metrics import binarise, glyph_statistics, pairwise_hamming

        check_suffix(output, (".png",))
        model: Any = zoo_core.load(name)  # any family: probed for glyphnet's message_mode below
        if getattr(model, "message_mode", None) == "onehot":
            k = model.latent_size
            messages, labels = model.encode_symbols(np.arange(k)), [str(i) for i in range(k)]
        elif getattr(model, "message_mode", None) == "binary":
            bits = model.latent_size
            if 2 ** bits > MAX_SHEET:
                raise ZooError(f"model '{name}' has 2^{bits} symbols; a sheet shows at most {MAX_SHEET}")
            codes = (np.arange(2 ** bits)[:, None] >> np.arange(bits - 1, -1, -1)) & 1
            messages, labels = (2.0 * codes - 1.0).astype(np.float32), ["".join(map(str, c)) for c in codes]
        else:
            raise ZooError(f"model '{name}' has no alphabet: its messages are continuous "
                           "(train one with --set message=onehot or message=binary)")
        if len(messages) > MAX_SHEET:
            raise ZooError(f"model '{name}' has {len(messages)} symbols; a sheet shows at most {MAX_SHEET}")
        images = model.decode(messages)
        save_images(labelled_sheet(images, labels, min(cols, len(labels)))[None], output)
        binary = binarise(images)
        ham = pairwise_hamming(binary)
        stats = glyph_statistics(binary)
        independent = 2 * stats["ink"] * (1 - stats["ink"])
        np.fill_diagonal(ham, np.inf)
        i, j = np.unravel_index(np.argmin(ham), ham.shape)
        closest = float(ham[i, j] / independent) if independent > 0 else 0.0
        click.echo(f"wrote {len(messages)} symbols to {output}; closest pair {labels[i]} / {labels[j]}: "
                   f"Hamming ratio {closest:.3f}")
        if as_json:
            click.echo(json.dumps({"model": name, "symbols": len(messages), "min_hamming_ratio": closest,
                                   "closest_pair": [labels[i], labels[j]], **stats}))

    @cli.command("glyph-experiment")
    @click.argument("name")
    @click.argument("experiment", type=click.Choice(["reconstruct", "probe", "optimise"]))
    @click.option("--data", help="Labelled images: a dataset spec (digits-28, glyphs-28, ...) or a .npy/.npz/folder. "
                  "Default: glyphs rendered from Pillow's font.")
    @click.option("-n", "--num", "n", default=2000, show_default=True, type=click.IntRange(2, 100_000),
                  help="Training images (probe), or images to reconstruct / reproduce (at most 64 drawn).")
    @click.option("--steps", default=500, show_default=True, type=click.IntRange(1, 100_000),
                  help="Optimisation steps (probe, optimise).")
    @click.option("-o", "--output", type=click.Path(dir_okay=False),
                  help="FILE.png: originals over reconstructions (reconstruct), targets over the trained and "
                  "the random generator's images (optimise).")
    @click.option("--seed", default=0, show_default=True, type=click.IntRange(0, MAX_SEED))
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @device_option()
    def experiment_cmd(name: str, experiment: str, data: str | None, n: int, steps: int, output: str | None,
                       seed: int, as_json: bool, device: str) -> None:
        """Run one of the post's experiments on glyphnet NAME: reconstruct, probe or optimise."""
        import numpy as np

        import zoo_core
        from zoo_core.io.files import check_suffix
        from zoo_core.media.images import save_images

        if output is not None:
            check_suffix(output, (".png",))
        model = zoo_core.load(name, device=device)
        if model.family_name != "glyphnet":
            raise ZooError(f"model '{name}' is a {model.family_name} model; glyph-experiment needs a glyphnet")
        import torch

        from zoo_glyphnet import experiments as ex

        torch.manual_seed(seed)
        shown = min(n, 64) if experiment != "probe" else 0
        if experiment == "probe":
            train = ex.load_images(model, data, "train", n, seed)
            test = ex.load_images(model, data, "test", max(2, n // 4), seed)
            result = ex.probe(model, train, test, steps=steps, seed=seed)
            pictures = None
        else:
            images, labels = ex.load_images(model, data, "test", max(n, 2), seed)
            images, labels = images[:shown], labels[:shown]
            if experiment == "reconstruct":
                result = ex.reconstruct(model, images, labels)
                pictures = [images, result.pop("reconstructions")]
            else:
                result = ex.optimise(model, images, steps=steps, seed=seed)
                pictures = [images, result.pop("images_trained"), result.pop("images_random")]
        if output is not None and pictures is not None:
            cols = min(len(pictures[0]), 16)
            rows = []
            for start in range(0, len(pictures[0]), cols):
                for part in pictures:
                    chunk = part[start:start + cols]
                    pad = cols - len(chunk)
                    rows.append(np.concatenate([chunk, np.full((pad, *chunk.shape[1:]), 255, np.uint8)])
                                if pad else chunk)
            save_images(np.concatenate(rows), output, ncols=cols)
        result = {"model": name, "experiment": experiment, "data": data or "glyphs (Pillow's font)",
                  "images": shown or result.get("train_images"), **result}
        if as_json:
            click.echo(json.dumps(result))
            return
        for key, value in result.items():
            if not key.startswith("curve_"):
                click.echo(f"{key:28} {value:.4f}" if isinstance(value, float) else f"{key:28} {value}")
        if output is not None and pictures is not None:
            click.echo(f"wrote {output}")
