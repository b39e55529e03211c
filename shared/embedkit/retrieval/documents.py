"""Texts, ids and metadata of a `HybridIndex`, by row (rows match BM25 and the vectors).

A delete only forgets the id (O(1)); the row's text stays until the owner compacts, when
`DocumentStore.keep` drops the dead rows in one pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np


class DocumentStore:
    """Fields:
        ids, texts, metadatas: one entry per row (deleted rows keep theirs until `keep`).
        rows: id -> row of every live document.
    """

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.texts: list[str] = []
        self.metadatas: list[dict[str, Any]] = []
        self.rows: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def num_rows(self) -> int:
        return len(self.ids)

    def append(self, ids: list[str], texts: list[str], metadatas: list[dict[str, Any]]) -> None:
        start = len(self.ids)
        self.ids += ids
        self.texts += texts
        self.metadatas += metadatas
        self.rows.update((doc_id, start + i) for i, doc_id in enumerate(ids))

    def forget(self, rows: Iterable[int]) -> None:
        for row in rows:
            self.rows.pop(self.ids[row], None)

    def keep(self, rows: np.ndarray) -> None:
        """Keep only ``rows`` (sorted), renumbered 0..len(rows)-1."""
        keep = rows.tolist()
        self.ids = [self.ids[i] for i in keep]
        self.texts = [self.texts[i] for i in keep]
        self.metadatas = [self.metadatas[i] for i in keep]
        self.rows = {doc_id: i for i, doc_id in enumerate(self.ids)}
