"""Texts, ids and metadata of a `HybridIndex`, by row (rows match BM25 and the vectors).

A delete only forgets the id (O(1)); the row's text stays until the owner compacts, when
`DocumentStore.keep` drops the dead rows in one pass.

Saved as column chunks: per chunk, the UTF-8 bytes of every id, text and metadata JSON in one
``uint8`` array plus an ``int64`` offsets array (no pickle, no per-row parsing). A load
memory-maps them and decodes a row only when a hit needs it, so opening a million documents
takes milliseconds; the id -> row map is built on first use (delete, get, add of an existing
id, ``ids=`` searches). Chunks never change once written: a later save hard-links them and
writes only the rows added since.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import IndexFormatError
from .persistence import Checker, SaveFolder

_COLUMNS = ("ids", "texts", "metadata")


class _Column:
    """Strings packed as UTF-8 bytes + offsets; row i is ``blob[offsets[i]:offsets[i+1]]``.

    ``source`` is the bytes file a loaded column maps: its bytes are only decoded when read,
    so bad UTF-8 (or bad JSON metadata) in a saved index is refused then, naming that file.
    """

    def __init__(self, blob: np.ndarray, offsets: np.ndarray,
                 source: Path | None = None) -> None:
        self.blob, self.offsets, self.source = blob, offsets, source

    def corrupt(self, problem: str) -> IndexFormatError:
        return IndexFormatError(f"{self.source}: {problem}")

    @classmethod
    def pack(cls, values: Sequence[str]) -> _Column:
        encoded = [v.encode("utf-8") for v in values]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        return cls(np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def get(self, row: int) -> str:
        return self._decode(self.blob[self.offsets[row]:self.offsets[row + 1]].tobytes(), row)

    def all(self) -> list[str]:
        data = self.blob.tobytes()
        bounds = self.offsets.tolist()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None  # the row-by-row pass below names the bad row
        if text is not None and len(text) == len(data):  # ASCII: byte offsets are str offsets
            return list(map(text.__getitem__, map(slice, bounds[:-1], bounds[1:])))
        return [self._decode(data[a:b], row) for row, (a, b) in enumerate(zip(bounds, bounds[1:]))]

    def get_json(self, row: int) -> Any:
        return self._json(self.get(row), row)

    def all_json(self) -> list[Any]:
        return [self._json(value, row) for row, value in enumerate(self.all())]

    def _decode(self, data: bytes, row: int) -> str:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise self.corrupt(f"row {row} is not UTF-8") from None

    def _json(self, value: str, row: int) -> Any:
        try:
            decoded = json.loads(value)
        except ValueError:
            raise self.corrupt(f"row {row} is not JSON") from None
        if not isinstance(decoded, dict):
            raise self.corrupt(f"row {row} is not a JSON object")
        return decoded


class _Chunk:
    """Saved rows: one packed column per field; ``name`` is the files' name."""

    def __init__(self, name: str, columns: dict[str, _Column]) -> None:
        self.name, self.columns = name, columns

    def __len__(self) -> int:
        return len(self.columns["ids"])

    def save(self, folder: Path, previous: Path | None) -> None:
        for key, column in self.columns.items():
            for part, array in (("bytes", column.blob), ("offsets", column.offsets)):
                file = f"docs-{self.name}-{key}-{part}.npy"
                source = previous / file if previous is not None else None
                if source is not None and source.is_file():
                    try:
                        os.link(source, folder / file)
                        continue
                    except OSError:
                        shutil.copyfile(source, folder / file)
                        continue
                np.save(folder / file, array, allow_pickle=False)

    @classmethod
    def read(cls, folder: SaveFolder, name: str, rows: int) -> _Chunk:
        """A saved chunk, its arrays checked and memory-mapped."""
        columns = {}
        for key in _COLUMNS:
            stem = f"docs-{name}-{key}"
            blob = folder.read_array(f"{stem}-bytes.npy", np.uint8, (None,), mmap_data=True,
                                     random_access=True)
            offsets = folder.read_array(f"{stem}-offsets.npy", np.int64, (rows + 1,))
            Checker(folder, f"{stem}-offsets.npy").that(
                offsets[0] == 0 and offsets[-1] == blob.size
                and bool(np.all(np.diff(offsets) >= 0)),
                f"offsets must rise from 0 to {blob.size} (the bytes of {stem}-bytes.npy)")
            columns[key] = _Column(blob, offsets, folder.root / f"{stem}-bytes.npy")
        return cls(name, columns)


