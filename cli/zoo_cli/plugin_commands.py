"""``zoo plugin``: scaffold a new plugin distribution, and run the conformance kit on a plugin.

Imports only click and light parts of zoo_core at import time (``zoo --help`` stays fast).
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import click

from zoo_core.errors import ZooError

#: NAME of ``zoo plugin new``: lowercase words joined by hyphens, starting with a letter
PLUGIN_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
TEMPLATE_SUFFIX = ".tmpl"


@click.group("plugin")
def plugin() -> None:
    """Write plugins: scaffold a new one, check one against the model contract."""


def template_names(name: str) -> dict[str, str]:
    """The placeholders of the template for plugin ``name`` (``zoo-`` prefix dropped).

    ``{{name}}`` entry-point and family name, ``{{dist}}`` distribution, ``{{package}}`` import
    package, ``{{zoo_version}}`` the running zoo's version.
    """
    import zoo_core

    if name.startswith("zoo-"):
        name = name[len("zoo-"):]
    if not PLUGIN_NAME.match(name) or len(name) > 40:
        raise ZooError(f"invalid plugin name '{name}': use lowercase letters, digits and single hyphens, "
                       "starting with a letter (at most 40 characters)")
    return {"name": name, "dist": f"zoo-{name}", "package": f"zoo_{name.replace('-', '_')}",
            "zoo_version": zoo_core.__version__}


def _walk(folder, prefix: str = ""):
    for item in sorted(folder.iterdir(), key=lambda t: t.name):
        rel = f"{prefix}{item.name}"
        if item.is_dir():
            if item.name != "__pycache__":
                yield from _walk(item, rel + "/")
        elif item.name.endswith(TEMPLATE_SUFFIX):
            yield rel, item


def render_template(name: str, out_dir: str | Path) -> list[Path]:
    """Write the plugin template for ``name`` into ``out_dir`` (which must be empty or absent).

    Template files are the ``*.tmpl`` package data under ``zoo_cli/templates/plugin``; the
    ``__package__`` folder becomes the import package, placeholders ``{{key}}`` are replaced by
    :func:`template_names`. Returns the written paths.
    """
    values = template_names(name)
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ZooError(f"'{out}' already exists and is not an empty folder; choose another with -o")
    root = resources.files("zoo_cli") / "templates" / "plugin"
    files = list(_walk(root))
    if not files:
        raise ZooError("the plugin template is missing from this zoo installation; reinstall zoo")
    written = []
    for rel, item in files:
        target = out / rel[: -len(TEMPLATE_SUFFIX)].replace("__package__", values["package"])
        text = item.read_text(encoding="utf-8")
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        leftover = re.search(r"\{\{\w+\}\}", text)
        if leftover:
            raise ZooError(f"template {rel} has an unknown placeholder {leftover.group(0)}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


@plugin.command("new")
@click.argument("name")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False),
              help="Folder to create (default: ./zoo-NAME). Must be empty or absent.")
def new_cmd(name: str, out_dir: str | None) -> None:
    """Create a plugin distribution for family NAME: pyproject, hooks, a numpy model, kit tests."""
    values = template_names(name)
    out = Path(out_dir or values["dist"])
    written = render_template(name, out)
    for path in written:
        click.echo(f"  wrote {path}")
    click.echo(f"created plugin '{values['name']}' (distribution {values['dist']}, package "
               f"{values['package']}) in {out}\n"
               f"next: pip install -e {out} && zoo list '{values['name']}*' && zoo plugin check {values['name']}")


@plugin.command("check")
@click.argument("names", nargs=-1, required=True)
@click.option("--set", "pairs", multiple=True, metavar="KEY=VALUE",
              help="Config override for every checked name, e.g. a small size (repeatable).")
@click.option("--xfail", "xfails", multiple=True, metavar="CHECK=REASON",
              help="A check known to fail, with the reason (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def check_cmd(names: tuple[str, ...], pairs: tuple[str, ...], xfails: tuple[str, ...], as_json: bool) -> None:
    """Run the conformance kit on models, families or plugins NAMES; exit 1 if a check fails."""
    import zoo_core
    from zoo_core.testing import check_plugin

    expected = {}
    for item in xfails:
        check, sep, reason = item.partition("=")
        if not sep or not reason.strip():
            raise ZooError(f"--xfail expects CHECK=REASON, got {item!r}")
        expected[check.strip()] = reason.strip()

    def overrides(target: str) -> dict:
        return zoo_core.resolve(target).family.config.parse_overrides(pairs) if pairs else {}

    from zoo_core.plugins import get_registry
    from zoo_core.util.suggest import did_you_mean

    registry = get_registry()
    known = list(registry.models) + list(registry.families) + list(registry.plugins)
    for name in names:
        if name not in known:
            raise ZooError(f"nothing to check: '{name}' is neither a model, a family nor a plugin"
                           f"{did_you_mean(name, known)} (see 'zoo list' and 'zoo plugins')")
    results = []
    for name in names:
        try:
            results += check_plugin(name, expected or None, overrides=overrides, raise_on_failure=False)
        except ValueError as exc:  # an unknown check name in --xfail
            raise ZooError(str(exc)) from None
    if as_json:
        click.echo(json.dumps([r.__dict__ for r in results], indent=2))
    else:
        for r in results:
            click.echo(f"{r.status.upper():7} {r.name}  {r.check}" + (f"\n        {r.message}" if r.message else ""))
        counts = {s: sum(r.status == s for r in results) for s in ("passed", "failed", "skipped", "xfail", "xpass")}
        click.echo(", ".join(f"{v} {k}" for k, v in counts.items() if v))
    if any(r.status in ("failed", "xpass") for r in results):
        raise SystemExit(1)
