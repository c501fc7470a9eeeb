"""Writes one benchmark's section into docs/benchmarks.md, replacing an older copy of it."""

from __future__ import annotations

import datetime
import os
import platform
import re
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = ("# Benchmarks\n\nEach section is written by the script named in it; rerun the command to refresh it.\n"
          "Machine for the committed numbers: 2 CPU cores, no GPU, unless a section says otherwise.\n")


def replace_section(text: str, doc: Path = DOC) -> None:
    """Put a ready-made ``## title`` section into ``doc``, replacing the section of that title."""
    title = text.splitlines()[0][3:].strip()
    current = doc.read_text() if doc.exists() else HEADER
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    section = text.strip() + "\n"
    if pattern.search(current):
        current = pattern.sub(lambda _: section + "\n", current)
    else:
        current = current.rstrip() + "\n\n" + section
    doc.parent.mkdir(exist_ok=True)
    doc.write_text(current)


def write_section(title: str, command: str, body: str) -> None:
    """Replace (or append) the ``## title`` section with the command, date, machine and body."""
    text = DOC.read_text() if DOC.exists() else HEADER
    stamp = datetime.date.today().isoformat()
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    section = f"## {title}\n\nCommand: `{command}` ({stamp}; {machine})\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text)
