"""The dense side of `HybridIndex`: row-aligned float32 vectors, optional compact codes.

Rows match the BM25 rows: a delete is a tombstone in the owner's live mask (nothing moves);
`DenseVectors.keep` compacts once the owner decides to (amortized). Adding never copies the
whole matrix: rows go into blocks, the last one growing by capacity doubling, and a search
multiplies block by block.

Modes (``vectors=``):

- ``"float32"``: exact inner products over every row (the default).
- ``"int8"`` / ``"binary"``: `embedkit.retrieval.quantize` codes propose ``rescore`` x depth
  candidates; their float32 vectors are read back (from a memory map after a load, so only the
  pages of those rows come into memory) and the final scores are exact.

``ann="hnsw"`` (float32 only): from ``ann_min_rows`` rows on, an HNSW graph
(`embedkit.retrieval.hnsw`) proposes ``rescore`` x depth candidates instead of the full scan;
they are re-scored from the float32 rows, so the scores are exact, the ranking approximate.

Saved as chunk files ``vectors-<name>.npy`` (float32 rows, never changed once written, so a
later save hard-links them) plus the codes of a compact mode. A load memory-maps the chunks.
Scanning a mapped chunk for NaN at load would read every page (1.5 GB at 1M x 384), so a loaded
chunk is checked where a search reads it instead: a non-finite score from a loaded chunk raises
`IndexFormatError` naming the file and row (added vectors are checked when added).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import IndexFormatError
from ..extras import require
from .hnsw import DEFAULT_EF_SEARCH, DEFAULT_MIN_ROWS, AnnSearch, check_ann
from .persistence import VECTOR_MODES, SaveFolder
from .quantize import CODECS

DEFAULT_RESCORE = {"float32": 1, "int8": 4, "binary": 20}
_BLOCK_ROWS = 65_536  # the growing tail is frozen into a block at this size
_MAX_CHUNKS = 8  # a save with more chunk files than this writes one consolidated chunk


class _Chunk:
    """A block of rows; ``name`` is its file's name once saved (None until then), ``source``
    the file it was loaded from (its rows are untrusted until a search reads them)."""

    def __init__(self, data: np.ndarray, name: str | None = None,
                 source: Path | None = None) -> None:
        self.data, self.name, self.source = data, name, source

    def check(self, values: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """``values`` computed from this chunk's ``rows`` (all rows when None), refused when
        a loaded file's row is not finite."""
        if self.source is not None and not np.isfinite(values).all():
            bad = int(np.flatnonzero(~np.isfinite(values).reshape(len(values), -1).all(axis=1))[0])
            row = bad if rows is None else int(rows[bad])
            raise IndexFormatError(f"{self.source}: row {row} is not a finite vector "
                                   "(NaN or infinity in a saved index)")
        return values


