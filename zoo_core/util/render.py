"""Plain-text rendering shared by the ``zoo`` CLI and the commands plugins add to it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def table_lines(header: Sequence[object], rows: Iterable[Sequence[object]]) -> list[str]:
    """Columns padded to their widest cell, two spaces apart, no trailing blanks; the header first."""
    table = [tuple(str(cell) for cell in row) for row in (header, *rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in table]
