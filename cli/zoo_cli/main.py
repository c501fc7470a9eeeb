"""``zoo``: list, inspect, sample, train, interpolate and evaluate models; plugins add commands.

Only :mod:`click` and the light parts of :mod:`zoo_core` are imported at start-up: ``zoo list``,
``zoo info``, ``zoo plugins`` and ``zoo --help`` never import a deep-learning framework.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

import zoo_core
from zoo_cli.hub_commands import cache, pull, push
from zoo_cli.plugin_commands import plugin
from zoo_cli.run_commands import plot
from zoo_cli.trust_commands import gallery, verify
from zoo_core.config import MAX_SEED, MAX_STEPS
from zoo_core.errors import ZooError
from zoo_core.io.files import ANIMATION_SUFFIXES, IMAGE_SUFFIXES, check_suffix
from zoo_core.runtime.devices import device_option

#: every --seed: a non-negative integer that every framework accepts
SEED = click.IntRange(0, MAX_SEED)


class OneLineError(click.ClickException):
    """A usage error shown as one line, ``zoo: error: ...``, with exit status 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"zoo: error: {self.message}", err=True)


def _one_line(exc: click.ClickException) -> OneLineError:
    """Click's multi-line usage error (usage, hint, message) as one line naming the command."""
    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and isinstance(exc, click.UsageError):
        message = f"{ctx.command_path}: {message[:1].lower()}{message[1:]} (see '{ctx.command_path} --help')"
    return OneLineError(message)


def _help_request(exc: click.ClickException) -> bool:
    return type(exc).__name__ == "NoArgsIsHelpError"  # click >= 8.2: 'zoo' alone shows the help


