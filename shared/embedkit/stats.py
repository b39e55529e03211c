"""Counters an `Embedder` keeps: cache hits and misses, tokens, requests, dollars."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, fields, replace


@dataclass(frozen=True)
class EmbedStats:
    """A snapshot of an embedder's counters since it was created (or `reset`)."""

    texts: int = 0
    """Texts asked for, duplicates included."""
    hits: int = 0
    """Distinct texts served from the cache."""
    misses: int = 0
    """Distinct texts sent to the model."""
    duplicates: int = 0
    """Repeats inside one call, embedded once."""
    truncated: int = 0
    """Texts longer than the model's limit."""
    tokens: int = 0
    """Tokens sent to the model (billed tokens for API models)."""
    requests: int = 0
    """Batches sent to the model."""
    dollars: float = 0.0
    """Spent on API calls, from the catalog price."""
    dollars_saved: float = 0.0
    """What the cache hits would have cost."""

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


class StatsCounter:
    """Thread-safe accumulation into `EmbedStats`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stats = EmbedStats()

    def add(self, **deltas: float) -> None:
        with self._lock:
            current = self._stats
            self._stats = replace(current, **{k: getattr(current, k) + v for k, v in deltas.items()})

    def snapshot(self) -> EmbedStats:
        with self._lock:
            return self._stats

    def reset(self) -> None:
        with self._lock:
            self._stats = EmbedStats()


STAT_NAMES = tuple(f.name for f in fields(EmbedStats))
