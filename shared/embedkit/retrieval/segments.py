"""Incremental BM25: immutable segments of raw term frequencies, scored with corpus-wide
statistics at query time.

The layout follows Lucene. Documents live in *rows* (0, 1, 2, ... in the order added). Each
`add` writes one small new :class:`Segment` covering the new rows; a size-tiered policy merges
``merge_factor`` neighbouring segments of the same size class into one, so a document is
rewritten O(log n) times in all (amortized) and a search visits O(log n) segments. A delete
is a tombstone: a flag in the row's ``live`` mask, O(1).

A segment stores raw term frequencies, not BM25 scores, term-major like bm25s's CSC matrix
(``terms`` sorted global term ids, ``indptr``, ``rows``, ``tf``). Precomputed scores would
depend on IDF and the average length, which change with every add and delete; computing them
for the query's terms only is cheap (one vectorized pass over those terms' postings) and makes
every score exactly that of a fresh build over the live documents:

- ``df`` of a query term: its postings in live rows, counted at query time (so tombstones never
  skew IDF and deletes need no per-document bookkeeping);
- ``N`` and the average length: running sums over live rows, updated by add and delete.

Formulas are bm25s's (Kamphuis et al. 2020), and so are the float32 steps: IDF rounded to
float32, the per-posting score rounded to float32, scores summed in float32 in the query's
token order. A single fresh segment therefore gives bm25s's own scores bit for bit, and any
segmentation of the same live documents gives the same scores.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np

from ..errors import IndexFormatError

SEGMENT_FILES = ("terms", "indptr", "rows", "tf")


@dataclass(frozen=True)
class Segment:
    """Postings of rows ``start .. start + size - 1``, term-major; never modified once made.

    Fields:
        name: unique name; its files keep this name across saves, so an unchanged segment is
            reused (hard-linked) instead of written again.
        start: the first row it covers.
        size: how many rows it covers (deleted ones included until a compaction).
        terms: sorted global ids of the terms that occur in it (int64).
        indptr: ``postings of terms[i] = rows[indptr[i]:indptr[i+1]]`` (int64).
        rows: row numbers relative to ``start`` (int32), ascending within a term.
        tf: the term's count in that row (float32; exact for counts below 2**24).
        source: the saved ``rows.npy`` a loaded segment maps (None when built here). Its
            rows are checked where they are read (`posting_rows`, `all_rows`), not at load,
            which would read every page of the postings (240 MB at 1M documents).
    """

    name: str
    start: int
    size: int
    terms: np.ndarray
    indptr: np.ndarray
    rows: np.ndarray
    tf: np.ndarray
    source: str | None = None

    @property
    def postings(self) -> int:
        return int(self.rows.size)

    def posting_rows(self, lo: int, hi: int) -> np.ndarray:
        """Rows (relative to ``start``) of postings ``lo .. hi - 1``, checked when loaded."""
        return self._checked(self.rows[lo:hi])

    def all_rows(self) -> np.ndarray:
        """Every posting's row (relative to ``start``), checked when loaded."""
        return self._checked(self.rows)

    def _checked(self, rows: np.ndarray) -> np.ndarray:
        if self.source is not None and rows.size and (
                int(rows.max()) >= self.size or int(rows.min()) < 0):
            raise IndexFormatError(f"{self.source}: a posting row lies outside the segment's "
                                   f"{self.size} rows")
        return rows

    def slices(self, term_ids: np.ndarray) -> list[tuple[int, int] | None]:
        """``(lo, hi)`` posting range of each term id, None where the term is absent."""
        at = np.searchsorted(self.terms, term_ids)
        found = at < self.terms.size
        found[found] = self.terms[at[found]] == term_ids[found]
        return [(int(self.indptr[i]), int(self.indptr[i + 1])) if ok else None
                for i, ok in zip(at, found)]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=False)
        for name in SEGMENT_FILES:
            np.save(folder / f"{name}.npy", getattr(self, name), allow_pickle=False)

    @classmethod
    def read(cls, folder, name: str, start: int, size: int) -> Segment:
        """A saved segment from a `embedkit.retrieval.persistence.SaveFolder`, memory-mapped
        after its headers and structure are checked."""
        terms = folder.read_array("terms.npy", np.int64, (None,), mmap_data=True)
        indptr = folder.read_array("indptr.npy", np.int64, (terms.size + 1,))
        rows = folder.read_array("rows.npy", np.int32, (None,), mmap_data=True)
        tf = folder.read_array("tf.npy", np.float32, (rows.size,), mmap_data=True)
        segment = cls(name, start, size, terms, indptr, rows, tf,
                      source=str(folder.root / "rows.npy"))
        try:
            segment.check(name)
        except ValueError as exc:
            raise folder.error("", str(exc)) from None
        return segment

    def check(self, where: object) -> None:
        """Raise ValueError naming ``where`` when the arrays do not fit together."""
        n_terms = self.terms.shape[0] if self.terms.ndim == 1 else -1
        problems = []
        if self.indptr.shape != (n_terms + 1,):
            problems.append(f"indptr has shape {self.indptr.shape} for {n_terms} terms")
        elif self.indptr[0] != 0 or self.indptr[-1] != self.rows.shape[0] or np.any(
                np.diff(self.indptr) <= 0):
            problems.append("indptr does not span the postings")
        if self.terms.size > 1 and np.any(np.diff(self.terms) <= 0):
            problems.append("terms are not sorted and unique")
        if self.rows.shape != self.tf.shape or self.rows.ndim != 1:
            problems.append(f"rows {self.rows.shape} and tf {self.tf.shape} differ")
        if problems:
            raise ValueError(f"BM25 segment {where}: {'; '.join(problems)}")