class RowMatrix:
    """float32 rows in blocks: frozen chunks (possibly memory-mapped) plus a growing tail."""

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self.chunks: list[_Chunk] = []
        self._tail = np.empty((0, dimension), dtype=np.float32)
        self._tail_size = 0

    def __len__(self) -> int:
        return sum(len(c.data) for c in self.chunks) + self._tail_size

    def blocks(self) -> Iterator[np.ndarray]:
        for chunk in self._all_chunks():
            yield chunk.data

    def _all_chunks(self) -> Iterator[_Chunk]:
        yield from self.chunks
        if self._tail_size:
            yield _Chunk(self._tail[:self._tail_size])

    def append(self, vectors: np.ndarray) -> None:
        for start in range(0, len(vectors), _BLOCK_ROWS):
            self._append_part(vectors[start:start + _BLOCK_ROWS])

    def _append_part(self, part: np.ndarray) -> None:
        need = self._tail_size + len(part)
        if need > _BLOCK_ROWS:
            self._freeze_tail()
            need = len(part)
        if need > len(self._tail):
            grown = np.empty((min(max(need, 2 * len(self._tail), 64), _BLOCK_ROWS),
                              self.dimension), dtype=np.float32)
            grown[:self._tail_size] = self._tail[:self._tail_size]
            self._tail = grown
        self._tail[self._tail_size:need] = part
        self._tail_size = need

    def _freeze_tail(self) -> None:
        if self._tail_size:
            self.chunks.append(_Chunk(self._tail[:self._tail_size].copy()))
        self._tail = np.empty((0, self.dimension), dtype=np.float32)
        self._tail_size = 0

    def scores(self, query: np.ndarray) -> np.ndarray:
        """Inner product of every row with ``query`` (float32)."""
        with np.errstate(invalid="ignore", over="ignore"):  # a bad saved row: check() says
            parts = [chunk.check(chunk.data @ query) for chunk in self._all_chunks()]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.float32)

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The float32 vectors of ``rows`` (any order)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), self.dimension), dtype=np.float32)
        start = 0
        for chunk in self._all_chunks():
            inside = (rows >= start) & (rows < start + len(chunk.data))
            if inside.any():
                local = rows[inside] - start
                out[inside] = chunk.check(chunk.data[local], local)
            start += len(chunk.data)
        return out

    def everything(self) -> np.ndarray:
        parts = list(self.blocks())
        if not parts:
            return np.empty((0, self.dimension), dtype=np.float32)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def keep(self, rows: np.ndarray) -> None:
        kept = self.take(rows)
        self.chunks, self._tail, self._tail_size = [_Chunk(kept)], kept[:0], 0

    # ---- persistence ------------------------------------------------------------------------
    def save(self, folder: Path, previous: Path | None) -> list[dict[str, object]]:
        """Write the rows as chunk files; chunks already saved in ``previous`` are
        hard-linked. Returns the chunk list for the manifest."""
        self._freeze_tail()
        if len(self.chunks) > _MAX_CHUNKS:
            self.chunks = [_Chunk(self.everything())]
        entries = []
        for chunk in self.chunks:
            source = previous / _chunk_file(chunk.name) if previous and chunk.name else None
            if source is not None and source.is_file():
                _link_or_copy(source, folder / source.name)
            else:
                chunk.name = uuid.uuid4().hex
                np.save(folder / _chunk_file(chunk.name), chunk.data, allow_pickle=False)
            entries.append({"name": chunk.name, "rows": len(chunk.data)})
        return entries

    @classmethod
    def read(cls, folder: SaveFolder, entries: list[dict[str, Any]], dimension: int, *,
             random_access: bool = False) -> RowMatrix:
        """Chunks listed by the manifest, checked and memory-mapped. ``random_access``: only
        single rows will be read (a compact mode re-scoring candidates), so no read-ahead;
        an exact search scans every row and needs it (a cold scan of 1.5 GB without
        read-ahead took 27 s here)."""
        matrix = cls(dimension)
        for entry in entries:
            data = folder.read_array(_chunk_file(entry["name"]), np.float32,
                                     (entry["rows"], dimension), mmap_data=True,
                                     random_access=random_access)
            source = folder.root / _chunk_file(entry["name"])
            matrix.chunks.append(_Chunk(data, entry["name"], source))
        return matrix