class ZooGroup(click.Group):
    """Root group: every user error (:class:`ZooError`, click's usage errors) is one line on stderr, exit 2."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.ClickException as exc:
            if isinstance(exc, OneLineError) or _help_request(exc):
                raise
            raise _one_line(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            if isinstance(exc, OneLineError) or _help_request(exc):
                raise
            raise _one_line(exc) from None
        except ZooError as exc:
            click.echo(f"zoo: error: {exc}", err=True)
            ctx.exit(getattr(exc, "exit_code", 2))
        except OSError as exc:  # unwritable output, full disk, missing folder...
            name = str(exc.filename) if exc.filename else ""
            name = name if len(name) <= 200 else f"{name[:100]}...{name[-60:]} ({len(name)} characters)"
            where = f": {name}" if name else ""
            click.echo(f"zoo: error: {exc.strerror or exc}{where}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt:
            click.echo("zoo: interrupted", err=True)
            ctx.exit(130)


def complete_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
    """Shell completion of NAME: catalog model names, then folders (run folders, saved models)."""
    from click.shell_completion import CompletionItem

    try:
        names = [m.name for m in zoo_core.list_models() if m.name.startswith(incomplete)]
    except ZooError:  # a broken catalog: complete paths only
        names = []
    return [CompletionItem(n) for n in names] + [CompletionItem(incomplete, type="dir")]


def complete_train_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
    """Shell completion of ``zoo train NAME``: trainable families and catalog names, then folders."""
    from click.shell_completion import CompletionItem

    try:
        families = [f.name for f in zoo_core.list_families() if f.trainable and f.name.startswith(incomplete)]
    except ZooError:
        families = []
    return [CompletionItem(n) for n in families] + complete_names(ctx, param, incomplete)


def _fail(message: str) -> None:
    raise ZooError(message)


def _json_out(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@click.group(cls=ZooGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(zoo_core.__version__, "--version", prog_name="zoo")
def cli() -> None:
    """A zoo of small generative image models behind one interface.

    \b
    Quick start:
      zoo list                         models of every installed plugin
      zoo sample glyphnet-64 -o g.png  a grid of generated images
      zoo plugins                      what each plugin provides, and errors

    Shell completion: eval "$(_ZOO_COMPLETE=bash_source zoo)" (zsh_source, fish_source).
    """


# ---------------------------------------------------------------------------------------------
# Listing and inspection (no framework import)


@cli.command("list")
@click.argument("pattern", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--hub", "on_hub", is_flag=True, help="Models on the Hugging Face Hub (library_name: zoo), "
              "community uploads included; honours HF_ENDPOINT.")
@click.option("--limit", type=click.IntRange(1), help="With --hub: at most this many models.")
def list_cmd(pattern: str | None, as_json: bool, on_hub: bool, limit: int | None) -> None:
    """List models, optionally filtered by an fnmatch PATTERN such as 'glyph*'."""
    from zoo_cli.present import model_rows

    if on_hub:
        return _list_hub(pattern, as_json, limit)
    entries = zoo_core.list_models(pattern)
    if as_json:
        _json_out(model_rows(entries))
        return
    if not entries:
        click.echo("no models" + (f" match '{pattern}'" if pattern else " (are plugins disabled? see 'zoo plugins')"))
        return
    rows = [(r["name"], r["family"], r["framework"], r["plugin"], "yes" if r["weights_local"] else "no",
             r["description"]) for r in model_rows(entries)]
    _table(("NAME", "FAMILY", "FRAMEWORK", "PLUGIN", "LOCAL", "DESCRIPTION"), rows)


def _list_hub(pattern: str | None, as_json: bool, limit: int | None) -> None:
    from zoo_core import hub

    models = zoo_core.list_models(pattern, hub=True, limit=limit)
    if as_json:
        _json_out([m.to_dict() for m in models])
        return
    if not models:
        click.echo(f"no zoo models on {hub.endpoint()}" + (f" match '{pattern}'" if pattern else ""))
        return
    rows = [(f"hf://{m.repo_id}", m.family or "?", "?" if m.downloads is None else m.downloads,
             (m.last_modified or "?").replace("T", " ")[:16]) for m in models]
    _table(("REF", "FAMILY", "DOWNLOADS", "LAST CHANGE (UTC)"), rows)


@cli.command("info")
@click.argument("name", shell_complete=complete_names)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--options", "with_options", is_flag=True,
              help="Each config key with its type, default, bounds and help (from the family's spec).")
@click.option("--card", "with_card", is_flag=True, help="Print the model card that 'zoo push --eval' would publish "
              "(description, eval results computed now, recipe); loads the model.")
@click.option("--no-eval", is_flag=True, help="With --card: only the eval figures saved beside the model.")
@click.option("--repo-id", help="With --card: the repo the card names (default: a pulled model's own, else zoo/NAME).")
def info_cmd(name: str, as_json: bool, with_options: bool, with_card: bool, no_eval: bool,
             repo_id: str | None) -> None:
    """Show a model's family, config, parameters, weights source and sha256 (--card: its model card)."""
    from zoo_cli.present import config_options, model_info

    if with_card:
        from zoo_core.api import model_card

        card = model_card(name, repo_id=repo_id, evaluate=not no_eval)
        if as_json:
            _json_out({"name": name, "card": str(card), "metadata": card.data.to_dict()})
        else:
            click.echo(str(card))
        return
    info = model_info(name)
    if with_options:
        info["options"] = config_options(info["family"], info["config"])
    if as_json:
        _json_out(info)
        return
    if with_options:
        rows = [(o["key"], o["type"], json.dumps(o["value"]), json.dumps(o["default"]), o["bounds"], o["help"])
                for o in info["options"]]
        click.echo(f"{info['name']} ({info['family']}): {len(rows)} config keys; change one with --set KEY=VALUE")
        _table(("KEY", "TYPE", "VALUE", "DEFAULT", "BOUNDS", "HELP"), rows)
        return
    for key in ("name", "family", "framework", "plugin", "description", "license", "tags", "weights_source",
                "sha256", "weights_local", "installed", "parameters"):
        if info.get(key) not in (None, "", []):
            click.echo(f"{key:15} {', '.join(info[key]) if isinstance(info[key], list) else info[key]}")
    click.echo("config:")
    for key, value in info["config"].items():
        note = "  (seed of the weights and training; 'zoo sample --seed' picks the images)" if key == "seed" else ""
        click.echo(f"  {key:18} {json.dumps(value)}{note}")


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins_cmd(as_json: bool) -> None:
    """Show every discovered plugin: distribution, version, hooks, families, models, error."""
    plugins = [p.to_dict() for p in zoo_core.list_plugins()]
    for p in plugins:  # families whose framework is missing: listed, but not buildable here
        p["missing"] = {}
        for name in p["families"]:
            family = zoo_core.get_family(name)
            if family.missing_requirements():
                p["missing"][name] = {"modules": family.missing_requirements(), "hint": family.install_hint()}
    if as_json:
        _json_out(plugins)
        return
    if not plugins:
        click.echo("no plugins loaded" + (" (ZOO_PLUGINS is set)" if "ZOO_PLUGINS" in os.environ else ""))
    for p in plugins:
        status = "ok" if not p["error"] else "ERROR"
        dist = f"{p['distribution']} {p['version']}" if p["distribution"] else p["module"]
        click.echo(f"{p['name']} [{status}] ({dist})")
        click.echo(f"  hooks:    {', '.join(p['hooks']) or '-'}")
        click.echo(f"  families: {', '.join(p['families']) or '-'}")
        click.echo(f"  models:   {', '.join(p['models']) or '-'}")
        click.echo(f"  commands: {', '.join(f'zoo {c}' for c in p.get('commands') or []) or '-'}")
        for fam, need in p["missing"].items():
            click.echo(f"  note:     family '{fam}' needs {', '.join(need['modules'])} ({need['hint']})")
        if p["error"]:
            click.echo(f"  error:    {p['error']}")


