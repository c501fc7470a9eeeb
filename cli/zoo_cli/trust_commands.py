"""``zoo verify`` (golden samples) and ``zoo gallery`` (a static HTML page of the installed models).

Only click is imported at start-up; the work is in :mod:`zoo_core.media.golden` and :mod:`zoo_core.media.gallery`.
"""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("verify")
@click.argument("names", nargs=-1, metavar="[NAME...]")
@click.option("--write", is_flag=True,
              help="Record the digests as sample_sha256 in registry.json of this source checkout (after retraining).")
@click.option("--catalog", type=click.Path(),
              help="With --write: the catalog file to update instead of the checkout's registry.json.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def verify(names: tuple[str, ...], write: bool, catalog: str | None, as_json: bool) -> None:
    """Recompute each model's golden sample, the sha256 of sample(4, seed=0)'s bytes, and compare.

    One line per model: ok, DRIFT (exit status 1), unrecorded or skipped (framework missing).
    Without NAME, every catalog entry.
    """
    from zoo_core.media import golden

    if catalog and not write:
        from zoo_core.errors import ZooError

        raise ZooError("--catalog names the file that --write updates; add --write")
    target = Path(catalog) if catalog else (golden.source_catalog() if write else None)
    if target is not None:
        from zoo_core.catalog import read_catalog

        read_catalog(target, str(target))  # a missing or invalid file fails before anything is sampled
    checks = []
    for check in golden.iter_verify(names):
        checks.append(check)
        if not as_json:
            click.echo(check.line())
    if as_json:
        click.echo(json.dumps([c.to_dict() for c in checks], indent=2))
    if write:
        assert target is not None  # --write always has a catalog (checked above)
        changed = golden.write_hashes(checks, target)
        click.echo(f"recorded sample_sha256 of {', '.join(changed)} in {target}" if changed
                   else f"{target} already records every digest", err=as_json)
        return
    if any(c.status == "drift" for c in checks):
        raise SystemExit(1)


@click.command("gallery")
@click.argument("patterns", nargs=-1, metavar="[PATTERN...]")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(),
              help="Folder for index.html, images/ and gallery.json.")
@click.option("--eval/--no-eval", "evaluate", default=True, show_default=True,
              help="Run each model's evaluation for the eval figures.")
def gallery(patterns: tuple[str, ...], out_dir: str, evaluate: bool) -> None:
    """Write a static HTML page with one section per installed model: samples, card facts, eval figures.

    PATTERN (fnmatch, e.g. 'glyph*') limits the models; default: all.
    """
    from zoo_core.media.gallery import build_gallery

    index = build_gallery(out_dir, patterns, evaluate=evaluate,
                          progress=lambda name: click.echo(f"  {name}", err=True))
    click.echo(f"wrote {index}")
