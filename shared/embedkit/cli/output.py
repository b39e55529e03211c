"""How commands print: rich tables readable in a terminal and through a pipe, and JSON.

The JSON convention of every command: ``--json`` prints machine-readable JSON to stdout (one
object per line for lists of rows: models, recommend, cost; one document for a single result:
bench, demo, cache stats, finetune, bulk) and sends any human-readable text to stderr.
``--output FILE`` writes the full result to a file where that is useful (bench, demo, embed).
"""

from __future__ import annotations

import json
import sys
from typing import Any

# Wide enough for any table we print: rich then sizes tables to their content, so a pipe or
# a file gets every cell whole (rich's default for a non-terminal is 80 columns and "…").
PIPE_WIDTH = 4000


def console(*, stderr: bool = False) -> Any:
    """A rich Console on stdout (or stderr); when that is not a terminal, nothing is cut."""
    from rich.console import Console

    terminal = Console(stderr=stderr, highlight=False)
    if terminal.is_terminal:
        return terminal
    return Console(stderr=stderr, highlight=False, width=PIPE_WIDTH, soft_wrap=False)


def print_json(payload: Any) -> None:
    """One JSON document on one line of stdout (pipe it through ``jq`` to read it)."""
    sys.stdout.write(json.dumps(payload, allow_nan=True) + "\n")


def print_json_lines(rows: Any) -> None:
    """One compact JSON object per line on stdout."""
    for row in rows:
        sys.stdout.write(json.dumps(row) + "\n")


def add_columns(rich_table: Any, names: Any, *, right: tuple[str, ...] = ()) -> None:
    """Columns whose cells fold (wrap) instead of ending in "…" in a narrow terminal."""
    for name in names:
        rich_table.add_column(name, overflow="fold",
                              justify="right" if name in right else "left")


def fold(rich_table: Any) -> Any:
    """Make every column of a ready-made table fold its cells instead of cutting them."""
    for column in rich_table.columns:
        column.overflow = "fold"
        column.no_wrap = False
    return rich_table
