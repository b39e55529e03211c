"""Compact codes for dense vectors, searched fast and then re-scored in full precision.

- :class:`Int8Codes`: scalar quantization to one byte per dimension (4x smaller than float32)
  with per-dimension ranges taken from the corpus (min/max, the scheme of sentence-transformers'
  ``quantize_embeddings(precision="int8")``), searched with faiss's ``IndexScalarQuantizer``
  (SIMD; 52 ms per query at 1M x 384 on one core, where numpy needs over 1 s to widen the
  int8 codes for a matrix product). The ranges are re-fitted whenever the corpus has doubled
  since the last fit, up to ``refit_until`` vectors, so a corpus that starts small still ends
  up well calibrated (amortized O(1) per vector).
- :class:`BinaryCodes`: one sign bit per dimension (32x smaller), Hamming distance by XOR and
  popcount: faiss's ``IndexBinaryFlat`` when faiss is installed, else numpy
  (``np.bitwise_count``).

Both only *propose* candidates: the caller re-scores them with the float32 vectors (kept on
disk and memory-mapped after a load), so the final scores are exact cosines.
"""

from __future__ import annotations

import numpy as np

from ..extras import require

_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def hamming(codes: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Hamming distance of each packed row of ``codes`` to the packed ``query`` (int32)."""
    xor = np.bitwise_xor(codes, query)
    if hasattr(np, "bitwise_count"):  # numpy >= 2
        if codes.shape[1] % 8 == 0 and codes.flags.c_contiguous:
            xor = xor.view(np.uint64)  # 8 bytes per popcount: ~1.5x faster
        return np.bitwise_count(xor).sum(axis=1, dtype=np.int32)
    return _POPCOUNT[xor].sum(axis=1, dtype=np.int32)


class BinaryCodes:
    """Sign bits of each vector, packed 8 per byte.

    With faiss installed (the ``compact`` extra) the codes live in an ``IndexBinaryFlat``,
    whose SIMD popcount scan is 4.5-4.7x numpy's (10.0-11.5 ms against 47-51 ms per query at
    1M x 384, 2,000 candidates, one core: ``benchmarks/binary_scan.py``) and which takes the
    allowed rows as a bitmap. Without faiss, a
    growable numpy array and `hamming`. Both return the same distances.

    Args:
        dimension: vector size.
        use_faiss: None picks faiss when it imports; False forces numpy.
    """

    kind = "binary"

    def __init__(self, dimension: int, *, use_faiss: bool | None = None) -> None:
        self.dimension = dimension
        self.width = (dimension + 7) // 8
        self.faiss = _optional_faiss() if use_faiss is not False else None
        self._clear()

    def _clear(self) -> None:
        if self.faiss is not None:
            self._index = self.faiss.IndexBinaryFlat(8 * self.width)
        self._codes = np.empty((0, self.width), dtype=np.uint8)
        self._size = 0

    def __len__(self) -> int:
        return int(self._index.ntotal) if self.faiss is not None else self._size

    @property
    def codes(self) -> np.ndarray:
        if self.faiss is not None:
            return self.faiss.vector_to_array(self._index.xb).reshape(len(self), self.width)
        return self._codes[:self._size]

    @property
    def nbytes(self) -> int:
        if self.faiss is not None:
            return len(self) * self.width
        return int(self._codes.nbytes)

    def encode(self, vectors: np.ndarray) -> np.ndarray:
        return np.packbits(vectors > 0, axis=1)

    def add(self, vectors: np.ndarray, full=None) -> None:
        self._append(self.encode(vectors))

    def _append(self, new: np.ndarray) -> None:
        if self.faiss is not None:
            self._index.add(np.ascontiguousarray(new, dtype=np.uint8))
            return
        need = self._size + len(new)
        if need > len(self._codes):
            grown = np.empty((max(need, 2 * len(self._codes), 16), self.width), dtype=np.uint8)
            grown[:self._size] = self.codes
            self._codes = grown
        self._codes[self._size:need] = new
        self._size = need

    def candidates(self, query: np.ndarray, depth: int,
                   allowed: np.ndarray | None) -> np.ndarray:
        """Rows of the ``depth`` nearest codes (smallest Hamming distance) among ``allowed``."""
        if allowed is not None:
            depth = min(depth, int(np.count_nonzero(allowed)))
        depth = min(depth, len(self))
        if depth <= 0:
            return np.empty(0, dtype=np.int64)
        packed = self.encode(query[None, :])
        if self.faiss is not None:
            _, rows = self._index.search(packed, depth, params=_selector(self.faiss, allowed))
            rows = rows[0]
            return rows[rows >= 0].astype(np.int64)
        distance = hamming(self.codes, packed)
        if allowed is not None:
            distance = np.where(allowed, distance, np.iinfo(np.int32).max)
        return np.argpartition(distance, depth - 1)[:depth].astype(np.int64)

    def keep(self, rows: np.ndarray) -> None:
        kept = np.ascontiguousarray(self.codes[rows])
        self._clear()
        self._append(kept)

    def state(self) -> dict[str, np.ndarray]:
        return {"codes": self.codes}

    def read_state(self, folder, count: int) -> dict[str, np.ndarray]:
        """The saved codes (memory-mapped) from a `SaveFolder`."""
        return {"codes": folder.read_array("binary_codes.npy", np.uint8, (count, self.width),
                                           mmap_data=True)}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        codes = state["codes"]
        if codes.dtype != np.uint8 or codes.ndim != 2 or codes.shape[1] != self.width:
            raise ValueError(f"binary codes have {codes.dtype} {codes.shape}, expected uint8 "
                             f"rows of {self.width} bytes")
        self._clear()
        if self.faiss is not None:
            self._append(codes)  # one copy into faiss: 48 MB at 1M x 384
        else:
            self._codes, self._size = codes, len(codes)


def _optional_faiss():
    try:
        import faiss
    except ImportError:
        return None
    return faiss


def allowed_selector(faiss, allowed: np.ndarray | None):
    """A faiss ``IDSelectorBitmap`` admitting the ``allowed`` rows (None: no selector)."""
    if allowed is None:
        return None
    bitmap = np.packbits(allowed, bitorder="little")
    selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap))
    selector._bitmap = bitmap  # faiss only points at it: keep it alive as long as the selector
    return selector


def _selector(faiss, allowed: np.ndarray | None):
    """faiss search parameters restricting a flat search to the ``allowed`` rows."""
    return None if allowed is None else faiss.SearchParameters(
        sel=allowed_selector(faiss, allowed))


class Int8Codes:
    """int8 scalar quantization (per-dimension min/max) searched by faiss.

    Args:
        dimension: vector size.
        refit_until: re-fit the ranges when the corpus doubles, until it holds this many.
    """

    kind = "int8"

    def __init__(self, dimension: int, *, refit_until: int = 200_000) -> None:
        self.faiss = require("faiss", extra="compact")
        self.dimension, self.refit_until = dimension, refit_until
        self._fitted_on = 0
        self.index = self._empty()

    def _empty(self):
        return self.faiss.IndexScalarQuantizer(
            self.dimension, self.faiss.ScalarQuantizer.QT_8bit, self.faiss.METRIC_INNER_PRODUCT)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @property
    def nbytes(self) -> int:
        return len(self) * int(self.index.code_size)

    def add(self, vectors: np.ndarray, full) -> None:
        """Encode ``vectors``; ``full()`` gives every float32 vector so far (for a re-fit)."""
        total = len(self) + len(vectors)
        if self._fitted_on == 0 or (total >= 2 * self._fitted_on
                                    and self._fitted_on < self.refit_until):
            everything = np.ascontiguousarray(full(), dtype=np.float32)
            self.index = self._empty()
            sample = everything[:: max(1, len(everything) // self.refit_until)]
            self.index.train(sample)
            self.index.add(everything)
            self._fitted_on = len(everything)
            return
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def candidates(self, query: np.ndarray, depth: int,
                   allowed: np.ndarray | None) -> np.ndarray:
        params = _selector(self.faiss, allowed)
        if allowed is not None:
            depth = min(depth, int(np.count_nonzero(allowed)))
        depth = min(depth, len(self))
        if depth <= 0:
            return np.empty(0, dtype=np.int64)
        _, rows = self.index.search(np.ascontiguousarray(query[None, :], dtype=np.float32),
                                    depth, params=params)
        rows = rows[0]
        return rows[rows >= 0].astype(np.int64)

    def codes(self) -> np.ndarray:
        flat = self.faiss.vector_to_array(self.index.codes)
        return flat.reshape(len(self), int(self.index.code_size))

    def keep(self, rows: np.ndarray) -> None:
        state = self.state()
        state["codes"] = state["codes"][rows]
        self.restore(state)

    def state(self) -> dict[str, np.ndarray]:
        return {"codes": self.codes(),
                "ranges": self.faiss.vector_to_array(self.index.sq.trained),
                "fitted_on": np.array([self._fitted_on], dtype=np.int64)}

    def read_state(self, folder, count: int) -> dict[str, np.ndarray]:
        """The saved codes and ranges from a `SaveFolder` (codes are copied into faiss)."""
        return {"codes": folder.read_array("int8_codes.npy", np.uint8, (count, self.dimension),
                                           mmap_data=True),
                "ranges": folder.read_array("int8_ranges.npy", np.float32,
                                            (2 * self.dimension,)),
                "fitted_on": folder.read_array("int8_fitted_on.npy", np.int64, (1,))}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        codes, ranges = state["codes"], state["ranges"]
        if codes.dtype != np.uint8 or codes.ndim != 2 or codes.shape[1] != self.dimension:
            raise ValueError(f"int8 codes have {codes.dtype} {codes.shape}, expected uint8 "
                             f"rows of {self.dimension} bytes")
        if ranges.shape != (2 * self.dimension,) or not np.all(np.isfinite(ranges)):
            raise ValueError(f"int8 ranges have shape {ranges.shape}, expected "
                             f"({2 * self.dimension},) finite values")
        index = self._empty()
        self.faiss.copy_array_to_vector(np.asarray(ranges, dtype=np.float32), index.sq.trained)
        index.is_trained = True
        self.faiss.copy_array_to_vector(np.ascontiguousarray(codes).ravel(), index.codes)
        index.ntotal = len(codes)
        self.index = index
        self._fitted_on = int(state["fitted_on"][0]) if "fitted_on" in state else len(codes)


CODECS = {"int8": Int8Codes, "binary": BinaryCodes}
