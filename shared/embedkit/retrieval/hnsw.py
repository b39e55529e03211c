"""Approximate dense search: a faiss HNSW graph that proposes candidates.

Used by `embedkit.retrieval.vectors.DenseVectors` with ``ann="hnsw"`` once the index holds
``ann_min_rows`` rows (exact search below that). The graph is faiss's ``IndexHNSWSQ``: the
HNSW links plus a float16 copy of each vector (half of float32; 8-bit codes lost recall,
0.980 against 0.996 at 100k, and need fitted ranges), so the float32 rows stay memory-mapped
after a load. It only *proposes* rows: the caller re-scores them with the float32 vectors, so
the scores returned are exact cosines. Chosen over usearch and hnswlib by
`benchmarks/ann_choice.py`: a filter in C++ (a bitmap; hnswlib calls a Python function per
visited node, usearch's Python API has no filter), no new dependency, and a graph that can be
saved as plain arrays and checked before C++ follows it.

Tombstones and metadata filters reach the graph as a faiss ``IDSelectorBitmap``: the walk
crosses disallowed nodes but never returns them.

Saved as plain ``.npy`` arrays (links, offsets, levels, float16 codes) plus the entry point
in the manifest, never faiss's own binary format: everything is validated before it is
copied into faiss, in particular every link, so a hostile file can never make the C++ walk
read outside its arrays (`HnswGraph.restore`). An insert rewrites links of older nodes too,
so every save writes the graph whole (the float32 row chunks are hard-linked as before).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import IndexFormatError
from ..extras import require
from .quantize import allowed_selector

if TYPE_CHECKING:
    from .persistence import SaveFolder
    from .vectors import RowMatrix

ANN_KINDS = ("hnsw",)
DEFAULT_M = 32  # recall@10 at 300k grown by ten adds, ef 512: 0.924 with M=16, 0.998 with 32
DEFAULT_EF_CONSTRUCTION = 100
DEFAULT_EF_SEARCH = 512
DEFAULT_MIN_ROWS = 100_000  # exact float32 search passes ~10 ms on one core here
STATE_FILES = {"neighbors": np.int32, "offsets": np.uint64, "levels": np.int32,
               "codes": np.uint8}


class HnswGraph:
    """An HNSW graph over row vectors (row i of the owner is node i).

    Args:
        dimension: vector size.
        m: links per node per level (twice that on level 0).
        ef_construction: candidate list size while inserting.
        ef_search: candidate list size while searching (raised to the depth asked).
    """

    def __init__(self, dimension: int, *, m: int = DEFAULT_M,
                 ef_construction: int = DEFAULT_EF_CONSTRUCTION,
                 ef_search: int = DEFAULT_EF_SEARCH) -> None:
        self.faiss = require("faiss", extra="compact")
        self.dimension, self.m = dimension, m
        self.ef_construction, self.ef_search = ef_construction, ef_search
        self.index = self._empty()

    def _empty(self):
        index = self.faiss.IndexHNSWSQ(self.dimension, self.faiss.ScalarQuantizer.QT_fp16,
                                       self.m, self.faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self.ef_construction
        return index

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @property
    def nbytes(self) -> int:
        """Bytes of the codes and the links."""
        hnsw = self.index.hnsw
        return (len(self) * self._code_size + hnsw.neighbors.size() * 4
                + hnsw.offsets.size() * 8)

    @property
    def _code_size(self) -> int:
        return 2 * self.dimension  # float16

    def add(self, vectors: np.ndarray) -> None:
        """Insert ``vectors`` as the next nodes (no rebuild)."""
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def candidates(self, query: np.ndarray, depth: int, allowed: np.ndarray | None,
                   boost: float = 1.0) -> np.ndarray:
        """Up to ``depth`` rows near ``query`` among ``allowed`` (all rows when None), with
        the search breadth multiplied by ``boost``."""
        depth = min(depth, len(self))
        if depth <= 0:
            return np.empty(0, dtype=np.int64)
        selector = None if allowed is None else allowed_selector(self.faiss, allowed[:len(self)])
        params = self.faiss.SearchParametersHNSW(efSearch=int(max(self.ef_search, depth) * boost),
                                                 sel=selector)
        _, rows = self.index.search(np.ascontiguousarray(query[None, :], dtype=np.float32),
                                    depth, params=params)
        rows = rows[0]
        return rows[rows >= 0].astype(np.int64)

    # ---- persistence ------------------------------------------------------------------------
    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(manifest settings, arrays) for a save."""
        hnsw, storage = self.index.hnsw, self._storage()
        arrays = {"neighbors": self.faiss.vector_to_array(hnsw.neighbors),
                  "offsets": self.faiss.vector_to_array(hnsw.offsets),
                  "levels": self.faiss.vector_to_array(hnsw.levels),
                  "codes": self.faiss.vector_to_array(storage.codes).reshape(
                      len(self), self._code_size)}
        settings = {"m": self.m, "ef_construction": self.ef_construction,
                    "entry_point": int(hnsw.entry_point), "max_level": int(hnsw.max_level)}
        return settings, arrays

    def _storage(self):
        return self.faiss.downcast_index(self.index.storage)

    def restore(self, settings: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Copy a saved graph into faiss after checking it; ValueError names the array.

        Every link must name a node, and every link above level 0 a node that has that
        level: faiss follows them without bounds checks.
        """
        count = len(arrays["levels"])
        index = self._empty()
        hnsw = index.hnsw
        cum = self.faiss.vector_to_array(hnsw.cum_nneighbor_per_level).astype(np.int64)
        levels = arrays["levels"].astype(np.int64)
        offsets = arrays["offsets"]
        _check_shapes(arrays, count, self._code_size, len(cum) - 1)
        _check_layout(levels, offsets, cum)
        entry, top = _check_entry(settings, levels)
        _check_links(arrays["neighbors"], levels, offsets, cum)
        faiss = self.faiss
        storage = faiss.downcast_index(index.storage)
        faiss.copy_array_to_vector(np.ascontiguousarray(arrays["codes"]).ravel(),
                                   storage.codes)
        storage.ntotal, storage.is_trained = count, True
        faiss.copy_array_to_vector(np.ascontiguousarray(arrays["neighbors"]), hnsw.neighbors)
        faiss.copy_array_to_vector(np.ascontiguousarray(offsets), hnsw.offsets)
        faiss.copy_array_to_vector(np.ascontiguousarray(arrays["levels"]), hnsw.levels)
        hnsw.entry_point, hnsw.max_level = entry, top
        index.ntotal, index.is_trained = count, True
        self.index = index


def _check_shapes(arrays: dict[str, np.ndarray], count: int, code_size: int,
                  max_levels: int) -> None:
    if arrays["offsets"].shape != (count + 1,):
        raise ValueError(f"offsets: shape {arrays['offsets'].shape}, expected ({count + 1},)")
    if arrays["codes"].shape != (count, code_size):
        raise ValueError(f"codes: shape {arrays['codes'].shape}, expected ({count}, "
                         f"{code_size})")
    # Any float16 bits are safe to compute with (a NaN code only ranks its node last).
    levels = arrays["levels"]
    if count and (levels.min() < 1 or levels.max() > max_levels):
        raise ValueError(f"levels: values must be in [1, {max_levels}]")


def _check_layout(levels: np.ndarray, offsets: np.ndarray, cum: np.ndarray) -> None:
    """Node i's links fill offsets[i]..offsets[i+1], as many as its levels hold."""
    if offsets[0] != 0 or not np.array_equal(np.diff(offsets.astype(np.int64)), cum[levels]):
        raise ValueError("offsets: do not match the levels (links per node)")


def _check_entry(settings: dict[str, Any], levels: np.ndarray) -> tuple[int, int]:
    entry, top = settings["entry_point"], settings["max_level"]
    if not len(levels):
        if entry != -1 or top != -1:
            raise ValueError("entry_point and max_level must be -1 for an empty graph")
        return entry, top
    if not 0 <= entry < len(levels) or top != int(levels.max()) - 1 \
            or int(levels[entry]) - 1 != top:
        raise ValueError(f"entry_point {entry} / max_level {top} do not match the levels")
    return entry, top


def _check_links(neighbors: np.ndarray, levels: np.ndarray, offsets: np.ndarray,
                 cum: np.ndarray) -> None:
    count = len(levels)
    total = int(offsets[-1]) if count else 0
    if neighbors.shape != (total,):
        raise ValueError(f"neighbors: shape {neighbors.shape}, expected ({total},)")
    if total and (int(neighbors.min()) < -1 or int(neighbors.max()) >= count):
        raise ValueError(f"neighbors: a link names no node (not in [-1, {count}))")
    starts = offsets[:-1].astype(np.int64)
    for level in range(1, int(levels.max(initial=0))):
        nodes = np.flatnonzero(levels > level)
        slots = starts[nodes, None] + np.arange(cum[level], cum[level + 1])
        links = neighbors[slots]
        links = links[links >= 0]
        if (levels[links] <= level).any():
            raise ValueError(f"neighbors: a level-{level} link names a node without that level")


class AnnSearch:
    """When and how the graph is used, for `DenseVectors` with ``ann="hnsw"``.

    Below ``min_rows`` rows there is no graph and the owner searches exactly. Crossing it
    builds the graph once over every row; later adds are inserted (a compaction builds it
    again: faiss cannot remove a node).

    Args:
        dimension: vector size.
        min_rows: rows from which the graph is used.
        ef_search: the graph's search breadth (raised to the depth asked).
    """

    def __init__(self, dimension: int, min_rows: int = DEFAULT_MIN_ROWS,
                 ef_search: int = DEFAULT_EF_SEARCH) -> None:
        check_ann("hnsw", min_rows, ef_search)
        require("faiss", extra="compact")  # fail at construction, not at the 100,000th add
        self.dimension, self.min_rows, self.ef_search = dimension, min_rows, ef_search
        self.graph: HnswGraph | None = None

    @property
    def nbytes(self) -> int:
        return 0 if self.graph is None else self.graph.nbytes

    def added(self, full: RowMatrix, vectors: np.ndarray) -> None:
        """``vectors`` were appended to ``full``."""
        total = len(full)
        if total < max(self.min_rows, 1):
            return
        if self.graph is None:
            self.rebuild(full)
        else:
            self.graph.add(vectors)

    def rebuild(self, full: RowMatrix) -> None:
        """A graph over every row of ``full`` (none below ``min_rows``)."""
        if len(full) < max(self.min_rows, 1):
            self.graph = None
            return
        graph = HnswGraph(self.dimension, ef_search=self.ef_search)
        for block in full.blocks():  # block by block: no full float32 copy
            graph.add(block)
        self.graph = graph

    def candidates(self, query: np.ndarray, depth: int,
                   allowed: np.ndarray | None) -> np.ndarray | None:
        """Rows to re-score exactly, or None when the owner should search exactly.

        A selective filter (few allowed rows) gets every allowed row: scoring them is cheap
        and the graph would walk mostly disallowed nodes (recall falls). Otherwise the search
        breadth grows as the share of allowed rows shrinks (up to 8x).
        """
        if self.graph is None:
            return None
        if allowed is None:
            return self.graph.candidates(query, depth, None)
        count = int(np.count_nonzero(allowed))
        if count <= max(self.min_rows // 4, 10 * depth):
            return np.flatnonzero(allowed)
        return self.graph.candidates(query, depth, allowed, min(8.0, len(allowed) / count))

    # ---- persistence ------------------------------------------------------------------------
    def save(self, folder: Path) -> dict[str, Any] | None:
        """Write the graph's arrays; returns the manifest entry (None: no graph)."""
        if self.graph is None:
            return None
        settings, arrays = self.graph.state()
        for name, array in arrays.items():
            np.save(folder / f"hnsw_{name}.npy", array, allow_pickle=False)
        return settings

    def read(self, folder: SaveFolder, entry: dict[str, Any] | None, full: RowMatrix) -> None:
        """The graph saved by `save` for the rows of ``full``; IndexFormatError names the
        file. None below ``min_rows``; built when the save has none (saved without ``ann``)."""
        count = len(full)
        if count < max(self.min_rows, 1):
            return
        if entry is None:
            self.rebuild(full)
            return
        _check_entry_keys(folder, entry)
        arrays = {}
        for name, dtype in STATE_FILES.items():
            shape = {"neighbors": (None,), "offsets": (count + 1,), "levels": (count,),
                     "codes": (count, 2 * self.dimension)}[name]
            # The codes are mapped (faiss copies them once; any bytes are safe to compute
            # with). The links are read into our own memory: checked there, a file changed
            # after the check cannot reach faiss.
            arrays[name] = folder.read_array(f"hnsw_{name}.npy", dtype, shape,
                                             mmap_data=name == "codes")
        graph = HnswGraph(self.dimension, m=entry["m"], ef_construction=entry["ef_construction"],
                          ef_search=self.ef_search)
        try:
            graph.restore(entry, arrays)
        except ValueError as exc:
            name = str(exc).split(":", 1)[0]
            if name in STATE_FILES:
                raise folder.error(f"hnsw_{name}.npy", str(exc)) from None
            raise _manifest_error(folder, f"vectors.ann: {exc}") from None
        self.graph = graph


def _check_entry_keys(folder: SaveFolder, entry: Any) -> None:
    keys = ("m", "ef_construction", "entry_point", "max_level")
    ok = isinstance(entry, dict) and sorted(entry) == sorted(keys) and all(
        isinstance(entry[k], int) and not isinstance(entry[k], bool) for k in keys)
    if not ok or not (2 <= entry["m"] <= 256 and 1 <= entry["ef_construction"] <= 65_536):
        raise _manifest_error(folder, f"vectors.ann must be an object of integers {keys} "
                              f"(m in [2, 256]), got {entry!r:.200}")


def _manifest_error(folder: SaveFolder, problem: str) -> IndexFormatError:
    """The graph's settings live in the version's manifest, beside the vectors folder."""
    return IndexFormatError(f"{folder.root.parent / 'manifest.json'}: {problem}")


def check_ann(ann: str | None, ann_min_rows: int, ef_search: int) -> None:
    """ValueError naming the setting when one is not valid."""
    if ann is not None and ann not in ANN_KINDS:
        raise ValueError(f"unknown ann {ann!r}; choose None (exact) or one of {ANN_KINDS}")
    for name, value, low in (("ann_min_rows", ann_min_rows, 0), ("ef_search", ef_search, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
