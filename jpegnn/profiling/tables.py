"""Plain-text and Markdown tables for profiling output (no dependencies)."""

from __future__ import annotations

from typing import Any, Sequence

__all__ = ["format_value", "text_table", "markdown_table"]


def format_value(value: Any, digits: int = 3) -> str:
    """Numbers to short strings (``None`` -> ``"n/a"``); everything else through ``str``."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        if value == 0:
            return "0"
        magnitude = abs(value)
        if magnitude >= 1000:
            return f"{value:,.0f}"
        if magnitude >= 1:
            return f"{value:.{digits}g}" if magnitude < 10 ** digits else f"{value:.0f}"
        return f"{value:.{digits}g}"
    return str(value)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Fixed-width table; first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers]] + [[format_value(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """GitHub-style Markdown table (TensorBoard's text plugin renders it)."""
    out = ["| " + " | ".join(str(h) for h in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(format_value(v) for v in row) + " |" for row in rows]
    return "\n".join(out)
