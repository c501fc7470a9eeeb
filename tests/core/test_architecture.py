"""The shape of the code base: no import circles in the core, plugins on the public hooks only, small modules.

Imports are read with ``ast``, so an import inside a function counts as much as one at the top;
only ``if TYPE_CHECKING:`` blocks (annotations, never executed) are left out.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "zoo_core"
MAX_CORE_LINES = 400

# The layering of zoo_core, bottom to top (README, "Layout"): a module may import its own layer and those below.
LAYERS = [
    {"util", "errors", "hookspecs", "_moved"},      # standard-library helpers, the error types, the hook specs
    {"config", "layers"},                           # config specs and layer specs (the contract's vocabulary)
    {"io"},                                         # safe reads, file names, weights, checkpoints
    {"data", "backends"},                           # training data; torch/keras helpers
    {"catalog", "families", "model", "contract"},   # the contract: registry entries, families, models, its version
    {"plugins"},                                    # plugin discovery and the registry
    {"runtime"},                                    # training: plan, loop, sessions, batches, runs, devices, ...
    {"media"},                                      # images, walks, golden samples, gallery
    {"hub"},                                        # the Hub, weight sources, cards, publishing
    {"resolver"},                                   # a name, a directory or an hf:// reference -> family + entry
    {"api"},                                        # the public face: build, load, list_models
    {"testing"},                                    # the conformance kit for plugins
]
# Calls up the layers made at call time (imports inside a function), each for a reason; none at import time.
# Phase 2 of issue 32 removes what it can; a new one fails the test.
DEFERRED_UPWARD = {
    ("zoo_core.model", "zoo_core.runtime.progress"),  # ZooModel.train() runs the shared loop with its bar
    ("zoo_core.catalog", "zoo_core.hub.refs"),        # an hf:// weights reference is parsed by the Hub's rules
    ("zoo_core.runtime.plan", "zoo_core.resolver"),   # `zoo train NAME` resolves NAME
    ("zoo_core.runtime.plan", "zoo_core.api"),        # ... and builds the model
    ("zoo_core.hub.publishing", "zoo_core.api"),      # `zoo push` loads the directory it publishes
}
FACE_AND_CONTRACT = {"__init__.py", "_moved.py", "api.py", "resolver.py", "plugins.py", "hookspecs.py", "model.py",
                     "families.py", "config.py", "catalog.py", "layers.py", "errors.py", "contract.py"}


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
                     if p.name not in words and p.name != "__init__.py")
    packages = sorted(p.name for p in CORE.iterdir() if (p / "__init__.py").is_file() and p.name not in words)
    assert missing == [] and packages == []


def layer_of(module: str) -> int:
    unit = module.split(".")[1]
    return next(i for i, layer in enumerate(LAYERS) if unit in layer)


def layered_imports(path: Path) -> list[tuple[str, bool]]:
    """``(module, at_import_time)`` for each zoo_core module (not the package root) ``path`` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
               for stmt in node.body for n in ast.walk(stmt)}
    top = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped or not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif node.module == "zoo_core":
            names = [f"zoo_core.{a.name}" for a in node.names if a.name != "__version__"]
        else:
            names = [node.module or ""]
        found += [(n, id(node) in top) for n in names if n.startswith("zoo_core.")]
    return found


def test_every_core_module_has_a_layer():
    units = {p.relative_to(CORE).parts[0].removesuffix(".py") for p in CORE.rglob("*.py") if p.name != "__init__.py"
             or p.parent != CORE}
    assert units - set().union(*LAYERS) == set()


def test_no_package_imports_one_above_it():
    at_import, deferred = [], set()
    for path in CORE.rglob("*.py"):
        name = module_name(path)
        if name == "zoo_core":
            continue
        for target, at_top in layered_imports(path):
            if layer_of(target) > layer_of(name):
                (at_import.append((name, target)) if at_top else deferred.add((name, target)))
    assert at_import == []
    assert deferred == DEFERRED_UPWARD


def test_only_the_face_and_the_contract_lie_at_the_top():
    assert {p.name for p in CORE.glob("*.py")} == FACE_AND_CONTRACT
    for package in (p for p in CORE.iterdir() if (p / "__init__.py").is_file()):
        doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8")))
        assert doc and doc.splitlines()[0].strip(), package


def test_nothing_of_ours_imports_a_moved_path():
    """The old paths (zoo_core/_moved.py) are for others' code; ours names the new ones."""
    from zoo_core._moved import MOVED

    pattern = re.compile(r"\b(" + "|".join(re.escape(old) for old in MOVED) + r")\b(?!\.py)"
                         r"|from zoo_core import .*\b(" + "|".join(old.split(".")[1] for old in MOVED) + r")\b")
    places = [p for folder in ("zoo_core", "cli", "plugins", "tests", "benchmarks", "examples")
              for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".tmpl", ".md") and ".venv" not in p.parts]
    places += [*(ROOT / "docs").glob("*.md"), ROOT / "README.md"]
    bad = [f"{p.relative_to(ROOT)}:{i}" for p in places if p.name != "_moved.py"
           for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert bad == []


@pytest.mark.parametrize("old", sorted(__import__("zoo_core._moved", fromlist=["MOVED"]).MOVED))
def test_an_old_module_path_imports_the_new_module_and_warns(old):
    """Each old path gives the very module at its new path (same object), with a warning naming the new place."""
    from zoo_core._moved import MOVED

    code = ("import importlib, warnings\nwarnings.simplefilter('error')\nnew = importlib.import_module(%r)\n"
            "warnings.simplefilter('always')\nwith warnings.catch_warnings(record=True) as caught:\n"
            "    old = importlib.import_module(%r)\n"
            "assert old is new, (old, new)\n"
            "assert [(w.category.__name__, str(w.message)) for w in caught] == "
            "[('DeprecationWarning', %r)], caught\n") % (MOVED[old], old, f"{old} moved to {MOVED[old]}; import it "
                                                                         f"from there ({old} will be removed)")
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr


def test_from_zoo_core_import_an_old_module_warns_and_names_stay():
    import subprocess
    import sys

    moved = "weights"  # an old module path, imported the way `from package import module` does
    code = ("import warnings\nwarnings.simplefilter('error')\nimport zoo_core\n"
            "assert zoo_core.hookimpl and zoo_core.build and zoo_core.load and zoo_core.History\n"
            "from zoo_core.runtime import fit, TrainingSession, BatchSampler\n"
            "try:\n    from zoo_core import " + moved + "\nexcept DeprecationWarning as e:\n"
            "    assert 'zoo_core.io.weights' in str(e)\nelse:\n    raise SystemExit('no warning')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