# ---------------------------------------------------------------------------------------------
# Using models


def _load(name: str, pairs: tuple[str, ...] = (), device: str | None = None) -> Any:
    """Resolve NAME once, parse ``--set`` text through its family's spec, load it."""
    target = zoo_core.resolve(name)
    return zoo_core.load(target, device=device, **target.family.config.parse_overrides(pairs))


def _memory_option(func: Any) -> Any:
    """``--no-memory-check``: go ahead past zoo's memory estimate (sets ZOO_NO_MEMORY_CHECK=1, which
    workers inherit)."""
    def go_ahead(_ctx: Any, _param: Any, value: bool) -> bool:
        if value:
            os.environ["ZOO_NO_MEMORY_CHECK"] = "1"
        return value

    return click.option("--no-memory-check", is_flag=True, expose_value=False, callback=go_ahead,
                        help="Go ahead although the family's memory estimate exceeds the available memory "
                             "(docs/security.md).")(func)


@cli.command("sample")
@click.argument("name", shell_complete=complete_names)
@click.option("-n", "--num", "n", default=16, show_default=True, type=click.IntRange(1, 4096),
              help="How many images.")
@click.option("--seed", default=0, show_default=True, type=SEED,
              help="Sampling seed: which images (same seed, same bytes). The weights' own seed is the config "
                   "key 'seed' (--set seed=N builds other fresh weights).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="FILE.png (grid), .npy, .npz, or .svg "
              "(one vector symbol per image, for models that draw strokes). Default: NAME.png")
@click.option("--set", "pairs", multiple=True, metavar="KEY=VALUE", help="Override a config value (repeatable).")
@device_option(note="; same seed, same bytes is promised on the CPU")
@_memory_option
def sample_cmd(name: str, n: int, seed: int, output: str | None, pairs: tuple[str, ...], device: str) -> None:
    """Generate N images from model NAME and write them to a file."""
    from zoo_core.media.images import save_images

    if output is not None and not output.strip():
        _fail("-o/--output is empty; give a FILE.png, .npy or .npz")
    output = output or f"{Path(name.rstrip('/')).name.replace('hf:', '').replace('@', '-')}.png"
    if output.lower().endswith(".svg"):  # the vector form, where the family draws strokes
        model = _load(name, pairs, device)
        svg = model.sample_svg(n, seed=seed)
        try:
            Path(output).write_text(svg, encoding="utf-8")
        except OSError as exc:
            _fail(f"cannot write {output}: {exc.strerror or exc}")
        click.echo(f"wrote {n} glyphs as SVG symbols to {output}")
        return
    check_suffix(output, IMAGE_SUFFIXES)
    model = _load(name, pairs, device)
    images = model.sample(n, seed=seed)
    path = save_images(images, output)
    click.echo(f"wrote {n} images ({images.shape[1]}x{images.shape[2]}x{images.shape[3]}) to {path}")


@cli.command("train")
@click.argument("name", shell_complete=complete_train_names)
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False),
              help="Run folder: model, checkpoints and run.json go here (a resume may omit it: NAME is the run).")
