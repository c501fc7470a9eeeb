"""``zoo pull``, ``zoo push`` and ``zoo cache``: models on the Hugging Face Hub.

Only click is imported at start-up; :mod:`zoo_core.hub` (which itself imports huggingface_hub
only when it downloads or uploads) is imported when one of these commands runs, so that
``zoo --help`` and ``zoo list`` stay fast.
"""

from __future__ import annotations

import json

import click


@click.command("pull")
@click.argument("ref", metavar="hf://ORG/REPO[@REVISION]")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def pull(ref: str, quiet: bool) -> None:
    """Download a model from the Hugging Face Hub into its cache, verify it and pin its commit.

    Later, hf://ORG/REPO (without @REVISION) means the pinned commit in every command, offline
    included. Pull again to move the pin to the newest commit.
    """
    from zoo_core import hub

    parsed = hub.parse_ref(ref)
    folder, commit = hub.pull(parsed, progress=not quiet)
    click.echo(f"pulled {parsed} -> commit {commit} ({folder})")


@click.command("push")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--repo", "repo_id", required=True, metavar="ORG/NAME", help="Hub repository to publish to.")
@click.option("--private", is_flag=True, help="Create the repository as private.")
@click.option("--revision", metavar="BRANCH", help="Branch to commit to (created if missing). Default: main.")
@click.option("-m", "--message", help="Commit message.")
@click.option("--eval", "evaluate", is_flag=True,
              help="Run the model's evaluation now and put the figures in the card.")
def push(directory: str, repo_id: str, private: bool, revision: str | None, message: str | None,
         evaluate: bool) -> None:
    """Publish a saved model DIRECTORY: config.json, model.safetensors, a model card and sample grids.

    The card's metadata carries eval results (model-index: --eval, DIRECTORY/eval.json from
    'zoo eval NAME --json', or the run's metrics), the training recipe, datasets and base_model
    from DIRECTORY/run.json, and a gallery of four seeds. Needs a token with write access:
    HF_TOKEN or 'hf auth login'.
    """
    from zoo_core import hub
    from zoo_core.hub.publishing import push

    url = push(directory, repo_id, private=private, revision=revision, message=message, evaluate=evaluate)
    click.echo(f"pushed {directory} to hf://{hub.parse_ref(repo_id).repo_id}: {url}")


@click.group("cache")
def cache() -> None:
    """Models that zoo pulled from the Hugging Face Hub (pins and cached files)."""


def _size(num: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if num < 1024 or unit == "GB":
            return f"{num:.0f} {unit}" if unit == "B" else f"{num:.1f} {unit}"
        num /= 1024
    return f"{num} B"  # pragma: no cover


@cache.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def cache_list(as_json: bool) -> None:
    """Show every pulled model: reference, pinned revision and commit, size, whether files are cached."""
    from zoo_core import hub

    models = hub.cached_models()
    if as_json:
        click.echo(json.dumps([m.to_dict() for m in models], indent=2))
        return
    if not models:
        click.echo(f"nothing pulled yet (cache: {hub.cache_dir()}); try 'zoo pull hf://ORG/REPO'")
        return
    from zoo_core.util.render import table_lines

    rows = [(f"hf://{m.repo_id}", m.revision or "main", m.commit[:12], _size(m.size),
              "yes" if m.present else "no: run 'zoo pull'", m.pulled_at) for m in models]
    click.echo("\n".join(table_lines(("REF", "REVISION", "COMMIT", "SIZE", "CACHED", "PULLED"), rows)))


@cache.command("clear")
@click.argument("ref", required=False, metavar="[hf://ORG/REPO]")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation when clearing everything.")
def cache_clear(ref: str | None, yes: bool) -> None:
    """Delete a pulled model (or, without REF, every model zoo pulled) from the cache and forget its pin."""
    from zoo_core import hub

    if ref is None and not yes:
        count = len(hub.read_pins())
        if count == 0:
            click.echo("nothing to clear")
            return
        click.confirm(f"delete all {count} model(s) zoo pulled from {hub.cache_dir()}?", abort=True)
    cleared = hub.clear(ref)
    click.echo("cleared " + (", ".join(cleared) if cleared else "nothing"))
