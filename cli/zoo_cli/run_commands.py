"""``zoo plot``: loss curves of run folders (the drawing lives in :mod:`zoo_core.media.curves`)."""

from __future__ import annotations

import click


@click.command("plot")
@click.argument("runs", nargs=-1, required=True, metavar="RUN [RUN...]")
@click.option("-o", "--output", default="curves.png", show_default=True, type=click.Path(dir_okay=False),
              help="The PNG to write.")
@click.option("--engine", default="auto", show_default=True, type=click.Choice(["auto", "matplotlib", "pillow"]),
              help="auto: matplotlib when installed, else Pillow.")
def plot(runs: tuple[str, ...], output: str, engine: str) -> None:
    """Draw the per-step curves (loss, the family's other metrics, lr) of one or more run folders."""
    from zoo_core.io.files import check_suffix
    from zoo_core.media.curves import plot_runs

    check_suffix(output, (".png",))
    path = plot_runs(runs, output, engine=engine)
    click.echo(f"wrote the curves of {len(runs)} run{'s' if len(runs) > 1 else ''} to {path}")
