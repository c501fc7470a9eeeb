"""``zoo random-cnn-grid``: the seed's soph x noise picture, its information table, and the sliders.

Light at import (click only): numpy, Pillow and Keras are imported when the command runs.
"""

from __future__ import annotations

import click

from zoo_core.config import MAX_SEED
from zoo_core.runtime.devices import device_option


@click.command("random-cnn-grid")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="FILE.png to write (not with --serve). "
              "Default: random-cnn-grid.png, as 'zoo sample' names its file after the model.")
@click.option("--n", "n", default=16, show_default=True, type=click.IntRange(2, 64),
              help="Grid resolution: soph = s*step, noise = q*step bits, step = (H*W*C*4 - 2) // n.")
@click.option("--size", "--height", "size", default=64, show_default=True, type=click.IntRange(8, 1024),
              help="Side of each square image (the notebook: 256).")
@click.option("--channels", default=1, show_default=True, type=click.Choice(["1", "3"]),
              help="1: grey; 3: colour (the notebook's channels = 3).")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, MAX_SEED),
              help="Seed of the weights and of the binary inputs.")
@click.option("--set", "pairs", multiple=True, metavar="KEY=VALUE",
              help="Another random-cnn config value for every cell, e.g. smoothing=none (repeatable).")
@click.option("--info", "info_path", type=click.Path(dir_okay=False),
              help="Also measure every cell's information (lossless coders vs budgets): print the "
                   "summary and write the per-cell table to this .json file.")
@click.option("--serve", is_flag=True, help="Instead of a grid: serve the two-slider explorer on 127.0.0.1.")
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535),
              help="Port of --serve (0: any free port).")
@device_option()
def grid_command(output: str | None, n: int, size: int, channels: str, seed: int, pairs: tuple[str, ...],
                 info_path: str | None, serve: bool, port: int, device: str) -> None:
    """Draw the random CNN's soph x noise triangle, as in the seed notebook.

    \b
    One image per cell (s, q) for s = 1..n-1 and q = 1..n-s, with
      soph  = s * step bits of weights  (rows: sophistication grows downward)
      noise = q * step bits of input    (columns: noise grows to the right)
      step  = (H * W * C * 4 - 2) // n  (4 bits per pixel channel)
    Cells above the anti-diagonal (soph + noise > the image's bits) stay white, and so does a
    cell whose budgets fit no architecture (reported at the end).

    \b
    --serve starts the notebook's interactive single_show instead: a local page with a
    compression slider ((soph + noise) / uncompressed) and a sophistication-share slider
    (soph / (soph + noise)) that redraws the image; Ctrl-C stops it.

    \b
    Examples:
      zoo random-cnn-grid -o grid.png --n 16 --size 64 --seed 0
      zoo random-cnn-grid -o grid.png --size 256 --channels 3 --info grid-info.json
      zoo random-cnn-grid --serve --size 256
    """
    from zoo_core.errors import ZooError

    if serve:
        if output or info_path:
            raise ZooError("--serve draws no grid: leave out -o and --info")
        _serve(size, int(channels), seed, port)
        return
    if output is not None and not output.strip():
        raise ZooError("-o/--output is empty; give a FILE.png")
    output = output or "random-cnn-grid.png"
    from zoo_core.io.files import check_suffix

    check_suffix(output, (".png",))
    if info_path:
        check_suffix(info_path, (".json",))
        _check_writable(info_path, "--info")
    _check_writable(output, "-o")
    from zoo_core.runtime.devices import resolve_device

    if device not in ("cpu", "auto"):  # a missing GPU is one line before any cell is drawn
        device = resolve_device(device, "keras")
    _grid(output, n, size, int(channels), seed, pairs, info_path, device)


def _check_writable(path: str, flag: str) -> None:
    """One line now, not after the grid is drawn, when ``path`` cannot be written."""
    import os
    from pathlib import Path

    from zoo_core.errors import ZooError

    target = Path(path)
    if target.is_dir():
        raise ZooError(f"{flag} {path}: is a folder; give a file name")
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    problem = None
    if not folder.is_dir():
        problem = f"{folder} is not a folder"
    elif target.exists() and not os.access(target, os.W_OK):
        problem = "permission denied"
    else:
        import tempfile

        try:  # a real write: permissions alone do not tell (root, read-only mounts, /proc)
            tempfile.TemporaryFile(dir=folder).close()
        except OSError as exc:
            problem = exc.strerror or type(exc).__name__
    if problem:
        raise ZooError(f"{flag} {path}: cannot write there ({problem})")


