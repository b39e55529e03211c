"""The protocol every embedding backend implements, and what a batch call returns."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ..roles import Role


@dataclass
class ProviderBatch:
    """One backend call's result."""

    vectors: np.ndarray
    """(n, d) float32, raw: the `Embedder` truncates dimensions and normalizes."""
    tokens: int = 0
    """Tokens the backend used or billed for this batch (0 when unknown)."""


@runtime_checkable
class Provider(Protocol):
    """Embeds batches of final texts for a role. Prefixes, caching and batching live elsewhere."""

    name: str
    model: str
    max_tokens: int | None
    max_batch_size: int
    dimension: int
    is_remote: bool

    def identity(self) -> dict[str, object]:
        """Everything about the backend that changes vectors (never a secret)."""

    def count_tokens(self, texts: list[str]) -> list[int]: ...

    def split_batches(self, texts: list[str], batch_size: int) -> list[list[int]]:
        """Group text indices into requests that respect the backend's limits."""

    def embed(self, texts: list[str], *, role: Role, prefix: str) -> ProviderBatch: ...

    async def aembed(self, texts: list[str], *, role: Role, prefix: str) -> ProviderBatch: ...


def fixed_size_batches(count: int, batch_size: int) -> list[list[int]]:
    """``[[0..b-1], [b..2b-1], ...]`` for ``count`` items."""
    return [list(range(start, min(start + batch_size, count)))
            for start in range(0, count, batch_size)]


class ThreadedAsyncMixin:
    """`aembed` for blocking backends: run `embed` in a worker thread, off the event loop."""

    async def aembed(self, texts: list[str], *, role: Role, prefix: str) -> ProviderBatch:
        return await asyncio.to_thread(self.embed, texts, role=role, prefix=prefix)  # type: ignore[attr-defined]