def make_segment(start: int, size: int, doc_rows: np.ndarray, term_ids: np.ndarray) -> Segment:
    """A segment from one (row relative to ``start``, term id) pair per token occurrence."""
    if doc_rows.size == 0:
        empty = np.empty(0, dtype=np.int64)
        return Segment(uuid.uuid4().hex, start, size, empty, np.zeros(1, dtype=np.int64),
                       np.empty(0, dtype=np.int32), np.empty(0, dtype=np.float32))
    width = max(size, 1)
    keys, tf = np.unique(term_ids * width + doc_rows, return_counts=True)  # term, then row
    terms_per_posting = keys // width
    terms, starts = np.unique(terms_per_posting, return_index=True)
    indptr = np.append(starts, keys.size).astype(np.int64)
    return Segment(uuid.uuid4().hex, start, size, terms.astype(np.int64), indptr,
                   (keys % width).astype(np.int32), tf.astype(np.float32))


def merge_segments(parts: Sequence[Segment], live: np.ndarray) -> Segment:
    """One segment covering ``parts`` (neighbours, in row order), dropping deleted rows'
    postings. The rows keep their numbers: only a compaction renumbers rows."""
    start = parts[0].start
    size = sum(p.size for p in parts)
    terms, rows, tf = [], [], []
    for part in parts:
        counts = np.diff(part.indptr)
        terms.append(np.repeat(part.terms, counts))
        rows.append(part.all_rows().astype(np.int64) + (part.start - start))
        tf.append(np.asarray(part.tf))
    all_terms, all_rows, all_tf = np.concatenate(terms), np.concatenate(rows), np.concatenate(tf)
    keep = live[start + all_rows]
    all_terms, all_rows, all_tf = all_terms[keep], all_rows[keep], all_tf[keep]
    # Parts are in row order and each is term-then-row sorted: a stable sort by term keeps
    # rows ascending within each term.
    order = np.argsort(all_terms, kind="stable")
    all_terms = all_terms[order]
    uniq, first = np.unique(all_terms, return_index=True)
    indptr = np.append(first, all_terms.size).astype(np.int64)
    return Segment(uuid.uuid4().hex, start, size, uniq.astype(np.int64), indptr,
                   all_rows[order].astype(np.int32), all_tf[order].astype(np.float32))


def renumber_segment(segment: Segment, new_row: np.ndarray, live: np.ndarray,
                     new_start: int) -> Segment:
    """The segment after a compaction: deleted rows' postings dropped, rows renumbered by
    ``new_row`` (old global row -> new global row); ``new_start``: live rows before it."""
    counts = np.diff(segment.indptr)
    terms = np.repeat(segment.terms, counts)
    rows = segment.all_rows().astype(np.int64) + segment.start
    keep = live[rows]
    terms, rows, tf = terms[keep], new_row[rows[keep]], np.asarray(segment.tf)[keep]
    alive = live[segment.start:segment.start + segment.size]
    uniq, first = np.unique(terms, return_index=True)
    indptr = np.append(first, terms.size).astype(np.int64)
    return Segment(uuid.uuid4().hex, new_start, int(alive.sum()), uniq.astype(np.int64),
                   indptr, (rows - new_start).astype(np.int32), tf.astype(np.float32))


