"""The shape of the code base: no import circles in the core, plugins on the public hooks only, small modules.

Imports are read with ``ast``, so an import inside a function counts as much as one at the top;
only ``if TYPE_CHECKING:`` blocks (annotations, never executed) are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "zoo_core"
MAX_CORE_LINES = 450


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path) -> set[str]:
    """Every module name an import statement in ``path`` names (``from a import b`` gives a and a.b)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
               for stmt in node.body for n in ast.walk(stmt)}
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing package
                package = module_name(path).split(".")
                package = package[: len(package) - node.level + (1 if path.name == "__init__.py" else 0)]
                base = ".".join(package + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def core_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in CORE.rglob("*.py")}
    return {name: {m for m in imported_names(path) if m in modules and m != name} for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_core_has_no_import_circle():
    assert cycles(core_graph()) == []


def test_the_cycle_finder_sees_a_circle_through_a_function_level_import(tmp_path):
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    code = tmp_path / "m.py"
    code.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import zoo_core.api\n"
                    "def f():\n    from zoo_core.hub.download import snapshot\n")
    assert "zoo_core.hub.download" in imported_names(code) and "zoo_core.api" not in imported_names(code)


@pytest.mark.parametrize("folder", ["plugins", "zoo_core", "examples"])
def test_nothing_below_the_cli_imports_it(folder):
    offenders = sorted(str(p.relative_to(ROOT)) for p in (ROOT / folder).rglob("*.py")
                       if any(n == "zoo_cli" or n.startswith("zoo_cli.") for n in imported_names(p)))
    assert offenders == []


def test_core_modules_are_small():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines()) for p in CORE.rglob("*.py")}
    assert {k: v for k, v in sizes.items() if v >= MAX_CORE_LINES} == {}


def test_the_core_holds_no_framework_probe_or_plugin_algorithm():
    """Torch/keras layer probes and the filter visualiser live in their plugin; the core keeps the protocol."""
    defined = {node.name for p in CORE.rglob("*.py") for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
               if isinstance(node, (ast.ClassDef, ast.FunctionDef))}
    assert not defined & {"TorchProbe", "KerasProbe", "probe_for", "ascend", "visualize", "Recipe"}
    for path in CORE.rglob("*.py"):
        assert not {n for n in imported_names(path) if n.split(".")[0] in ("zoo_glyphnet", "zoo_vae", "zoo_filterviz",
                                                                           "zoo_random_cnn", "zoo_glyph_cnn")}, path


def test_one_spelling_of_the_hook_marker():
    """Plugins, examples, the template and the docs mark hooks ``@zoo_core.hookimpl``."""
    places = [*(ROOT / "plugins").rglob("*.py"), *(ROOT / "examples").rglob("*.py"), *(ROOT / "docs").glob("*.md"),
              *(ROOT / "cli" / "zoo_cli" / "templates").rglob("*.tmpl"), ROOT / "README.md"]
    bad = [str(p.relative_to(ROOT)) for p in places
           if any(line.strip().startswith("@hookimpl") or "import hookimpl" in line
                  for line in p.read_text(encoding="utf-8").splitlines())]
    assert bad == []


def test_the_readme_layout_names_every_core_module():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme[readme.index("## Layout"):]
    layout = layout[: layout.index("```", layout.index("```") + 3)]
    words = set(layout.replace("/", " ").split())
    missing = sorted(str(p.relative_to(CORE)) for p in CORE.rglob("*.py")
                     if p.parent == CORE and p.name not in words and p.name != "__init__.py")
    packages = sorted(p.name for p in CORE.iterdir() if (p / "__init__.py").is_file() and p.name not in words)
    assert missing == [] and packages == []
