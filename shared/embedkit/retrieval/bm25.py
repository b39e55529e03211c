"""BM25 over token lists: incremental, with exact corpus-wide statistics.

The engine is `embedkit.retrieval.segments.SegmentedBM25`: each `add` writes a small new
segment of raw term frequencies (cost proportional to the added documents), segments merge by a
size-tiered policy, deletes are tombstones, and scores are computed at query time from the
global document frequencies and average length over the live documents. Scores therefore
equal a fresh build over the live documents, whatever the history of adds and deletes.

Two scorers behind one interface:

- ``"bm25s"`` (default): bm25s's formulas (``method`` lucene / robertson / atire) computed by
  the segments; a fresh single segment gives bm25s's own float32 scores bit for bit (a test
  compares them).
- ``"rank_bm25"``: ``rank_bm25.BM25Okapi``, what LangChain's ``BM25Retriever`` uses. Kept for
  users migrating from LangChain and as the parity oracle in the tests. It loops over every
  document in Python per query term and is rebuilt on the first search after a change: fine
  for a few thousand documents, not beyond.

Top-k never calls ``bm25s.BM25.retrieve``: with stopwords removed most scores are exactly 0,
and ``np.argpartition`` over long runs of ties is pathologically slow (20x). We take the scores,
keep ``np.flatnonzero(scores > 0)`` and select among those only, so a document with score 0 is
never a hit.

Positions and rows: the public methods take *positions* ("the i-th live document", like a
Python list). Internally documents sit in *rows* that never move until a compaction, so a
delete is O(1); `HybridIndex` works on rows directly (the ``*_rows`` methods) and compacts its
own row-aligned data with the map `compact` returns.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ..extras import require
from .persistence import Checker, SaveFolder
from .segments import Segment, SegmentedBM25, Vocabulary

BACKENDS = ("bm25s", "rank_bm25")
METHODS = ("lucene", "robertson", "atire")
_FORMAT = 2
_META = "bm25.json"
_SEGMENTS = "segments"
_VOCAB_FILES = ("vocab-bytes.npy", "vocab-offsets.npy", "vocab-order.npy")
def top_k_positive(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions and scores of the k highest strictly positive scores, best first.

    Ties are broken by position (lower first), also at the k-th place, so results are
    deterministic. Only the positive entries are partitioned: fast when most scores are 0.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    candidates = np.flatnonzero(scores > 0)
    if k == 0 or candidates.size == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    values = scores[candidates]
    if candidates.size > k:
        kth = np.partition(values, candidates.size - k)[candidates.size - k]
        above = values > kth
        ties = np.flatnonzero(values == kth)[: k - int(above.sum())]
        keep = np.concatenate([np.flatnonzero(above), ties])
        candidates, values = candidates[keep], values[keep]
    order = np.lexsort((candidates, -values))
    return candidates[order].astype(np.int64), values[order].astype(np.float64)


class _RankBm25Scorer:
    """rank_bm25.BM25Okapi over the live rows, rebuilt lazily after any change."""

    def __init__(self, k1: float, b: float) -> None:
        self.k1, self.b = k1, b
        self._model = None
        self._rows: np.ndarray | None = None

    def invalidate(self) -> None:
        self._model, self._rows = None, None

    def scores(self, engine: SegmentedBM25, query: list[str]) -> np.ndarray:
        if self._model is None:
            rank_bm25 = require("rank_bm25", extra="bm25")
            self._rows = np.flatnonzero(engine.live)
            docs = bag_of_words(engine)
            self._model = rank_bm25.BM25Okapi([docs[r] for r in self._rows.tolist()],
                                              k1=self.k1, b=self.b)
        out = np.zeros(engine.num_rows, dtype=np.float64)
        out[self._rows] = self._model.get_scores(query)
        return out


class BM25Index:
    """A BM25 index over token lists (tokenize with :class:`embedkit.retrieval.tokenizer.Tokenizer`).

    Args:
        backend: ``"bm25s"`` (fast, incremental, default) or ``"rank_bm25"`` (BM25Okapi,
            slow, for parity with LangChain's BM25Retriever).
        k1, b: the usual BM25 term-frequency saturation and length normalization.
        method: bm25s scoring variant. ``"lucene"`` (default) has an IDF that is always
            positive, so a term present in more than half of a small corpus still counts;
            ``"robertson"`` is BM25Okapi's formula (same rankings as rank-bm25, except that it
            gives 0 rather than a small floor to terms in more than half of the documents).
            Ignored by ``rank_bm25``, which is always Okapi.
        compact_ratio: `delete` (by position) compacts the rows once more than this fraction
            of them is deleted. Scores never depend on it: statistics always count live
            documents only.
        merge_factor: segments of one size class merged at a time (Lucene's merge factor).

    Example:
        >>> index = BM25Index()
        >>> index.add([["red", "apple"], ["green", "pear"]])
        >>> index.search(["pear"], k=5)[0].tolist()
        [1]
    """

    def __init__(self, *, backend: str = "bm25s", k1: float = 1.5, b: float = 0.75,
                 method: str = "lucene", compact_ratio: float = 0.2,
                 merge_factor: int = 8) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown BM25 backend {backend!r}; choose one of {BACKENDS}")
        if method not in METHODS:
            raise ValueError(f"unknown BM25 method {method!r}; choose one of {METHODS}")
        if not (k1 >= 0 and 0 <= b <= 1):
            raise ValueError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        if not 0 <= compact_ratio <= 1:
            raise ValueError(f"compact_ratio must be in [0, 1], got {compact_ratio}")
        self.backend_name, self.k1, self.b, self.method = backend, float(k1), float(b), method
        self.compact_ratio = float(compact_ratio)
        self.engine = SegmentedBM25(k1=self.k1, b=self.b, method=method,
                                    merge_factor=merge_factor)
        self._okapi = _RankBm25Scorer(self.k1, self.b) if backend == "rank_bm25" else None
        self._positions: np.ndarray | None = None  # position -> row, while no change

    # ---- corpus -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.engine.live_count

    @property
    def num_rows(self) -> int:
        """Rows in use, deleted ones included until `compact`."""
        return self.engine.num_rows

    @property
    def live(self) -> np.ndarray:
        """Boolean mask over rows: False for deleted rows (do not modify)."""
        return self.engine.live

    @property
    def tokens(self) -> list[list[str]]:
        """The documents' tokens by position, as bags of words (token order is not stored)."""
        docs = bag_of_words(self.engine)
        return [docs[row] for row in self._live_rows().tolist()]

    def row_tokens(self, row: int, tokens: Sequence[str] | None = None) -> list[str]:
        """One row's tokens, as a bag of words grouped by term.

        Args:
            row: the document's row.
            tokens: the document's text tokenized again, when the caller has it: then only
                they are ordered, O(document length). Without them: one pass over the row's
                segment, O(its postings) (a 240 MB scan at 1M documents).
        """
        if tokens is None:
            return self.engine.row_tokens(int(row))
        order = np.argsort(self.engine.vocab.lookup(tokens), kind="stable")
        return [tokens[i] for i in order.tolist()]

    def build(self, corpus_tokens: Iterable[Sequence[str]]) -> None:
        """Replace the whole corpus with these documents."""
        self.engine = SegmentedBM25(k1=self.k1, b=self.b, method=self.method,
                                    merge_factor=self.engine.merge_factor)
        self.add(corpus_tokens)

    def add(self, corpus_tokens: Iterable[Sequence[str]]) -> range:
        """Append documents (at the end of the positions); returns their rows. Costs time
        proportional to the added documents (plus amortized segment merges)."""
        new = _check_corpus(corpus_tokens, offset=len(self))
        rows = self.engine.add(new)
        self._changed()
        return rows

    def delete(self, positions: Iterable[int]) -> None:
        """Remove documents by position; later documents move up (positions stay dense)."""
        doomed = _check_positions(positions, len(self))
        if doomed.size == 0:
            return
        self.delete_rows(self._live_rows()[doomed])
        if self.num_rows - len(self) > self.compact_ratio * self.num_rows:
            self.compact()

    def delete_rows(self, rows: np.ndarray) -> None:
        """Tombstone rows: O(rows deleted). Statistics stop counting them at once."""
        self.engine.delete(np.asarray(rows, dtype=np.int64))
        self._changed()

    def refresh(self) -> None:
        """Kept for compatibility: the index is always up to date."""

    def compact(self) -> np.ndarray:
        """Drop deleted rows; returns the old-row -> new-row map (-1 for dropped rows)."""
        new_row = self.engine.compact()
        self._changed()
        return new_row

    # ---- search -----------------------------------------------------------------------------
    def row_scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every row (float64; 0 for deleted rows)."""
        query = _check_tokens(query_tokens, None)
        if not query or len(self) == 0:
            return np.zeros(self.num_rows, dtype=np.float64)
        if self._okapi is not None:
            return self._okapi.scores(self.engine, query)
        return self.engine.scores(query).astype(np.float64)

    def get_scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every document, by position (float64)."""
        scores = self.row_scores(query_tokens)
        return scores if not self.engine.has_tombstones else scores[self._live_rows()]

    def search(self, query_tokens: Sequence[str], k: int = 10,
               mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(positions, scores) of the best k documents with a score > 0, best first.

        ``mask``: optional boolean array, one entry per document position; only documents
        where it is True compete (a metadata filter applied before taking the top k).
        """
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
            raise TypeError(f"k must be an int, got {type(k).__name__}")
        scores = self.get_scores(query_tokens)
        mask = _check_mask(mask, len(self))
        if mask is not None:
            scores[~mask] = 0.0
        return top_k_positive(scores, max(int(k), 0))

    def document_frequencies(self, tokens: Sequence[str]) -> np.ndarray:
        """How many live documents contain each token."""
        return self.engine.document_frequencies(list(tokens))

    def idf(self, tokens: Sequence[str]) -> np.ndarray:
        """Lucene IDF ``ln(1 + (N - df + 0.5) / (df + 0.5))`` per token; 0 for unknown tokens.

        The same formula whatever the backend, for query analysis (e.g. ``fusion="auto"``).
        """
        df = self.document_frequencies(tokens).astype(np.float64)
        n = float(len(self))
        idf = np.log1p((n - df + 0.5) / (df + 0.5))
        return np.where(df > 0, idf, 0.0)

    @property
    def num_built(self) -> int:
        """Documents the statistics are computed over: the live ones."""
        return len(self)

    # ---- persistence ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, object]:
        return {"format": _FORMAT, "backend": self.backend_name, "k1": self.k1, "b": self.b,
                "method": self.method, "compact_ratio": self.compact_ratio,
                "merge_factor": self.engine.merge_factor, "num_docs": len(self)}

    def save(self, directory: str | Path, *, previous: str | Path | None = None) -> None:
        """Write the index into ``directory`` (created; must be empty or absent).

        Files: ``bm25.json`` (settings, the segment list), ``vocab-*.npy`` (the tokens as UTF-8
        bytes + offsets, and their ids in sorted order), ``lengths.npy`` and
        ``live.npy`` (per row), and ``segments/<name>/`` with each segment's numpy arrays. No
        pickle. Segments never change once written, so a segment already saved in
        ``previous`` (an earlier save's folder) is hard-linked instead of written again.
        """
        directory = Path(directory)
        if directory.exists() and any(directory.iterdir()):
            raise FileExistsError(f"BM25 save folder {directory} is not empty")
        (directory / _SEGMENTS).mkdir(parents=True, exist_ok=True)
        engine = self.engine
        for name, array in zip(_VOCAB_FILES, engine.vocab.pack()):
            np.save(directory / name, array, allow_pickle=False)
        np.save(directory / "lengths.npy", engine.lengths, allow_pickle=False)
        np.save(directory / "live.npy", engine.live, allow_pickle=False)
        old = Path(previous) / _SEGMENTS if previous is not None else None
        for segment in engine.segments:
            _save_segment(segment, directory / _SEGMENTS / segment.name, old)
        meta = {**self.to_dict(), "num_rows": engine.num_rows,
                "segments": [{"name": s.name, "start": s.start, "size": s.size}
                             for s in engine.segments]}
        (directory / _META).write_text(json.dumps(meta, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path) -> BM25Index:
        """Read an index written by :meth:`save`; every file is validated first and the
        segment arrays are memory-mapped.

        Raises:
            embedkit.errors.IndexFormatError: a file is missing, malformed, a symlink or not a
                regular file, or the files disagree; the message names the file.
        """
        return cls.read(SaveFolder(directory))

    @classmethod
    def read(cls, folder: SaveFolder) -> BM25Index:
        """:meth:`load` from a `embedkit.retrieval.persistence.SaveFolder`."""
        meta = _read_meta(folder)
        index = cls(backend=meta["backend"], k1=meta["k1"], b=meta["b"], method=meta["method"],
                    compact_ratio=meta["compact_ratio"],
                    merge_factor=meta.get("merge_factor", 8))
        if meta["format"] == 1:
            index.add(_read_token_store(folder, _read_vocab(folder), meta["num_docs"]))
        else:
            _read_engine(index.engine, folder, meta)
        Checker(folder, _META).that(len(index) == meta["num_docs"],
                                    f"num_docs is {meta['num_docs']}, the rows hold "
                                    f"{len(index)} live documents")
        return index

    # ---- internals --------------------------------------------------------------------------
    def _changed(self) -> None:
        self._positions = None
        if self._okapi is not None:
            self._okapi.invalidate()

    def _live_rows(self) -> np.ndarray:
        if self._positions is None:
            self._positions = np.flatnonzero(self.engine.live)
        return self._positions

    def __repr__(self) -> str:
        return (f"BM25Index(backend={self.backend_name!r}, method={self.method!r}, "
                f"k1={self.k1}, b={self.b}, docs={len(self)}, "
                f"segments={len(self.engine.segments)})")


def bag_of_words(engine: SegmentedBM25) -> list[list[str]]:
    """Each row's tokens (repeated by count, grouped by term), from the segments."""
    docs: list[list[str]] = [[] for _ in range(engine.num_rows)]
    words = engine.vocab.tokens
    for segment in engine.segments:
        counts = np.diff(segment.indptr)
        terms = np.repeat(segment.terms, counts)
        rows = segment.all_rows().astype(np.int64) + segment.start
        for row, term, tf in zip(rows.tolist(), terms.tolist(), segment.tf.tolist()):
            docs[row].extend([words[term]] * int(tf))
    return docs


def _save_segment(segment: Segment, folder: Path, previous: Path | None) -> None:
    source = previous / segment.name if previous is not None else None
    if source is None or not source.is_dir():
        segment.save(folder)
        return
    folder.mkdir()
    for name in (f"{key}.npy" for key in ("terms", "indptr", "rows", "tf")):
        try:
            os.link(source / name, folder / name)
        except OSError:  # another file system, or no hard links: copy instead
            shutil.copyfile(source / name, folder / name)


def _read_engine(engine: SegmentedBM25, folder: SaveFolder, meta: dict) -> None:
    rows = meta["num_rows"]
    terms = folder.read_array(_VOCAB_FILES[2], np.int64, (None,))
    order_check = Checker(folder, _VOCAB_FILES[2])
    order_check.that(not terms.size or (int(terms.min()) >= 0 and int(terms.max()) < terms.size
                                        and bool(np.all(np.bincount(terms) == 1))),
                     "not a permutation of the term ids")
    offsets = folder.read_array(_VOCAB_FILES[1], np.int64, (terms.size + 1,))
    blob = folder.read_array(_VOCAB_FILES[0], np.uint8, (None,), mmap_data=True)
    Checker(folder, _VOCAB_FILES[1]).that(
        offsets[0] == 0 and offsets[-1] == blob.size and bool(np.all(np.diff(offsets) > 0)),
        f"offsets must rise from 0 to {blob.size}, one non-empty token each")
    engine.vocab = Vocabulary.from_packed(blob, offsets, terms)
    lengths = folder.read_array("lengths.npy", np.int32, (rows,))
    Checker(folder, "lengths.npy").that(bool(np.all(lengths >= 0)), "a negative length")
    live = folder.read_array("live.npy", np.bool_, (rows,))
    engine._lengths.replace(lengths)
    engine._live.replace(live)
    engine.live_count = int(live.sum())
    engine.live_length = int(lengths[live].sum(dtype=np.int64))
    engine.segments = []
    segments = folder.folder(_SEGMENTS)
    expected_start = 0
    for entry in meta["segments"]:
        name, start, size = entry["name"], entry["start"], entry["size"]
        Checker(folder, _META).that(start == expected_start,
                                    f"segment {name} starts at row {start}, expected "
                                    f"{expected_start}")
        segment = Segment.read(segments.folder(name), name, start, size)
        Checker(segments, name).that(
            not segment.terms.size or int(segment.terms[-1]) < len(engine.vocab),
            "term ids beyond the vocabulary")
        engine.segments.append(segment)
        expected_start = start + size
    Checker(folder, _META).that(expected_start == rows,
                                f"segments cover {expected_start} rows, not {rows}")


def _read_meta(folder: SaveFolder) -> dict:
    meta = folder.read_json(_META)
    check = Checker(folder, _META)
    check.that(isinstance(meta, dict), "BM25 settings is not a JSON object")
    check.that(meta.get("format") in (1, _FORMAT), f"unsupported format {meta.get('format')!r}")
    keys = ("format", "backend", "k1", "b", "method", "compact_ratio", "num_docs")
    if meta["format"] == _FORMAT:
        keys = (*keys, "merge_factor", "num_rows", "segments")
    check.keys(meta, keys, "BM25 settings")
    check.that(meta["backend"] in BACKENDS, f"backend must be one of {BACKENDS}")
    check.that(meta["method"] in METHODS, f"method must be one of {METHODS}")
    check.number(meta["k1"], "k1", 0.0, 1e6)
    check.number(meta["b"], "b", 0.0, 1.0)
    check.number(meta["compact_ratio"], "compact_ratio", 0.0, 1.0)
    check.integer(meta["num_docs"], "num_docs", minimum=0)
    if meta["format"] == _FORMAT:
        check.integer(meta["merge_factor"], "merge_factor", minimum=2)
        check.integer(meta["num_rows"], "num_rows", minimum=meta["num_docs"])
        check.that(isinstance(meta["segments"], list), "segments must be a list")
        for i, entry in enumerate(meta["segments"]):
            check.keys(entry, ("name", "start", "size"), f"segments[{i}]")
            check.that(isinstance(entry["name"], str) and entry["name"].isalnum()
                       and entry["name"].isascii(), f"segments[{i}].name is not a plain name")
            check.integer(entry["start"], f"segments[{i}].start", minimum=0)
            check.integer(entry["size"], f"segments[{i}].size", minimum=0)
    return meta


def _read_vocab(folder: SaveFolder) -> list[str]:
    """The token list of a format-1 save."""
    vocab = folder.read_json("vocab.json", limit=None)
    check = Checker(folder, "vocab.json")
    check.that(isinstance(vocab, list) and all(isinstance(t, str) and t for t in vocab),
               "not a list of non-empty strings")
    check.that(len(set(vocab)) == len(vocab), "a token is listed twice")
    return vocab


def _read_token_store(folder: SaveFolder, vocab: list[str], num_docs: int) -> list[list[str]]:
    """Token lists of a format-1 save (before segments), to rebuild from."""
    ids = folder.read_array("token_ids.npy", np.int32, (None,))
    Checker(folder, "token_ids.npy").that(
        bool(np.all((ids >= 0) & (ids < len(vocab)))),
        f"token ids outside 0..{len(vocab) - 1} (vocab.json)")
    offsets = folder.read_array("offsets.npy", np.int64, (None,))
    Checker(folder, "offsets.npy").that(
        offsets.size == num_docs + 1,
        f"holds {offsets.size - 1} documents, {_META} says {num_docs}")
    Checker(folder, "offsets.npy").that(
        offsets[0] == 0 and offsets[-1] == ids.size and bool(np.all(np.diff(offsets) >= 0)),
        f"offsets must rise from 0 to {ids.size} (the token count)")
    words = np.asarray(vocab, dtype=object)
    return [words[ids[offsets[i]:offsets[i + 1]]].tolist() for i in range(len(offsets) - 1)]


def _check_tokens(tokens: Sequence[str], position: int | None) -> list[str]:
    where = "query" if position is None else f"document {position}"
    if isinstance(tokens, str):
        raise TypeError(f"{where}: expected a list of tokens, got a str (tokenize it first)")
    tokens = list(tokens)
    for token in tokens:
        if not isinstance(token, str) or not token:
            raise TypeError(f"{where}: tokens must be non-empty str, got {token!r}")
    return tokens


def _check_corpus(corpus_tokens: Iterable[Sequence[str]], offset: int) -> list[list[str]]:
    """Copy the documents as lists; a bad one raises an error naming its position.

    Token types are checked over the set of distinct tokens (C speed), and only on failure
    document by document to find the culprit.
    """
    docs = []
    for i, doc in enumerate(corpus_tokens):
        if isinstance(doc, str):
            raise TypeError(f"document {offset + i}: expected a list of tokens, got a str "
                            "(tokenize it first)")
        docs.append(list(doc))
    try:
        clean = all(type(t) is str and t for t in set().union(*docs))
    except TypeError:  # an unhashable token
        clean = False
    if not clean:
        for i, doc in enumerate(docs):
            _check_tokens(doc, offset + i)
    return docs


def _check_mask(mask: np.ndarray | None, size: int) -> np.ndarray | None:
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.shape != (size,):
        raise ValueError(f"mask must be a boolean array of shape ({size},), "
                         f"got {mask.dtype} {mask.shape}")
    return mask


def _check_positions(positions: Iterable[int], size: int) -> np.ndarray:
    values = list(positions)
    for p in values:
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)):
            raise TypeError(f"document positions must be ints, got {p!r}")
    bad = [int(p) for p in values if not 0 <= p < size]
    if bad:
        raise IndexError(f"document positions {bad[:10]} out of range for {size} documents")
    return np.unique(np.asarray(values, dtype=np.int64))
