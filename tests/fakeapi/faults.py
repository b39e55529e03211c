"""Scriptable faults: which request fails, and how.

A `FaultRule` says *what* goes wrong (`kind` plus its parameters) and *which* requests it hits:
the Nth request since the last reset, requests whose inputs contain a marker string, requests to
one API, or simply the next ones. `times` bounds how often it fires (None: every match, i.e. a
permanent failure). Rules are tried in the order they were added; the first live match wins.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

FAULT_KINDS = (
    "status",  # an HTTP error status with the API's own error body (and Retry-After if given)
    "hang",  # sleep `seconds` (longer than the client timeout), then answer normally
    "drop",  # close the connection without a response (a connection error for the client)
    "malformed_json",  # 200 with a body cut in half
    "wrong_count",  # one vector fewer than inputs
    "nan",  # NaN in the first vector
    "wrong_dimension",  # vectors of `dimension` (default: one less than asked)
)


@dataclass
class FaultRule:
    """One scripted fault. `fired` counts how often it has been applied."""

    kind: str
    times: int | None = 1
    nth: int | None = None
    marker: str | None = None
    api: str | None = None  # "openai" or "cohere"
    status: int = 500
    retry_after: float | None = None
    retry_after_ms: float | None = None
    message: str | None = None
    seconds: float = 0.0
    dimension: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    fired: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; choose one of {FAULT_KINDS}")
        if self.times is not None and self.times < 1:
            raise ValueError(f"times must be >= 1 or None, got {self.times}")

    def matches(self, number: int, api: str, texts: list[str]) -> bool:
        """Whether request `number` (1-based) to `api` with these inputs is targeted."""
        if self.nth is not None and number != self.nth:
            return False
        if self.api is not None and not api.startswith(self.api):
            return False
        if self.marker is not None and not any(self.marker in t for t in texts):
            return False
        return True

    def try_fire(self, number: int, api: str, texts: list[str]) -> bool:
        """Consume one firing if this rule targets the request and has firings left."""
        if not self.matches(number, api, texts):
            return False
        with self._lock:
            if self.times is not None and self.fired >= self.times:
                return False
            self.fired += 1
            return True

    def response_headers(self) -> dict[str, str]:
        """Retry-After (seconds, as given) / retry-after-ms plus any extra headers."""
        out = dict(self.headers)
        if self.retry_after is not None:
            out["Retry-After"] = f"{self.retry_after:g}"
        if self.retry_after_ms is not None:
            out["retry-after-ms"] = f"{self.retry_after_ms:g}"
        return out


def tamper_vectors(rule: FaultRule | None, vectors: list[np.ndarray]) -> list[np.ndarray]:
    """Apply a vector-level fault to a correct response's vectors."""
    if rule is None:
        return vectors
    if rule.kind == "wrong_count":
        return vectors[:-1]
    if rule.kind == "nan":
        first = vectors[0].copy()
        first[0] = np.nan
        return [first, *vectors[1:]]
    if rule.kind == "wrong_dimension":
        size = rule.dimension if rule.dimension is not None else max(1, len(vectors[0]) - 1)
        return [_resize(v, size) for v in vectors]
    return vectors


def _resize(vector: np.ndarray, size: int) -> np.ndarray:
    if size <= len(vector):
        return vector[:size]
    return np.concatenate([vector, np.zeros(size - len(vector), dtype=vector.dtype)])


def cut_json(body: bytes) -> bytes:
    """A body that is no longer valid JSON: the first half of a real one."""
    return body[: max(1, len(body) // 2)]