class DocumentStore:
    """Rows of (id, text, metadata): saved chunks (memory-mapped) then rows added since."""

    def __init__(self) -> None:
        self._chunks: list[_Chunk] = []
        self._starts: list[int] = []  # first row of each chunk
        self._saved_rows = 0
        self._ids: list[str] = []  # rows added since the last save/load
        self._texts: list[str] = []
        self._metas: list[dict[str, Any]] = []
        self._rows: dict[str, int] | None = None  # id -> row of live documents, built lazily
        self._dead: set[int] = set()  # forgotten rows, for the lazily built map
        self._all_metas: list[dict[str, Any]] | None = None

    def __len__(self) -> int:
        return self.num_rows - len(self._dead)

    @property
    def num_rows(self) -> int:
        return self._saved_rows + len(self._ids)

    @property
    def rows(self) -> dict[str, int]:
        """id -> row of every live document."""
        if self._rows is None:
            ids = self.all_ids()
            rows = dict(zip(ids, range(len(ids))))  # each id's last row: the live one, if any
            for row in self._dead:  # an id deleted and never added again has no live row
                if rows.get(ids[row]) == row:
                    del rows[ids[row]]
            if len(rows) != len(ids) - len(self._dead):  # only in a save made elsewhere
                rows = self._live_rows_one_by_one(ids)
            self._rows = rows
        return self._rows

    def _live_rows_one_by_one(self, ids: list[str]) -> dict[str, int]:
        """id -> live row without assuming a live row is its id's last; refuses an id held
        by two live rows."""
        rows: dict[str, int] = {}
        for row, doc_id in enumerate(ids):
            if row in self._dead:
                continue
            if doc_id in rows:
                raise self._duplicate(doc_id, rows[doc_id], row)
            rows[doc_id] = row
        return rows

    def _duplicate(self, doc_id: str, first: int, again: int) -> IndexFormatError:
        """Only a tampered save holds one live id twice (`add` refuses duplicates)."""
        chunk, at = self._locate(again)
        where = chunk.columns["ids"].source if chunk is not None else "the added rows"
        return IndexFormatError(f"{where}: id {doc_id!r} is held by two live rows "
                                f"({first} and {again})")

    def all_ids(self) -> list[str]:
        return [i for c in self._chunks for i in c.columns["ids"].all()] + self._ids

    @property
    def metadatas(self) -> list[dict[str, Any]]:
        """Metadata of every row (decoded once, for filters)."""
        if self._all_metas is None or len(self._all_metas) != self.num_rows:
            saved = [m for c in self._chunks for m in c.columns["metadata"].all_json()]
            self._all_metas = saved + self._metas
        return self._all_metas

    def _locate(self, row: int) -> tuple[_Chunk | None, int]:
        if row >= self._saved_rows:
            return None, row - self._saved_rows
        i = int(np.searchsorted(self._starts, row, side="right")) - 1
        return self._chunks[i], row - self._starts[i]

    def id(self, row: int) -> str:
        chunk, at = self._locate(row)
        return self._ids[at] if chunk is None else chunk.columns["ids"].get(at)

    def text(self, row: int) -> str:
        chunk, at = self._locate(row)
        return self._texts[at] if chunk is None else chunk.columns["texts"].get(at)

    def metadata(self, row: int) -> dict[str, Any]:
        chunk, at = self._locate(row)
        if chunk is None:
            return dict(self._metas[at])
        return chunk.columns["metadata"].get_json(at)

    def append(self, ids: list[str], texts: list[str], metadatas: list[dict[str, Any]]) -> None:
        start = self.num_rows
        self._ids += ids
        self._texts += texts
        self._metas += metadatas
        if self._all_metas is not None:
            self._all_metas += metadatas
        if self._rows is not None:
            self._rows.update((doc_id, start + i) for i, doc_id in enumerate(ids))

    def forget(self, rows: Iterable[int]) -> None:
        for row in rows:
            self._dead.add(row)
            if self._rows is not None:
                self._rows.pop(self.id(row), None)

    def keep(self, rows: np.ndarray) -> None:
        """Keep only ``rows`` (sorted), renumbered 0..len(rows)-1: all in memory after."""
        keep = rows.tolist()
        ids, metas = self.all_ids(), self.metadatas
        texts = [self.text(row) for row in keep]
        self.__init__()
        self.append([ids[i] for i in keep], texts, [metas[i] for i in keep])

    # ---- persistence ------------------------------------------------------------------------
    def save(self, folder: Path, previous: Path | None) -> list[dict[str, object]]:
        """Write the rows added since the last save as a new chunk (earlier chunks are
        hard-linked from ``previous``); returns the chunk list for the manifest."""
        if self._ids:
            columns = {"ids": _Column.pack(self._ids), "texts": _Column.pack(self._texts),
                       "metadata": _Column.pack([json.dumps(m, ensure_ascii=False)
                                                 for m in self._metas])}
            self._starts.append(self._saved_rows)
            self._chunks.append(_Chunk(uuid.uuid4().hex, columns))
            self._saved_rows += len(self._ids)
            self._ids, self._texts, self._metas = [], [], []
        for chunk in self._chunks:
            chunk.save(folder, previous)
        return [{"name": c.name, "rows": len(c)} for c in self._chunks]

    @classmethod
    def read(cls, folder: SaveFolder, entries: list[dict[str, Any]],
             live: np.ndarray) -> DocumentStore:
        """The store saved in ``folder`` (chunks listed by the manifest), memory-mapped."""
        store = cls()
        for entry in entries:
            chunk = _Chunk.read(folder, entry["name"], entry["rows"])
            store._starts.append(store._saved_rows)
            store._chunks.append(chunk)
            store._saved_rows += len(chunk)
        if store.num_rows != len(live):
            raise folder.error("", f"{store.num_rows} documents for {len(live)} BM25 rows")
        store._dead = set(np.flatnonzero(~live).tolist())
        # The id -> row map is built on first use (add, delete, get, ids=): at 1M documents
        # it takes about half a second, which a load followed by searches never needs. A
        # tampered save holding one live id twice is refused then.
        return store