def _grid(output: str, n: int, size: int, channels: int, seed: int, pairs: tuple[str, ...],
          info_path: str | None, device: str = "cpu") -> None:
    import json
    import sys
    from pathlib import Path

    import numpy as np

    import zoo_core
    from zoo_core.errors import ConfigError, ZooError
    from zoo_random_cnn.architecture import grid_cells, uncompressed_bits

    overrides = zoo_core.get_family("random-cnn").config.parse_overrides(pairs)
    fixed = {"height", "width", "channels", "soph", "noise", "seed", "split"} & set(overrides)
    if fixed:
        raise ConfigError(f"--set cannot change {', '.join(sorted(fixed))}: the grid sets them")
    total = uncompressed_bits(size, size, channels)
    pad = 2
    cells = grid_cells(size, size, channels, n)
    margin = 14  # for the axis labels
    side = margin + (n - 1) * (size + pad)
    canvas = np.full((side, side, channels), 255, dtype=np.uint8)
    skipped, rows = [], []
    spec = zoo_core.get_family("random-cnn").config

    def fits(soph_bits: int, noise_bits: int) -> bool:  # the config's own check, without building a model
        try:
            spec.resolve({"height": size, "width": size, "channels": channels, "soph": soph_bits / total,
                          "noise": noise_bits / total, "seed": seed, **overrides})
        except ConfigError:
            return False
        return True

    if not any(fits(soph_bits, noise_bits) for _, _, soph_bits, noise_bits in cells):
        raise ZooError(f"no cell of the --n {n} --size {size} grid fits an architecture (its budgets are too small); "
                       "use a larger --size or --n")
    with click.progressbar(cells, label="random-cnn grid", file=sys.stderr) as bar:
        for s, q, soph_bits, noise_bits in bar:
            try:
                model = zoo_core.build("random-cnn", height=size, width=size, channels=channels, device=device,
                                       soph=soph_bits / total, noise=noise_bits / total, seed=seed, **overrides)
            except ConfigError:
                skipped.append((s, q))
                continue
            image = model.sample(1, seed=seed)
            top, left = margin + (s - 1) * (size + pad), margin + (q - 1) * (size + pad)
            canvas[top:top + size, left:left + size] = image[0]
            if info_path:
                rows.append({"s": s, "q": q, **_information(model, image)})
    if len(skipped) == len(cells):
        raise ZooError(f"no cell of the --n {n} --size {size} grid fits an architecture (its budgets are too small); "
                       "use a larger --size or --n")
    _save_with_labels(canvas, output, margin)
    note = f"; {len(skipped)} cells fit no architecture: {skipped}" if skipped else ""
    click.echo(f"wrote {len(cells) - len(skipped)} images ({n - 1}x{n - 1} triangle of {size}x{size}x{channels}) "
               f"to {output}{note}")
    if info_path and rows:
        from zoo_random_cnn.information import grid_statistics

        stats = grid_statistics(rows)
        Path(info_path).parent.mkdir(parents=True, exist_ok=True)
        Path(info_path).write_text(json.dumps({"summary": stats, "cells": rows}, indent=1) + "\n")
        click.echo(f"information of {stats['cells']} cells (best lossless coder / uncompressed): median "
                   f"{stats['median_frac']:.3f}, min {stats['min_frac']:.3f}, max {stats['max_frac']:.3f}; "
                   f"rank correlation with soph + noise {stats['rank_budget']:.3f} (soph alone "
                   f"{stats['rank_soph']:.3f}, noise alone {stats['rank_noise']:.3f}); low-budget cells "
                   f"(<= 1/4 of the bits) at most {stats['low_budget_max_frac']:.3f}; flat cells "
                   f"{stats['flat']}; table in {info_path}")


def _information(model, image) -> dict:
    a = model.architecture
    soph, noise = model.budgets
    from zoo_random_cnn.information import image_information

    return image_information(image, uncompressed=a.height * a.width * a.channels * 4, soph=soph, noise=noise,
                             parameters=a.parameters, bits_per_weight=a.bits_per_weight, input_bits=a.input_bits)


def _serve(size: int, channels: int, seed: int, port: int) -> None:
    from zoo_random_cnn.explorer import Explorer, describe, make_server

    explorer = Explorer(size, channels, seed)
    explorer.model(*_first_budgets(explorer))  # import keras and build once before answering
    try:
        server = make_server(explorer, port)
    except OSError as exc:
        from zoo_core.errors import ZooError

        raise ZooError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None
    click.echo(f"serving the random-cnn explorer on {describe(server)} (Ctrl-C stops)", err=False)
    import sys

    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    click.echo("stopped")


def _first_budgets(explorer) -> tuple[int, int]:
    from zoo_random_cnn.explorer import budgets

    return budgets(0.3125, 0.8, explorer.uncompressed)


def _save_with_labels(canvas, output: str, margin: int) -> None:
    """Write the grid with 'noise ->' along the top and 'soph ->' (reading downward) on the left."""
    from pathlib import Path

    from PIL import Image, ImageDraw

    image = Image.fromarray(canvas[:, :, 0] if canvas.shape[2] == 1 else canvas)
    ink = 0 if image.mode == "L" else (0, 0, 0)
    draw = ImageDraw.Draw(image)
    draw.text((margin + 2, 1), "noise ->", fill=ink)
    label = Image.new(image.mode, (60, margin - 2), 255 if image.mode == "L" else (255, 255, 255))
    ImageDraw.Draw(label).text((1, 0), "soph ->", fill=ink)
    image.paste(label.rotate(-90, expand=True), (1, margin + 2))
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    image.save(output, optimize=True)
