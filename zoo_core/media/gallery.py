"""A static HTML gallery of the installed models: a sample grid, the card facts and eval figures.

:func:`build_gallery` writes ``DIR/index.html`` (inline CSS, no script, no external resource),
``DIR/images/NAME.png`` (a grid of ``sample(16, seed=0)``) and ``DIR/gallery.json`` (the same
facts as data). Open ``index.html`` from disk or serve the folder; it works offline.
"""

from __future__ import annotations

import fnmatch
import html
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from zoo_core.errors import ZooError

CSS = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 1em 2em; color: #222; }
h1 { margin-bottom: 0.2em; }
nav a { margin-right: 0.8em; }
section { border-top: 1px solid #ccc; padding: 1em 0; display: grid; grid-template-columns: 300px 1fr; gap: 1.5em; }
section h2 { grid-column: 1 / 3; margin: 0; }
section p.description { grid-column: 1 / 3; margin: 0; color: #444; }
figure { margin: 0; }
figure img { width: 280px; height: auto; image-rendering: pixelated; border: 1px solid #ddd; }
figcaption { font-size: 0.85em; color: #555; }
table { border-collapse: collapse; font-size: 0.9em; margin-bottom: 0.8em; }
caption { text-align: left; font-weight: bold; padding: 2px 8px; }
td, th { border-bottom: 1px solid #eee; padding: 2px 8px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 0.9em; }
.ok { color: #17702a; } .drift { color: #b00020; font-weight: bold; } .muted { color: #777; }
"""


def select(patterns: Iterable[str] = ()) -> list:
    """Catalog entries matching any fnmatch pattern (default: every entry), naturally sorted.

    A pattern that matches nothing raises :class:`~zoo_core.errors.UnknownModelError`.
    """
    import zoo_core

    entries = zoo_core.list_models()
    patterns = list(patterns)
    if not patterns:
        return entries
    chosen = []
    for pattern in patterns:
        hits = [e for e in entries if fnmatch.fnmatchcase(e.name, pattern)]
        if not hits:
            zoo_core.get_entry(pattern)  # raises with the closest suggestion
        chosen += [e for e in hits if e not in chosen]
    return sorted(chosen, key=lambda e: [e2.name for e2 in entries].index(e.name))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def model_facts(entry, evaluate: bool = True, n: int = 16, seed: int = 0) -> tuple[dict, Any]:
    """The facts of one catalog entry and its ``sample(n, seed)`` images (loads the model)."""
    import zoo_core
    from zoo_core.media.golden import sample_digest

    family = zoo_core.get_family(entry.family)
    model = zoo_core.load(entry.name)
    images = model.sample(n, seed=seed)
    golden = sample_digest(model)
    facts: dict[str, Any] = {
        "name": entry.name, "description": entry.description, "family": entry.family,
        "framework": family.framework, "plugin": entry.plugin or family.plugin, "license": entry.license,
        "tags": list(entry.tags), "parameters": int(model.num_parameters),
        "image_shape": list(images.shape[1:]),
        "weights_source": entry.weights.source if entry.weights else None,
        "weights_sha256": entry.weights.sha256 if entry.weights else None,
        "sample_sha256": golden,
        "golden": ("unrecorded" if entry.sample_sha256 is None else "ok" if entry.sample_sha256 == golden
                   else "drift"),
        "config": zoo_core.entry_config(entry), "seed": seed,
    }
    if evaluate:
        try:
            metrics = model.evaluate(seed=0)
        except ZooError as exc:  # a family without evaluation says so
            facts["eval"], facts["eval_note"] = {}, str(exc)
        else:
            facts["eval"] = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str))
                             and not isinstance(v, bool)}
            facts["eval_note"] = "model.evaluate(seed=0)"
    else:
        facts["eval"], facts["eval_note"] = {}, "not run (--no-eval)"
    return facts, images


def _section(facts: dict, image: str, width: int) -> str:
    e = html.escape
    rows = [("family", facts["family"]), ("framework", facts["framework"]), ("plugin", facts["plugin"]),
            ("parameters", f"{facts['parameters']:,}"), ("image", " x ".join(map(str, facts["image_shape"]))),
            ("license", facts["license"]), ("tags", ", ".join(facts["tags"]) or "-"),
            ("weights", facts["weights_source"] or "none: a pure function of the config")]
    if facts["weights_sha256"]:
        rows.append(("weights sha256", f"<code>{e(facts['weights_sha256'][:16])}...</code>"))
    golden = {"ok": '<span class="ok">matches the catalog</span>',
              "drift": '<span class="drift">DRIFT from the catalog</span>',
              "unrecorded": '<span class="muted">not recorded in the catalog</span>'}[facts["golden"]]
    rows.append(("golden sample", f"<code>{e(facts['sample_sha256'][:16])}...</code> {golden}"))
    markup = ("weights sha256", "golden sample")  # rows already written as HTML
    fact_html = "".join(f"<tr><th>{e(k)}</th><td>{v if k in markup else e(str(v))}</td></tr>" for k, v in rows)
    if facts["eval"]:
        evals = "".join(f'<tr><th>{e(k)}</th><td class="num">{e(_fmt(v))}</td></tr>' for k, v in facts["eval"].items())
        eval_html = f"<table class=\"eval\"><caption>evaluation: {e(facts['eval_note'])}</caption>{evals}</table>"
    else:
        eval_html = f'<p class="muted">evaluation: {e(facts["eval_note"])}</p>'
    config = e(json.dumps(facts["config"], indent=1))
    anchor = e(facts["name"])
    return (f'<section id="{anchor}"><h2>{anchor}</h2><p class="description">{e(facts["description"])}</p>'
            f'<figure><img src="{e(image)}" alt="16 samples of {anchor}, seed {facts["seed"]}" '
            f'width="{width}"><figcaption>sample(16, seed={facts["seed"]})</figcaption></figure>'
            f'<div><table class="facts">{fact_html}</table>{eval_html}'
            f"<details><summary>config</summary><pre>{config}</pre></details></div></section>")


def build_gallery(out_dir: str | Path, patterns: Iterable[str] = (), *, evaluate: bool = True,
                  progress=None) -> Path:
    """Write the gallery of the installed models matching ``patterns`` into ``out_dir``; return index.html.

    Entries whose framework is missing are listed at the end as not installed; entries whose
    weights are on the Hub and not cached are downloaded like ``zoo sample`` would.

    :param progress: optional ``progress(name)`` called before each model.
    """
    import zoo_core
    from zoo_core import __version__
    from zoo_core.io.weights import atomic_write_bytes
    from zoo_core.media.images import _pil, tile

    if not str(out_dir).strip():  # Path("") is the current folder: never what an empty -o meant
        raise ZooError("the gallery folder (-o) is empty; name a folder to write index.html into")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ZooError(f"cannot write the gallery into '{out}': it is a file")
    (out / "images").mkdir(parents=True, exist_ok=True)
    sections, records, missing = [], [], []
    for entry in select(patterns):
        family = zoo_core.get_family(entry.family)
        if family.missing_requirements():
            missing.append((entry.name, family.install_hint()))
            continue
        if progress:
            progress(entry.name)
        facts, images = model_facts(entry, evaluate=evaluate)
        grid = tile(images)
        image = f"images/{entry.name}.png"
        _pil(grid).save(out / image, format="PNG")
        scale = max(1, 280 // max(1, grid.shape[1]))
        sections.append(_section(facts, image, min(280, grid.shape[1] * scale)))
        records.append({**facts, "image": image})
    if not records:
        raise ZooError("no installed model to show" + (f" matches {', '.join(patterns)}" if patterns else ""))
    nav = " ".join(f'<a href="#{html.escape(r["name"])}">{html.escape(r["name"])}</a>' for r in records)
    note = ("".join(f"<li>{html.escape(n)}: not installed ({html.escape(h)})</li>" for n, h in missing))
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>zoo gallery</title><style>{CSS}</style></head><body>"
            f"<h1>zoo gallery</h1><p>{len(records)} installed model(s), zoo {html.escape(__version__)}. "
            "Each grid is <code>sample(16, seed=0)</code>; the golden sample is the sha256 of "
            "<code>sample(4, seed=0)</code>'s bytes (<code>zoo verify</code>).</p>"
            f"<nav>{nav}</nav>{''.join(sections)}"
            + (f"<h2>Not installed</h2><ul>{note}</ul>" if note else "") + "</body></html>\n")
    atomic_write_bytes(out / "index.html", page.encode("utf-8"))
    atomic_write_bytes(out / "gallery.json", (json.dumps({"models": records, "not_installed": [
        {"name": n, "hint": h} for n, h in missing]}, indent=2, default=str) + "\n").encode())
    return out / "index.html"