class Vocabulary:
    """Token -> global term id, append-only (ids never change, so segments stay valid).

    A loaded vocabulary stays packed (UTF-8 bytes + offsets in id order, and the ids sorted by
    token) and answers lookups by binary search, so opening an index with a million distinct
    terms parses nothing. Tokens added after that live in a small dict beside it: the first
    add after a load costs its own tokens only (it built a dict of every token before, 1.5 s
    at 1M terms).
    """

    def __init__(self, tokens: Sequence[str] = ()) -> None:
        self._packed: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._base = 0  # tokens in the packed part (ids 0 .. _base - 1)
        self._added: list[str] = list(tokens)  # ids _base, _base + 1, ...
        self._added_ids = {t: self._base + i for i, t in enumerate(self._added)}
        if len(self._added_ids) != len(self._added):
            raise ValueError("the BM25 vocabulary lists a token twice")

    @classmethod
    def from_packed(cls, blob: np.ndarray, offsets: np.ndarray,
                    order: np.ndarray) -> Vocabulary:
        vocab = cls()
        vocab._packed, vocab._base = (blob, offsets, order), len(order)
        return vocab

    def __len__(self) -> int:
        return self._base + len(self._added)

    def token(self, term_id: int) -> str:
        """The token of one id."""
        if term_id >= self._base:
            return self._added[term_id - self._base]
        blob, offsets, _ = self._packed
        return blob[offsets[term_id]:offsets[term_id + 1]].tobytes().decode("utf-8")

    @property
    def tokens(self) -> list[str]:
        """Every token, by id (decodes the packed part: for whole-corpus work only)."""
        if self._packed is None:
            return list(self._added)
        blob, offsets, _ = self._packed
        data, bounds = blob.tobytes(), offsets.tolist()
        return [data[a:b].decode("utf-8") for a, b in zip(bounds, bounds[1:])] + self._added

    def pack(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(UTF-8 bytes, offsets, ids sorted by token bytes) for saving."""
        if not self._added and self._packed is not None:
            return self._packed
        encoded = [t.encode("utf-8") for t in self._added]
        order = sorted(range(len(encoded)), key=encoded.__getitem__)
        new_order = np.array(order, dtype=np.int64) + self._base
        if self._packed is None:
            blob, offsets, old_order = np.empty(0, dtype=np.uint8), np.zeros(1, np.int64), \
                np.empty(0, dtype=np.int64)
        else:
            blob, offsets, old_order = self._packed
        # Each new token goes where a binary search over the packed tokens puts it.
        at = np.array([self._position(encoded[i]) for i in order], dtype=np.int64)
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        new_offsets = offsets[-1] + np.cumsum(lengths)
        return (np.concatenate([np.asarray(blob), np.frombuffer(b"".join(encoded), np.uint8)]),
                np.concatenate([np.asarray(offsets), new_offsets]),
                np.insert(np.asarray(old_order), at, new_order))

    def encode(self, docs: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
        """(length of each doc, term id of every token in order); new tokens get new ids."""
        lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
        flat = list(chain.from_iterable(docs))
        ids: dict[str, int] = {}
        for token in dict.fromkeys(flat):  # first-seen order: deterministic ids
            term = self._find(token)
            if term < 0:
                term = len(self)
                self._added_ids[token] = term
                self._added.append(token)
            ids[token] = term
        term_ids = np.fromiter(map(ids.__getitem__, flat), dtype=np.int64, count=len(flat))
        return lengths, term_ids

    def lookup(self, tokens: Sequence[str]) -> np.ndarray:
        """Term id per token, -1 for tokens never seen."""
        return np.array([self._find(t) for t in tokens], dtype=np.int64)

    def _find(self, token: str) -> int:
        term = self._added_ids.get(token, -1)
        if term < 0 and self._packed is not None:
            term = self._search(token.encode("utf-8"))
        return term

    def _search(self, key: bytes) -> int:
        at = self._position(key)
        if at < self._base and self._packed_token(at) == key:
            return int(self._packed[2][at])
        return -1

    def _position(self, key: bytes) -> int:
        """Where ``key`` goes in the packed tokens' sorted order (first at or after it)."""
        lo, hi = 0, self._base
        while lo < hi:
            mid = (lo + hi) // 2
            if self._packed_token(mid) < key:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def _packed_token(self, position: int) -> bytes:
        """The token bytes at ``position`` of the sorted order."""
        blob, offsets, order = self._packed
        term = int(order[position])
        return blob[offsets[term]:offsets[term + 1]].tobytes()


class GrowableArray:
    """A 1-D numpy array with capacity doubling: appends cost amortized O(appended)."""

    def __init__(self, dtype: np.dtype | type, values: np.ndarray | None = None) -> None:
        base = np.asarray(values if values is not None else np.empty(0), dtype=dtype)
        self._data = np.array(base, dtype=dtype)  # a private, writable copy
        self._size = base.size

    def __len__(self) -> int:
        return self._size

    @property
    def view(self) -> np.ndarray:
        return self._data[:self._size]

    def extend(self, values: np.ndarray) -> None:
        need = self._size + len(values)
        if need > self._data.size:
            grown = np.empty(max(need, 2 * self._data.size, 16), dtype=self._data.dtype)
            grown[:self._size] = self._data[:self._size]
            self._data = grown
        self._data[self._size:need] = values
        self._size = need

    def replace(self, values: np.ndarray) -> None:
        self._data = np.array(values, dtype=self._data.dtype)
        self._size = self._data.size


class SegmentedBM25:
    """BM25 over rows, with tombstones and size-tiered merges; scores equal a fresh build.

    Args:
        k1, b: BM25 term-frequency saturation and length normalization.
        method: ``"lucene"``, ``"robertson"`` or ``"atire"`` IDF / tf variants (as bm25s).
        merge_factor: merge this many neighbouring segments of the same size class.
    """

    def __init__(self, *, k1: float = 1.5, b: float = 0.75, method: str = "lucene",
                 merge_factor: int = 8) -> None:
        if merge_factor < 2:
            raise ValueError(f"merge_factor must be >= 2, got {merge_factor}")
        self.k1, self.b, self.method, self.merge_factor = k1, b, method, merge_factor
        self.vocab = Vocabulary()
        self.segments: list[Segment] = []
        self._lengths = GrowableArray(np.int32)
        self._live = GrowableArray(np.bool_)
        self.live_count = 0
        self.live_length = 0  # total tokens in live rows

    # ---- rows -------------------------------------------------------------------------------
    @property
    def num_rows(self) -> int:
        return len(self._lengths)

    @property
    def live(self) -> np.ndarray:
        """``live[row]``: False once the row is deleted (a view: do not modify)."""
        return self._live.view

    @property
    def lengths(self) -> np.ndarray:
        return self._lengths.view

    @property
    def has_tombstones(self) -> bool:
        return self.live_count != self.num_rows

    def add(self, docs: Sequence[Sequence[str]]) -> range:
        """Append documents as new rows (one new segment); returns their rows."""
        start = self.num_rows
        lengths, term_ids = self.vocab.encode(docs)
        doc_rows = np.repeat(np.arange(len(docs), dtype=np.int64), lengths)
        if len(docs):
            self.segments.append(make_segment(start, len(docs), doc_rows, term_ids))
        self._lengths.extend(lengths.astype(np.int32))
        self._live.extend(np.ones(len(docs), dtype=bool))
        self.live_count += len(docs)
        self.live_length += int(lengths.sum())
        self._merge_tiers()
        return range(start, self.num_rows)

    def delete(self, rows: np.ndarray) -> None:
        """Tombstone rows (already-deleted rows are ignored)."""
        rows = np.asarray(rows, dtype=np.int64)
        rows = rows[self.live[rows]]
        if rows.size == 0:
            return
        rows = np.unique(rows)
        self._live.view[rows] = False
        self.live_count -= int(rows.size)
        self.live_length -= int(self.lengths[rows].sum(dtype=np.int64))

    def compact(self) -> np.ndarray:
        """Drop deleted rows and renumber the live ones 0..live_count-1, in order.

        Returns the old-row -> new-row map (-1 for dropped rows), for the owner's other
        row-aligned data.
        """
        live = self.live.copy()
        before = np.concatenate(([0], np.cumsum(live)))  # live rows before each row
        new_row = np.where(live, before[:-1], -1)
        segments = [renumber_segment(s, new_row, live, int(before[s.start]))
                    for s in self.segments]
        self.segments = [s for s in segments if s.size]
        self._lengths.replace(self.lengths[live])
        self._live.replace(np.ones(self.live_count, dtype=bool))
        return new_row

    # ---- scoring ----------------------------------------------------------------------------
    def postings(self, term_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(global rows, tf) of one term across segments, live rows only."""
        rows, tfs = [], []
        ids = np.array([term_id], dtype=np.int64)
        for segment in self.segments:
            span = segment.slices(ids)[0]
            if span is not None:
                rows.append(segment.posting_rows(*span).astype(np.int64) + segment.start)
                tfs.append(segment.tf[span[0]:span[1]])
        if not rows:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        all_rows, all_tf = np.concatenate(rows), np.concatenate(tfs)
        if self.has_tombstones:
            keep = self.live[all_rows]
            all_rows, all_tf = all_rows[keep], all_tf[keep]
        return all_rows, all_tf

    def row_tokens(self, row: int) -> list[str]:
        """One row's tokens as a bag of words (repeated by count, grouped by term)."""
        for segment in self.segments:
            if segment.start <= row < segment.start + segment.size:
                hits = np.flatnonzero(np.asarray(segment.rows) == row - segment.start)
                terms = np.searchsorted(segment.indptr, hits, side="right") - 1
                words = [self.vocab.token(int(segment.terms[t])) for t in terms.tolist()]
                return [word for word, tf in zip(words, segment.tf[hits].tolist())
                        for _ in range(int(tf))]
        return []

    def document_frequencies(self, tokens: Sequence[str]) -> np.ndarray:
        """Live documents containing each token."""
        return np.array([self.postings(int(t))[0].size if t >= 0 else 0
                         for t in self.vocab.lookup(tokens)], dtype=np.int64)

    def idf(self, df: np.ndarray) -> np.ndarray:
        """IDF per document frequency under this method, rounded to float32 as bm25s does."""
        n = float(self.live_count)
        df = np.asarray(df, dtype=np.float64)
        if self.method == "atire":
            with np.errstate(divide="ignore"):
                idf = np.log(n / df)
        else:
            inner = (n - df + 0.5) / (df + 0.5)
            idf = np.log1p(inner) if self.method == "lucene" else np.log(np.maximum(inner, 1.0))
        return idf.astype(np.float32).astype(np.float64)

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """float32 BM25 score per row (0 for deleted rows and rows without a query term)."""
        out = np.zeros(self.num_rows, dtype=np.float32)
        if self.live_count == 0:
            return out
        term_ids = self.vocab.lookup(query_tokens)
        cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        avg_length = self.live_length / self.live_count
        for term in term_ids.tolist():  # query order, repeats included, as bm25s sums
            if term < 0:
                continue
            if term not in cache:
                rows, tf = self.postings(term)
                if rows.size == 0:
                    cache[term] = (rows, np.empty(0, dtype=np.float32))
                    continue
                idf = self.idf(np.array([rows.size]))[0]
                tf = tf.astype(np.float64)
                norm = self.k1 * ((1 - self.b) + self.b * self.lengths[rows] / avg_length)
                tfc = tf * (self.k1 + 1) / (tf + norm) if self.method == "atire" \
                    else tf / (norm + tf)
                cache[term] = (rows, (idf * tfc).astype(np.float32))
            rows, values = cache[term]
            out[rows] += values  # rows are unique within a term
        return out

    # ---- merges -----------------------------------------------------------------------------
    def _tier(self, segment: Segment) -> int:
        return int(math.log(max(segment.size, 1), self.merge_factor) + 1e-9)

    def _merge_tiers(self) -> None:
        """While the last ``merge_factor`` segments share a size class, merge them."""
        f = self.merge_factor
        while len(self.segments) >= f:
            tail = self.segments[-f:]
            tier = self._tier(tail[-1])
            if any(self._tier(s) != tier for s in tail):
                return
            self.segments[-f:] = [merge_segments(tail, self.live)]

    def merge_all(self) -> None:
        """One segment for everything (e.g. before a bulk-built index is saved)."""
        if len(self.segments) > 1:
            self.segments = [merge_segments(self.segments, self.live)]
