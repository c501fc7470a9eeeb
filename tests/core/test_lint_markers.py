"""Every ``noqa`` and ``type: ignore`` in the shipped code names its codes and says why.

ruff (RUF100) and mypy (warn_unused_ignores) already report markers that silence nothing; this
checks the other half of the rule in the README's Tests section: a marker that stays explains itself.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINTED = [ROOT / "zoo_core", ROOT / "cli", ROOT / "plugins"]

MARKER = re.compile(r"#\s*(noqa|type:\s*ignore)\b", re.IGNORECASE)
# accepted: noqa, a colon, codes, then " - why" or " (why)"; type: ignore[codes], then a second "# why"
NOQA_OK = re.compile(r"#\s*noqa:\s*[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*\s*(?:-\s*|\()\w")
IGNORE_OK = re.compile(r"#\s*type:\s*ignore\[[a-z-]+(?:\s*,\s*[a-z-]+)*\]\s*#\s*\w")


def markers(path: Path) -> list[tuple[int, str]]:
    """``(line, comment)`` of each comment in ``path`` that holds a noqa or type: ignore marker."""
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
    return [(tok.start[0], tok.string) for tok in tokens if tok.type == tokenize.COMMENT and MARKER.search(tok.string)]


def explained(comment: str) -> bool:
    kind = MARKER.search(comment).group(1).lower()
    return bool((NOQA_OK if kind == "noqa" else IGNORE_OK).search(comment[MARKER.search(comment).start():]))


@pytest.mark.parametrize("comment, ok", [
    ("# noqa: BLE001 - mapped to one ZooError", True),
    ("# noqa: F401 (part of this API)", True),
    ("# noqa: BLE001", False),
    ("# noqa", False),
    ("# type: ignore[override]  # a property for the base's attribute", True),
    ("# type: ignore[attr-defined]", False),
    ("# type: ignore  # no code named", False),
])
def test_the_rule_reads_markers_as_documented(comment: str, ok: bool) -> None:
    assert explained(comment) is ok


def test_every_marker_in_the_shipped_code_names_its_codes_and_says_why() -> None:
    files = [p for root in LINTED for p in sorted(root.rglob("*.py"))]
    assert len(files) > 50
    found = [(p, line, c) for p in files for line, c in markers(p)]
    assert found, "the scan finds the markers it checks"
    bare = [f"{p.relative_to(ROOT)}:{line}: {c}" for p, line, c in found if not explained(c)]
    assert not bare, "markers without codes or a reason:\n" + "\n".join(bare)
