"""The filter-visualiser commands: ``zoo layers``, ``zoo visualize``, ``zoo activations``.

Only click and light zoo_core modules are imported here; numpy, Pillow and the model's framework
are imported inside the command bodies, so ``zoo --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from zoo_core.config import MAX_SEED
from zoo_core.io.files import IMAGE_SUFFIXES, check_suffix
from zoo_core.runtime.devices import device_option

_THREADS = click.option(
    "--threads", default=1, show_default=True, type=click.IntRange(0, 256),
    help="torch CPU threads (0: torch's default). Small probes run fastest on one thread; on a busy "
         "2-core machine 16 conv_3 channels took 5 s with 1 thread and 64 s with 2.")


def _set_threads(threads: int) -> None:
    import sys

    if threads and "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def _probe(name: str, threads: int = 0, device: str | None = None):
    """The probe of a catalog model, a saved directory, or a family (fresh weights), on ``device``."""
    import zoo_core
    from zoo_filterviz.probes import probe_for

    target = zoo_core.resolve(name)  # once: catalog entry, family, saved or run folder, hf:// model
    if target.kind == "family":
        model = zoo_core.build(target, device=device)
    else:
        model = zoo_core.load(target, device=device)
    _set_threads(threads)
    return probe_for(model)


def _shape(shape: tuple) -> str:
    return "x".join(str(s) for s in shape)


@click.command("layers")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def layers_cmd(name: str, as_json: bool) -> None:
    """List the conv layers of model NAME with their output shapes (H x W x C)."""
    probe = _probe(name)
    infos = probe.layers()
    if as_json:
        import json

        click.echo(json.dumps({"model": name, "framework": probe.framework, "input_shape": list(probe.input_shape),
                               "layers": [{"name": i.name, "kind": i.kind, "output_shape": list(i.output_shape),
                                           "channels": i.channels} for i in infos]}, indent=2))
        return
    from zoo_core.util.render import table_lines

    click.echo(f"input {_shape(probe.input_shape)} (H x W x C, {probe.framework})")
    rows = [(i.name, i.kind, _shape(i.output_shape), i.channels) for i in infos]
    click.echo("\n".join(table_lines(("LAYER", "KIND", "OUTPUT (HxWxC)", "CHANNELS"), rows)))


@click.command("visualize")
@click.argument("name")
@click.option("--layer", "-l", required=True, help="Layer name (see 'zoo layers NAME').")
@click.option("--channels", "-c", help="Channels: 0:16, 0:64:4, 3, 1,5,9 or all.  [default: the first 16]")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="FILE.png (grid), .npy or .npz.")
@click.option("--steps", type=click.IntRange(1, 100000), help="Maximum ascent steps (default: the recipe's).")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, MAX_SEED),
              help="Seed of the random start images.")
@click.option("--recipe", default="default", show_default=True, type=click.Choice(["default", "seed"]),
              help="'seed': the article's plain recipe (no transforms, no regulariser).")
@click.option("--epsilon", type=float, help="Step size (standardised pixel units).")
@click.option("--jitter", type=click.IntRange(0, 64), help="Max random shift in pixels per step (0: off).")
@click.option("--rotate", type=click.FloatRange(0, 180), help="Max random rotation in degrees (0: off).")
@click.option("--scale-jitter", type=click.FloatRange(0, 0.9), help="Max relative random rescaling (0: off).")
@click.option("--tv", "tv_weight", type=click.FloatRange(0), help="Total-variation penalty weight (0: off).")
@click.option("--fourier/--pixels", default=None, help="Optimise a 1/f-scaled Fourier spectrum, or pixels.")
@click.option("--snapshots", is_flag=True,
              help="Also write FILE-snapshots.png: each channel's pattern at steps 0, n, 2n, 4n, ... (one row each).")
@click.option("--size", default=84, show_default=True, type=click.IntRange(8, 1024),
              help="Minimum tile side in the PNG (nearest-neighbour upscaling).")
@_THREADS
@device_option()
def visualize_cmd(name: str, layer: str, channels: str | None, output: str, steps: int | None, seed: int, recipe: str,
                  epsilon: float | None, jitter: int | None, rotate: float | None, scale_jitter: float | None,
                  tv_weight: float | None, fourier: bool | None, snapshots: bool, size: int, threads: int,
                  device: str) -> None:
    """Write, for each channel of LAYER, the input pattern that makes its feature map fire most."""
    check_suffix(output, IMAGE_SUFFIXES)
    from zoo_core.runtime.progress import Progress
    from zoo_filterviz.ascent import ascend
    from zoo_filterviz.probes import parse_channels
    from zoo_filterviz.recipe import make_recipe

    plan = make_recipe(recipe, steps=steps, epsilon=epsilon, jitter=jitter, rotate=rotate,
                       scale_jitter=scale_jitter, tv_weight=tv_weight, fourier=fourier)  # checked before loading
    probe = _probe(name, threads, device)
    info = probe.layer(layer)
    text = channels if channels is not None else f"0:{min(16, info.channels)}"  # "" is an empty list: refused
    chosen = probe.check_channels(layer, parse_channels(text, info.channels))
    progress = Progress(plan.steps)
    try:
        result = ascend(probe, layer, chosen, plan, seed=seed, snapshots=snapshots,
                        callback=lambda step, logs: progress(min(step, plan.steps), logs))
    finally:
        progress.close()
    path = _write(result.images, output, size)
    click.echo(f"wrote {len(chosen)} patterns of {layer} ({_shape(probe.input_shape)}) to {path}")
    _summarise(result)
    if snapshots:
        _write_snapshots(result, output, size)


def _summarise(result) -> None:
    """One line of numbers: mean activation before and after, channels at >= 10x, dead, retried, speed."""
    import numpy as np

    n = len(result.channels)
    fired = int(np.sum((result.gain >= 10) & (result.final > 0)))
    click.echo(f"mean activation {np.mean(result.start):.4g} -> {np.mean(result.final):.4g}; "
               f"{fired}/{n} channels >= 10x their random start; "
               f"dead maps: {int(result.dead.sum())}; retried: {int((result.attempts > 1).sum())}; "
               f"{result.seconds / n:.2f} s/channel")


def _write_snapshots(result, output: str, size: int) -> None:
    """``FILE-snapshots.png``: one row per channel, one column per snapshot step."""
    import numpy as np

    strip_path = Path(output).with_name(Path(output).stem + "-snapshots.png")
    steps_taken = sorted(result.snapshots)
    strip = np.stack([result.snapshots[s] for s in steps_taken], axis=1)  # (N, S, H, W, C)
    _write(strip.reshape(-1, *strip.shape[2:]), str(strip_path), size, ncols=len(steps_taken))
    click.echo(f"wrote snapshots at steps {', '.join(map(str, steps_taken))} to {strip_path}")


def _write(images, output: str, size: int, ncols: int | None = None) -> Path:
    from zoo_core.media.images import save_images, upscale
    from zoo_filterviz.transforms import to_display

    display = to_display(images)
    if Path(output).suffix.lower() == ".png":
        display = upscale(display, size)
        return save_images(display, output, ncols=ncols)
    return save_images(display, output)


@click.command("activations")
@click.argument("name")
@click.option("--image", "-i", "image_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Input image (any Pillow format); converted and resized to the model's input.")
@click.option("--layer", "-l", required=True, help="Layer name (see 'zoo layers NAME').")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="FILE.png (grid), .npy or .npz.")
@click.option("--size", default=56, show_default=True, type=click.IntRange(8, 1024),
              help="Minimum tile side in the PNG.")
@_THREADS
@device_option()
def activations_cmd(name: str, image_path: str, layer: str, output: str, size: int, threads: int,
                    device: str) -> None:
    """Show the feature maps of LAYER that one input image produces (one shared brightness scale)."""
    check_suffix(output, IMAGE_SUFFIXES)
    import numpy as np
    from PIL import Image

    from zoo_core.media.images import read_image, save_images, upscale

    probe = _probe(name, threads, device)
    probe.layer(layer)
    h, w, c = probe.input_shape
    pic = read_image(image_path).convert("L" if c == 1 else "RGB").resize((w, h), Image.Resampling.BILINEAR)
    pixels = np.asarray(pic, dtype=np.uint8).reshape(1, h, w, c)
    maps = probe.activations(probe.prepare(pixels), layer)[0]  # (h, w, C)
    lo, hi = float(min(maps.min(), 0.0)), float(maps.max())
    tiles = np.clip(np.rint((maps - lo) / max(hi - lo, 1e-12) * 255), 0, 255).astype(np.uint8)
    tiles = tiles.transpose(2, 0, 1)[..., None]  # (C, h, w, 1)
    if Path(output).suffix.lower() == ".png":
        path = save_images(upscale(tiles, size), output)
    else:
        path = save_images(maps.transpose(2, 0, 1)[..., None].astype(np.float32), output)
    means = maps.mean(axis=(0, 1))
    top = np.argsort(-means)[:5]
    click.echo(f"wrote {maps.shape[-1]} feature maps ({maps.shape[0]}x{maps.shape[1]}) of {layer} to {path}")
    click.echo("strongest channels: " + ", ".join(f"{int(k)} ({means[k]:.3g})" for k in top))


def add_commands(cli: click.Group) -> None:
    """Attach the three commands to the root ``zoo`` group."""
    for command in (layers_cmd, visualize_cmd, activations_cmd):
        cli.add_command(command)