@click.option("--steps", type=click.IntRange(1, MAX_STEPS), help="The run's total steps, fresh or resumed "
              "(default: the resumed run's target, or the family's own).")
@click.option("--data", type=click.Path(exists=True),
              help="Training data (.npy/.npz/image folder), if the family uses data.")
@click.option("--set", "pairs", multiple=True, metavar="KEY=VALUE", help="Override a config value (repeatable; "
              "on a resume only the family's resume-safe keys).")
@click.option("--checkpoint-every", type=click.IntRange(1, MAX_STEPS), help="Steps between checkpoints (default: "
              "the resumed run's own, else a tenth of the run, 50 to 1,000, and at least every 10 minutes).")
@click.option("--resume", is_flag=True, help="Continue the run in NAME (or -o) from its newest checkpoint.")
@click.option("--force", is_flag=True, help="Start afresh in a non-empty run folder (deletes its checkpoints).")
@device_option("auto")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 1024),
              help="Data-parallel processes on this machine (runs torchrun for you).")
@_memory_option
@click.option("--oversubscribe", is_flag=True, help="With --workers: start more CPU workers than the machine has "
              "cores.")
def train_cmd(name: str, out_dir: str | None, steps: int | None, data: str | None, pairs: tuple[str, ...],
              checkpoint_every: int | None, resume: bool, force: bool, device: str, workers: int,
              oversubscribe: bool) -> None:
    """Train NAME (a catalog name or a family) into a run folder, or continue the run folder NAME."""
    from zoo_core.runtime.distributed import current_world
    from zoo_core.runtime.plan import plan_training, resume_command, run_training
    from zoo_core.runtime.progress import make_progress

    world = current_world()
    plan = plan_training(name, out_dir, resume=resume, force=force, data=data, is_main=world.is_main)
    overrides = plan.spec.parse_overrides(pairs)
    if workers > 1:
        from zoo_core.runtime.plan import check_parallel

        check_parallel(plan, overrides, workers, device=device, oversubscribe=oversubscribe)
        _launch_workers(plan, workers)
        return
    if world.distributed and not plan.family.distributed:
        _fail(f"family '{plan.family.name}' does not train data-parallel")
    total = plan.total_steps(overrides, steps)  # decided once, here
    callbacks: list = []
    if world.is_main and not plan.resume and plan.source == plan.family.name:
        shipped = [m.name for m in zoo_core.list_models() if m.family == plan.family.name and m.weights is not None]
        if shipped:  # said once training runs (an error before that stays the only line)
            note = (f"zoo: warning: '{name}' trains the family's default config, not a shipped model's recipe; "
                    f"for one of those: zoo train MODEL -o RUN, MODEL in {', '.join(shipped)}")
            callbacks.append(_once(lambda: click.echo(note, err=True)))
    progress = make_progress(total) if world.is_main else None
    try:
        callbacks += [progress] if progress else []
        model, history = run_training(plan, overrides, steps=total, callbacks=callbacks,
                                      device=device, checkpoint_every=checkpoint_every)
    except KeyboardInterrupt:
        if progress is not None:
            progress.close()
            progress = None
        if world.is_main:
            click.echo(f"zoo: interrupted; the steps done are checkpointed in {plan.run}. "
                       f"Resume with: {resume_command(plan.run, device)}", err=True)
        sys.exit(130)
    finally:
        if progress is not None:
            progress.close()
    if not world.is_main:
        return
    last = {k: v[-1] for k, v in history.items() if k != "step" and v}
    click.echo(f"saved to {plan.run} ({', '.join(f'{k} {v:.4g}' for k, v in last.items())})")
    held_out = {k: v for k, v in history.metrics.items() if isinstance(v, (int, float))}
    if held_out:
        click.echo("held-out: " + ", ".join(f"{k} {v:.4g}" for k, v in held_out.items()))


def _once(action: Any) -> Any:
    """A training callback that runs ``action()`` at the first step reported, then never again."""
    done: list = []

    def callback(step: int, logs: Any) -> None:
        if not done:
            done.append(step)
            action()
    return callback


