"""docs/plugins.md stays complete: every hook documented and tested, every check and field described,
and the worked example identical to examples/zoo-blobs (so the page alone is enough to write a plugin).
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from helpers.pluginenv import DOCS, EXAMPLE, ROOT

HOOKSPECS = ROOT / "zoo_core" / "hookspecs.py"
TESTS = Path(__file__).resolve().parents[1]


def hookspecs(source: str) -> dict[str, list[str]]:
    """``{hook name: argument names}`` of the functions decorated with ``@hookspec`` in ``source``."""
    hooks = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                if isinstance(target, ast.Name) and target.id == "hookspec":
                    hooks[node.name] = [a.arg for a in node.args.args]
    return hooks


def undocumented(hooks: dict[str, list[str]], doc: str) -> list[str]:
    """Hooks lacking a ``### name`` heading, or whose ``def name(args)`` signature the page lacks."""
    missing = []
    for name, args in hooks.items():
        heading = re.search(rf"^### {re.escape(name)}\s*$", doc, re.MULTILINE)
        signature = f"def {name}({', '.join(args)})" in doc
        if not (heading and signature):
            missing.append(name)
    return missing


def untested(hooks: dict[str, list[str]], test_sources: dict[str, str]) -> list[str]:
    """Hooks whose name appears in no test module other than this one."""
    return [name for name in hooks
            if not any(re.search(rf"\b{re.escape(name)}\b", text) for text in test_sources.values())]


@pytest.fixture(scope="module")
def hooks():
    return hookspecs(HOOKSPECS.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def doc():
    return DOCS.read_text(encoding="utf-8")


def test_parser_finds_exactly_the_hooks_pluggy_knows(hooks):
    import pluggy

    from zoo_core import hookspecs as module

    pm = pluggy.PluginManager("zoo")
    pm.add_hookspecs(module)
    assert set(hooks) == {name for name in dir(pm.hook) if not name.startswith("_")}
    assert len(hooks) >= 3


def test_every_hook_has_a_heading_and_signature_in_the_docs(hooks, doc):
    assert undocumented(hooks, doc) == []


def test_every_hook_is_referenced_by_a_test(hooks):
    sources = {p.name: p.read_text(encoding="utf-8") for p in TESTS.rglob("test_*.py") if p.name != Path(__file__).name}
    assert untested(hooks, sources) == []


def test_the_checkers_catch_omissions(hooks, doc):
    name = next(iter(hooks))
    assert undocumented(hooks, doc.replace(f"### {name}\n", "### something else\n")) == [name]
    assert undocumented({**hooks, "register_widgets": ["register"]}, doc) == ["register_widgets"]
    assert untested(hooks, {"test_x.py": " ".join(n for n in hooks if n != name)}) == [name]
    assert hookspecs("@hookspec\ndef a(x, y): pass\n@other\ndef b(): pass\n") == {"a": ["x", "y"]}


def test_every_check_of_the_kit_is_described(doc):
    from zoo_core.testing import CHECKS

    described = set(re.findall(r"^\| `(check_\w+)` \|", doc, re.MULTILINE))
    assert described == set(CHECKS)


def test_every_family_field_is_described(doc):
    from zoo_core.families import Family

    # declared_trainable keeps the deprecated trainable= argument; trainable (derived) is a property
    fields = {f.name for f in dataclasses.fields(Family)} - {"plugin", "declared_trainable"} | {"trainable"}
    described = set(re.findall(r"^\| `(\w+)` \|", doc, re.MULTILINE))
    assert fields <= described, sorted(fields - described)


@pytest.mark.parametrize("variable", ["ZOO_PLUGINS", "ZOO_STRICT_PLUGINS", "ZOO_TRACE_HOOKS"])
def test_environment_variables_are_documented(doc, variable):
    assert re.search(rf"^\| `{variable}=", doc, re.MULTILINE), variable


@pytest.mark.parametrize("topic", ["zoo plugin new", "zoo plugin check", "parametrize_with_checks(", "check_plugin(",
                                   "expected_failed_checks", "pkg://", "hf://", "sha256", "DuplicateNameError",
                                   "first registration is kept", "safetensors", "trainable=False"])
def test_topics_are_covered(doc, topic):
    assert topic in doc


def example_files() -> list[str]:
    """The text files of the example distribution that a plugin author writes (all but the README)."""
    files = [p.relative_to(EXAMPLE).as_posix() for p in EXAMPLE.rglob("*")
             if p.is_file() and p.suffix in (".py", ".toml") and "__pycache__" not in p.parts]
    return sorted(files)


def test_example_has_the_expected_files():
    assert example_files() == ["make_weights.py", "pyproject.toml", "tests/test_conformance.py",
                               "zoo_blobs/__init__.py", "zoo_blobs/data.py", "zoo_blobs/gan.py", "zoo_blobs/model.py"]


@pytest.mark.parametrize("rel", example_files())
def test_worked_example_in_the_docs_is_the_example_plugin(doc, rel):
    match = re.search(rf"^#### `{re.escape(rel)}`\n\n```\w+\n(.*?)^```$", doc, re.MULTILINE | re.DOTALL)
    assert match, f"docs/plugins.md lacks the file {rel} of the worked example"
    assert match.group(1) == (EXAMPLE / rel).read_text(encoding="utf-8"), f"{rel} differs from the docs"
