"""`CostTracker`: an append-only JSON-lines ledger of what premium (API) embedding spent and saved.

A `TwoStageRetriever` writes one line per query and a corpus snapshot whenever its `stats` are
read; `embedkit cost report` sums the file. JSON only (no pickle); each line is written with one
``write`` in append mode, so several processes can share a ledger, and a line cut short by a
crash is skipped when reading.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

LEDGER_NAME = "cost-ledger.jsonl"

_SUMMED = ("queries", "escalated", "forced", "skipped_budget", "failed", "documents_sent",
           "tokens", "dollars", "dollars_saved")


def default_ledger_path(cache_dir: str | Path | None = None) -> Path:
    """``<cache dir>/cost-ledger.jsonl``; the default cache dir when none is given."""
    from ..cache import default_cache_dir

    return Path(cache_dir).expanduser() / LEDGER_NAME if cache_dir else (
        default_cache_dir() / LEDGER_NAME)


class CostTracker:
    """Records cost events in memory and, when ``path`` is set, appends them to a ledger file.

    Args:
        path: the ledger file (created with its folder on first write); None keeps events in
            memory only.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path).expanduser() if path else None
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def record(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Add one event (``kind`` is ``"query"`` or ``"corpus"``); returns it as stored."""
        event = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                 "kind": kind, **fields}
        line = json.dumps(event, ensure_ascii=False, allow_nan=False) + "\n"
        with self._lock:
            self._events.append(event)
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(line)
        return event

    @property
    def events(self) -> list[dict[str, Any]]:
        """What this tracker recorded since it was created (not what the file held before)."""
        with self._lock:
            return list(self._events)

    def summary(self) -> list[LedgerSummary]:
        return summarize(self.events)

    @staticmethod
    def read(path: str | Path) -> list[dict[str, Any]]:
        """Every complete event in a ledger file, oldest first."""
        events = []
        with Path(path).expanduser().open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a crash: the rest of the ledger still counts
                if isinstance(event, dict) and "kind" in event:
                    events.append(event)
        return events

    def __repr__(self) -> str:
        return f"CostTracker(path={str(self.path) if self.path else None!r})"


@dataclass
class LedgerSummary:
    """Totals for one retriever (``source``) and premium model, over a ledger."""

    source: str
    model: str
    queries: int = 0
    escalated: int = 0
    forced: int = 0
    skipped_budget: int = 0
    failed: int = 0
    documents_sent: int = 0
    tokens: int = 0
    dollars: float = 0.0
    dollars_saved: float = 0.0
    corpus: dict[str, Any] = field(default_factory=dict)
    """The latest corpus snapshot: documents, documents paid, full-corpus cost."""
    budget: dict[str, Any] | None = None
    """The budget as of the latest event."""
    first: str | None = None
    last: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(events: Iterable[Mapping[str, Any]]) -> list[LedgerSummary]:
    """Sum query events and keep the latest snapshots, per (source, model), in first-seen order."""
    table: dict[tuple[str, str], LedgerSummary] = {}
    for event in events:
        key = (str(event.get("source", "?")), str(event.get("model", "?")))
        row = table.setdefault(key, LedgerSummary(*key, first=event.get("time")))
        row.last = event.get("time", row.last)
        if event.get("budget") is not None:
            row.budget = dict(event["budget"])
        if event.get("kind") == "corpus":
            row.corpus = {k: event[k] for k in ("documents", "paid", "paid_share",
                                                "full_corpus_dollars") if k in event}
        elif event.get("kind") == "query":
            for name in _SUMMED:
                value = 1 if name == "queries" else event.get(name, 0)
                setattr(row, name, getattr(row, name) + (int(value) if isinstance(value, bool)
                                                         else value))
    return list(table.values())