def _launch_workers(plan: Any, workers: int) -> None:
    """Re-run this very command in ``workers`` processes through torchrun (without --workers)."""
    from zoo_core.runtime.distributed import launch_local

    argv = list(sys.argv[1:])
    cleaned, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--workers":
            skip = True
            continue
        if arg.startswith("--workers="):
            continue
        cleaned.append(arg)
    if plan.resume and "--resume" not in cleaned:
        cleaned.append("--resume")
    if "--force" in cleaned:  # the folder was cleared here already; the workers find it empty
        cleaned.remove("--force")
    launch_local(workers, cleaned)


@cli.command("eval")
@click.argument("name", shell_complete=complete_names)
@click.option("--data", type=click.Path(exists=True), help="Held-out data (default: a run folder's own data).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed of the held-out draw.")
@device_option()
def eval_cmd(name: str, data: str | None, as_json: bool, seed: int, device: str) -> None:
    """Evaluate model NAME and print its metrics (a run folder: on its own data's held-out split)."""
    from zoo_core.runtime.runs import run_data

    model = _load(name, device=device)
    metrics = model.evaluate(data if data is not None else run_data(name), seed=seed)
    if as_json:
        _json_out({"model": name, **metrics})
        return
    for key, value in metrics.items():
        click.echo(f"{key:28} {value:.4f}" if isinstance(value, float) else f"{key:28} {value}")


@cli.command("interpolate")
@click.argument("name", shell_complete=complete_names)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="FILE.gif or FILE.webp")
@click.option("--frames", default=24, show_default=True, type=click.IntRange(2, 2000), help="Frames per segment.")
@click.option("--path", "path_kind", default="slerp", show_default=True, type=click.Choice(["lerp", "slerp"]),
              help="Straight line, or great circle (keeps latents at prior-typical norm).")
@click.option("--points", default=4, show_default=True, type=click.IntRange(2, 64),
              help="Latent points visited in a loop.")
@click.option("-n", "--num", "n", default=9, show_default=True, type=click.IntRange(1, 256),
              help="Walks shown side by side in each frame.")
@click.option("--size", default=64, show_default=True, type=click.IntRange(8, 1024),
              help="Pixels of each walk's tile (images are upscaled to it).")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Sampling seed of the walk (not the weights').")
@click.option("--fps", default=20, show_default=True, type=click.IntRange(1, 100))
def interpolate_cmd(name: str, output: str, frames: int, path_kind: str, points: int, n: int, size: int,
                    seed: int, fps: int) -> None:
    """Animate a looping walk through the latent space of model NAME."""
    from zoo_core.media.images import save_animation, tile, upscale

    check_suffix(output, ANIMATION_SUFFIXES)
    model = _load(name)
    clips = zoo_core.interpolate(model, n=n, points=points, frames=frames, path=path_kind, seed=seed)
    movie = [tile(upscale(frame, size)) for frame in clips]
    save_animation(movie, output, fps=fps)
    click.echo(f"wrote {len(movie)} frames to {output}")


def _table(header: tuple[str, ...], rows: list[tuple]) -> None:
    from zoo_core.util.render import table_lines

    click.echo("\n".join(table_lines(header, rows)))


# -- commands defined in their own modules (one line each) -----------------------------------
# (the modules import only click and light zoo_core parts at import time; imported at the top)
# BEGIN extra commands
cli.add_command(pull)
cli.add_command(push)
cli.add_command(cache)
cli.add_command(plugin)
cli.add_command(verify)
cli.add_command(gallery)
cli.add_command(plot)
# END extra commands

_commands_added = False


def add_plugin_commands() -> None:
    """Let plugins add their commands (``register_commands`` hook), once."""
    global _commands_added
    if not _commands_added:
        _commands_added = True
        from zoo_core.plugins import get_registry

        try:
            get_registry().run_command_hook(cli)
        except ZooError as exc:  # strict mode, or a broken user catalog (ZOO_REGISTRY)
            if any(arg in ("-h", "--help", "--version") for arg in sys.argv[1:]):
                click.echo(f"zoo: warning: {exc}; plugin commands are not shown", err=True)
                return
            click.echo(f"zoo: error: {exc}", err=True)
            sys.exit(2)


def main() -> None:
    """Console-script entry point."""
    add_plugin_commands()
    cli(prog_name="zoo")


if __name__ == "__main__":  # pragma: no cover
    main()