class DenseVectors:
    """Row-aligned vectors of one mode; finds the best rows for a query vector.

    Args:
        dimension: the embedder's dimension.
        mode: ``"float32"``, ``"int8"`` or ``"binary"``.
        rescore: candidates re-scored in float32 per result wanted, for compact modes
            (default 4 for int8, 20 for binary: recall@10 0.978 at 1M, 0.946 with 10) and
            the HNSW graph (default 1).
        ann: ``"hnsw"`` for approximate search from ``ann_min_rows`` rows on (float32
            only), None (default) for exact search.
        ann_min_rows: rows from which the graph is used (exact search below).
        ef_search: the graph's search breadth (higher: better recall, slower).
    """

    def __init__(self, dimension: int, mode: str = "float32", rescore: int | None = None, *,
                 ann: str | None = None, ann_min_rows: int = DEFAULT_MIN_ROWS,
                 ef_search: int = DEFAULT_EF_SEARCH) -> None:
        check_dense_options(mode, ann, ann_min_rows, ef_search)
        rescore = DEFAULT_RESCORE[mode] if rescore is None else rescore
        if not isinstance(rescore, int) or rescore < 1:
            raise ValueError(f"rescore must be a positive int, got {rescore!r}")
        self.dimension, self.mode, self.rescore = dimension, mode, rescore
        self.full = RowMatrix(dimension)
        self.codes = CODECS[mode](dimension) if mode in CODECS else None
        self.ann = AnnSearch(dimension, ann_min_rows, ef_search) if ann else None

    def __len__(self) -> int:
        return len(self.full)

    @property
    def resident_bytes(self) -> int:
        """Bytes of the searched representation (codes for compact modes, else float32)."""
        if self.codes is not None:
            return self.codes.nbytes
        if self.ann is not None and self.ann.graph is not None:
            return self.ann.nbytes  # float32 rows are read back for the candidates only
        return len(self) * self.dimension * 4

    def add(self, vectors: np.ndarray) -> None:
        self.full.append(vectors)
        if self.codes is not None:
            self.codes.add(vectors, self.full.everything)
        if self.ann is not None:
            self.ann.added(self.full, vectors)

    def keep(self, rows: np.ndarray) -> None:
        """Keep only ``rows`` (sorted), renumbered 0..len(rows)-1: a compaction."""
        self.full.keep(rows)
        if self.codes is not None:
            self.codes.keep(rows)
        if self.ann is not None:  # faiss cannot drop graph nodes: a new graph
            self.ann.rebuild(self.full)

    def top(self, query: np.ndarray, depth: int,
            allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(rows, exact float32 scores) of the best ``depth`` allowed rows, best first."""
        proposed = None if self.ann is None else self.ann.candidates(
            query, depth * self.rescore, allowed)
        if proposed is not None:
            rows, values = proposed, self.scores_for(query, proposed)
        elif self.codes is None:
            scores = self.full.scores(query)
            if allowed is not None:
                scores = np.where(allowed, scores, -np.inf)
            depth = min(depth, int(np.isfinite(scores).sum()))
            if depth <= 0:
                return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
            rows = np.argpartition(-scores, depth - 1)[:depth]
            values = scores[rows]
        else:
            rows = self.codes.candidates(query, depth * self.rescore, allowed)
            values = self.scores_for(query, rows)
        order = np.lexsort((rows, -values))[:depth]
        return rows[order].astype(np.int64), values[order]

    def scores_for(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Exact inner products of ``rows`` with ``query``."""
        if len(rows) == 0:
            return np.empty(0, dtype=np.float32)
        return self.full.take(rows) @ query

    # ---- persistence ------------------------------------------------------------------------
    def save(self, folder: Path, previous: Path | None) -> dict[str, object]:
        entry: dict[str, object] = {"mode": self.mode, "rescore": self.rescore,
                                    "chunks": self.full.save(folder, previous)}
        if self.codes is not None:
            for key, array in self.codes.state().items():
                np.save(folder / f"{self.mode}_{key}.npy", array, allow_pickle=False)
        if self.ann is not None:
            entry["ann"] = self.ann.save(folder)
        return entry

    @classmethod
    def read(cls, folder: SaveFolder, entry: dict[str, Any], dimension: int,
             count: int, **ann: Any) -> DenseVectors:
        """Vectors saved by `save` (manifest ``entry``), for ``count`` rows.

        The float32 chunks are memory-mapped and not scanned for NaN here (that would read
        every page): a search that reads a non-finite row raises `IndexFormatError`.
        ``ann``: the owner's ``ann``, ``ann_min_rows`` and ``ef_search``; with ``ann`` set
        the saved graph is read (or built, when the save has none and ``count`` is past
        ``ann_min_rows``).
        """
        vectors = cls(dimension, entry["mode"], entry["rescore"], **ann)
        graph = (vectors.ann is not None and entry.get("ann") is not None
                 and count >= max(vectors.ann.min_rows, 1))
        # Re-scoring candidates (compact codes or a saved graph) reads single rows: no
        # read-ahead (building a graph at load reads every row: read-ahead kept).
        vectors.full = RowMatrix.read(folder, entry["chunks"], dimension,
                                      random_access=vectors.codes is not None or graph)
        if len(vectors.full) != count:
            raise folder.error("", f"{len(vectors.full)} vectors for {count} rows")
        if vectors.codes is not None:
            state = vectors.codes.read_state(folder, count)
            try:
                vectors.codes.restore(state)
            except ValueError as exc:
                raise folder.error(f"{vectors.mode}_codes.npy", str(exc)) from None
        if vectors.ann is not None:
            vectors.ann.read(folder, entry.get("ann"), vectors.full)
        return vectors


def check_dense_options(mode: str, ann: str | None, ann_min_rows: int, ef_search: int) -> None:
    """ValueError naming the setting when the dense side's options are unknown or do not fit
    together, ImportError naming the extra when ``ann`` needs faiss (checked by `HybridIndex`
    at construction, before any vector exists, not at the add that crosses
    ``ann_min_rows``)."""
    if mode not in VECTOR_MODES:
        raise ValueError(f"unknown vectors mode {mode!r}; choose one of "
                         f"{', '.join(VECTOR_MODES)}")
    check_ann(ann, ann_min_rows, ef_search)
    if ann is not None and mode != "float32":
        raise ValueError(f"ann={ann!r} works with vectors='float32' only (the graph keeps "
                         f"its own float16 copy), got vectors={mode!r}")
    if ann is not None:
        require("faiss", extra="compact")


def _chunk_file(name: str | None) -> str:
    return f"vectors-{name}.npy"


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or no hard links
        shutil.copyfile(source, target)
