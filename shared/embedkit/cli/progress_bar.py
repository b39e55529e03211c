"""One progress bar with an ETA over a whole command's embedding work.

Used with `embedkit.progress.report_progress(bar.advance)`: the embedders then draw no bars of
their own and report each batch of texts here. Drawn only when stderr is a terminal.
"""

from __future__ import annotations

from typing import Any


class OverallBar:
    """A rich bar counting texts: ``advance`` for texts embedded, ``reach`` to skip forward over
    texts served from the cache (they never pass through a model batch).

    Args:
        messages: the rich Console on stderr the bar (and `print`) writes to.
        total: texts in the whole job; 0 draws nothing.
        description: shown left of the bar.
    """

    def __init__(self, messages: Any, *, total: int, description: str = "embedding") -> None:
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        self.total = total
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("texts"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=messages, disable=total == 0 or not messages.is_terminal)
        self.task = self.progress.add_task(description, total=total)

    def __enter__(self) -> OverallBar:
        self.progress.start()
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.reach(self.total)
        self.progress.stop()

    def advance(self, texts: int) -> None:
        self.progress.advance(self.task, texts)

    def reach(self, done: int, description: str | None = None) -> None:
        """At least ``done`` texts are finished (never moves back)."""
        completed = max(self.progress.tasks[0].completed, done)
        if description is None:
            self.progress.update(self.task, completed=completed)
        else:
            self.progress.update(self.task, completed=completed, description=description)

    def print(self, text: str) -> None:
        """A line above the bar."""
        self.progress.console.print(text)
