"""Readable tables by default, JSON with --json."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any


def show(value: Any, *, as_json: bool, columns: Sequence[str] | None = None) -> None:
    if as_json or columns is None:
        print(json.dumps(value, indent=2, ensure_ascii=False, default=str))
        return
    table(value, columns)


def table(rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
    grid([c.upper() for c in columns], [[row.get(column) for column in columns] for row in rows])


def grid(headings: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Aligned columns under `headings`, as they are given."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headings)]
    print("  ".join(h.ljust(w) for h, w in zip(headings, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    if not rows:
        print("(none)")


def pairs(values: dict[str, Any]) -> None:
    width = max((len(k) for k in values), default=0)
    for key, value in values.items():
        print(f"{key.ljust(width)}  {_cell(value)}")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def say(text: str) -> None:
    print(text, file=sys.stderr)


def progress_line(text: str) -> None:
    """On a terminal, one line rewritten in place; otherwise a line each time."""
    if sys.stderr.isatty():
        print(f"\r\033[K{text}", end="", file=sys.stderr, flush=True)
    else:
        print(text, file=sys.stderr, flush=True)


def end_progress() -> None:
    if sys.stderr.isatty():
        print(file=sys.stderr, flush=True)
