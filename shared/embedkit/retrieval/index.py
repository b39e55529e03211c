"""`HybridIndex`: BM25 + dense search, fused soundly, live, saved without pickle.

The guide's ``HybridRetriever`` divides by the max score (wrong for negative cosines, a
division by zero when no BM25 term matches) and tokenizes with ``str.split``. Here each side
returns its top ``candidates``; `embedkit.retrieval.fusion` normalizes within those lists and fuses over
their union. ``fusion="auto"`` (`embedkit.retrieval.policy`) weights BM25 by how much its
list agrees with the dense one and by the query's rare codes, and re-searches with dense
pseudo-relevance feedback (`embedkit.retrieval.feedback`) unless the query is a known-item
lookup.

The index is live: documents sit in rows shared by the BM25 segments
(`embedkit.retrieval.segments`), the vectors (`embedkit.retrieval.vectors`) and the document
store (`embedkit.retrieval.documents`). An add appends rows (cost proportional to the added
documents), a delete is a tombstone (O(1)), and once more than ``compact_ratio`` of the rows are
deleted all three drop them together in one pass (amortized). BM25 statistics always count live
documents only, so scores equal those of a fresh index over the same documents.
"""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..arguments import check_int
from ..atomic_dir import current_version, new_version, read_current
from .candidates import CandidatesInput, as_similarities
from ..embedder import Embedder
from ..errors import FingerprintMismatchError
from ..fingerprint import describe_difference
from .feedback import check_feedback_mode, expansion_terms, mix_scores, rocchio
from .policy import SearchPolicy
from .signals import overlap, query_signals
from ..progress import progress
from ..validation import validate_query, validate_texts
from .bm25 import BM25Index, top_k_positive
from .documents import DocumentStore
from .fusion import FUSIONS, AutoAlpha, FusedHit, rrf, weighted_top
from .hnsw import DEFAULT_EF_SEARCH, DEFAULT_MIN_ROWS
from .persistence import (
    BM25_FOLDER, DOCUMENTS_FOLDER, INDEX_FORMAT, MANIFEST, VECTORS_FOLDER, SaveFolder,
    read_documents, read_manifest, read_vectors,
)
from .tokenizer import Tokenizer
from .vectors import DenseVectors, check_dense_options

DEFAULT_FUSION = "auto"
_ADD_CHUNK = 1024  # texts embedded per progress step when adding

#: ``{key: value}`` equality on every key, or a predicate over a document's metadata (what an
#: adapter builds from its framework's richer filters: ranges, "in", OR conditions...).
MetadataFilter = Mapping[str, Any] | Callable[[Mapping[str, Any]], bool]


class SearchObserver(Protocol):
    """Told about every search: e.g. `embedkit.retrieval.monitor.SimilarityMonitor`."""

    def observe(self, query_vector: np.ndarray | None, scores: Sequence[float]) -> Any: ...


@dataclass(frozen=True)
class SearchHit:
    """One search result.

    ``dense_score`` is the cosine (inner product) with the query and ``bm25_score`` the BM25
    score, whether or not the document made that method's candidate list; ``dense_rank`` and
    ``bm25_rank`` are its 1-based ranks in those lists, None when it was not in them.
    """

    id: str
    text: str
    metadata: dict[str, Any]
    score: float
    dense_score: float | None
    bm25_score: float | None
    dense_rank: int | None
    bm25_rank: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def score_fields(self) -> dict[str, Any]:
        """This query's scores and ranks, as adapters put them into a result's metadata:
        ``score``, ``dense_score``, ``bm25_score``, ``dense_rank``, ``bm25_rank`` (and the
        premium fields for a `embedkit.retrieval.two_stage.TwoStageHit`)."""
        return {name: getattr(self, name) for name in SCORE_FIELDS}


SCORE_FIELDS = ("score", "dense_score", "bm25_score", "dense_rank", "bm25_rank")
"""The `SearchHit` fields that describe one query's ranking (not the document)."""


class HybridIndex:
    """Hybrid BM25 + dense search over texts embedded by one `Embedder`.

    Args:
        embedder: the model that embeds both documents and queries (one vector space).
        fusion: ``"auto"`` (default: `embedkit.retrieval.policy.SearchPolicy`, a per-query
            dense weight from the lists' agreement and the query's codes, plus dense feedback),
            ``"auto-v1"`` (the previous default: a weight from the query's rare tokens only),
            ``"rrf"``, ``"weighted"``, ``"dense"`` or ``"bm25"``.
        feedback: pseudo-relevance feedback from the first ranking's top documents:
            ``"none"``, ``"dense"`` (Rocchio on the query vector; the candidates are scored
            again, no model call), ``"bm25"`` (RM3-style expansion tokens), ``"both"``, or
            ``"auto"`` (dense feedback unless the query is a known-item lookup). None
            (default): ``"auto"`` under ``fusion="auto"``, else ``"none"``. Dense feedback
            needs the candidates' vectors: with ``store_vectors=False`` (an external vector
            store) or without a query vector it is skipped and the first dense list is kept.
        policy: the settings of ``fusion="auto"`` and of feedback.
        alpha: dense weight in [0, 1] for ``"weighted"``; for ``"rrf"`` the list weights are
            ``alpha`` and ``1 - alpha`` (0.5: plain RRF).
        rrf_k: the RRF constant.
        candidates: how many results each method contributes before fusing.
        bm25: ``"bm25s"`` (fast) or ``"rank_bm25"`` (LangChain's BM25Okapi, slow), or a
            configured `BM25Index`.
        tokenizer: BM25 tokenizer; default English stopwords + stemming, with the embedder's
            glossary so an acronym finds its spelled-out form and the reverse.
        store_vectors: keep a dense matrix. False when an adapter's vector store does the dense
            side and passes ``dense_candidates`` to `search`. None (default): True unless
            ``fusion="bm25"``, which never embeds the corpus.
        show_progress: progress bar while adding many texts.
        monitor: told the query vector and the dense top-k similarities of every search
            (e.g. a `embedkit.retrieval.monitor.SimilarityMonitor`), so retrievers built on this index,
            in any framework, are monitored without code of their own.
        vectors: how the dense side is searched: ``"float32"`` (exact, default), ``"int8"``
            (4x smaller codes, needs the ``compact`` extra) or ``"binary"`` (32x smaller); the
            compact modes re-score their best candidates with the float32 vectors, so the
            scores returned are exact cosines.
        rescore: candidates re-scored per result wanted in the compact modes (default 4 for
            int8, 20 for binary) and by the HNSW graph (default 1).
        ann: ``"hnsw"``: approximate dense search once the index holds ``ann_min_rows`` rows
            (`embedkit.retrieval.hnsw`, needs the ``compact`` extra; ``vectors="float32"``
            only). A faiss HNSW graph proposes candidates that are re-scored from the float32
            vectors, so scores are exact cosines and only the ranking is approximate. None
            (default): exact search.
        ann_min_rows: rows from which the graph is used; exact search below (where it takes
            under ~10 ms on one core). Crossing it builds the graph once (~30 s per 100k
            rows); later adds are inserted, a compaction builds it again.
        ef_search: the graph's search breadth (raised to the candidates asked): higher gives
            better recall and slower searches.

    Example:
        >>> index = HybridIndex(Embedder())                     # doctest: +SKIP
        >>> index.add(["Error NMB-4031: uplink lost", "Reset a password"])  # doctest: +SKIP
        >>> index.search("NMB-4031", k=1)[0].text              # doctest: +SKIP
        'Error NMB-4031: uplink lost'
    """

    def __init__(
        self,
        embedder: Embedder,
        *,
        fusion: str = DEFAULT_FUSION,
        alpha: float = 0.5,
        rrf_k: float = 60.0,
        candidates: int = 100,
        bm25: str | BM25Index = "bm25s",
        tokenizer: Tokenizer | None = None,
        store_vectors: bool | None = None,
        show_progress: bool = False,
        auto: AutoAlpha | None = None,
        monitor: SearchObserver | None = None,
        feedback: str | None = None,
        policy: SearchPolicy | None = None,
        vectors: str = "float32",
        rescore: int | None = None,
        ann: str | None = None,
        ann_min_rows: int = DEFAULT_MIN_ROWS,
        ef_search: int = DEFAULT_EF_SEARCH,
    ) -> None:
        _check_embedder(embedder)
        _check_fusion(fusion, alpha, candidates)
        if isinstance(rrf_k, bool) or not isinstance(rrf_k, int | float) or not (
                math.isfinite(rrf_k) and rrf_k >= 0):
            raise ValueError(f"rrf_k must be a finite number >= 0, got {rrf_k!r}")
        if feedback is not None:
            check_feedback_mode(feedback)
        check_dense_options(vectors, ann, ann_min_rows, ef_search)
        self.embedder = embedder
        self.fusion, self.alpha, self.rrf_k, self.candidates = fusion, float(alpha), rrf_k, candidates
        self.bm25 = bm25 if isinstance(bm25, BM25Index) else BM25Index(backend=bm25)
        self.tokenizer = tokenizer or Tokenizer(glossary=embedder.glossary)
        self.store_vectors = fusion != "bm25" if store_vectors is None else store_vectors
        self.show_progress = show_progress
        self.auto = auto or AutoAlpha()
        self.feedback = feedback
        self.policy = policy or SearchPolicy()
        self.monitor = monitor
        self.vectors_mode, self.rescore = vectors, rescore
        self.ann, self.ann_min_rows, self.ef_search = ann, ann_min_rows, ef_search
        self._docs = DocumentStore()
        self._dense: DenseVectors | None = None  # made at the first add (needs the dimension)
        self.saved_extra: dict[str, Any] = {}
        """The ``extra`` settings read by `load` (what wraps the index saved them)."""

    # ------------------------------------------------------------------ contents
    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._docs.rows

    @property
    def ids(self) -> list[str]:
        """Ids of the documents, in the order they were added."""
        ids = self._docs.all_ids()
        return [ids[row] for row in np.flatnonzero(self._live).tolist()]

    @property
    def _live(self) -> np.ndarray:
        return self.bm25.live  # the one live mask over rows, shared by every part

    def get(self, doc_id: str) -> tuple[str, dict[str, Any]]:
        """(text, metadata) of one document."""
        position = self._position(doc_id)
        return self._docs.text(position), self._docs.metadata(position)

    def add(self, texts: Sequence[str], ids: Sequence[str] | None = None,
            metadatas: Sequence[Mapping[str, Any]] | None = None, *,
            vectors: np.ndarray | None = None) -> list[str]:
        """Embed and index texts; an id already present is replaced. Returns the ids.

        Args:
            vectors: the texts' document vectors when already embedded with this index's
                embedder (e.g. by `embedkit.distributed.embed_dataset`): shape
                ``(len(texts), embedder.dimension)``, finite; nothing is embedded again.
        """
        texts = validate_texts(texts)
        ids = _check_ids(ids, len(texts))
        metadatas = _check_metadatas(metadatas, ids)
        replaced = [doc_id for doc_id in ids if doc_id in self._docs.rows]
        if vectors is not None:
            vectors = self._check_vectors(vectors, len(texts))
        elif self.store_vectors:
            vectors = self._embed_in_chunks(texts)
        tokens = self.tokenizer.tokenize_many(texts)
        if replaced:  # only once the new vectors exist: a failed add changes nothing
            self.delete(replaced)
        self._docs.append(ids, texts, metadatas)
        self.bm25.add(tokens)
        if vectors is not None:
            self._vectors().add(vectors)
        return ids

    def add_embedded(self, output: str | Path, texts: Mapping[str, str],
                     metadatas: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
        """Index what `embedkit.distributed.embed_dataset` wrote to ``output``, without
        embedding again. ``texts`` maps each id to its text (BM25 and the hits need it);
        ``metadatas`` optionally maps ids to metadata. The output's fingerprint (manifest
        and every row) must be this index's embedder's. Returns the ids added."""
        from .embedded import read_embedded  # pyarrow only when used

        ids, vectors = read_embedded(output, self.embedder)
        missing = [doc_id for doc_id in ids if doc_id not in texts]
        if missing:
            raise KeyError(f"{len(missing)} ids of {output} have no text in `texts`, e.g. "
                           f"{missing[:5]}")
        metas = None if metadatas is None else [metadatas.get(i, {}) for i in ids]
        return self.add([texts[i] for i in ids], ids, metas, vectors=vectors)

    def delete(self, ids: Sequence[str]) -> None:
        """Remove documents; unknown ids raise KeyError and nothing is removed.

        A tombstone: O(number deleted). Once more than the BM25 index's ``compact_ratio`` of
        the rows are deleted, every part drops them in one pass (amortized)."""
        ids = [ids] if isinstance(ids, str) else list(ids)
        unknown = [doc_id for doc_id in ids if doc_id not in self._docs.rows]
        if unknown:
            raise KeyError(f"ids not in the index: {unknown[:10]}")
        doomed = np.unique(np.array([self._docs.rows[doc_id] for doc_id in ids],
                                    dtype=np.int64))
        self.bm25.delete_rows(doomed)
        self._docs.forget(doomed.tolist())
        rows = self.bm25.num_rows
        if rows - len(self) > self.bm25.compact_ratio * rows:
            self.compact()

    def compact(self) -> None:
        """Drop deleted rows from BM25, the vectors and the documents now."""
        if self.bm25.num_rows == len(self):
            return
        new_row = self.bm25.compact()
        keep = np.flatnonzero(new_row >= 0)
        if self._dense is not None:
            self._dense.keep(keep)
        self._docs.keep(keep)

    # ------------------------------------------------------------------ search
    def search(self, query: str, k: int = 10, *, filter: MetadataFilter | None = None,
               dense_candidates: CandidatesInput | None = None,
               fusion: str | None = None, alpha: float | None = None,
               ids: Collection[str] | None = None,
               query_vector: np.ndarray | None = None,
               feedback: str | None = None) -> list[SearchHit]:
        """The best ``k`` documents for ``query`` (fewer when the corpus or filter has fewer).

        Args:
            filter: metadata equality on every key, or a predicate over a document's
                metadata; applied before taking the top k.
            dense_candidates: an external vector store's results for this query, used
                instead of this index's own matrix: `DenseCandidates` (ids, scores and their
                ``kind``: similarity, cosine/L2 distance...) or ``(id, similarity)`` pairs.
                Scores become cosine-like similarities and must be finite numbers
                (ValueError names the id); an id listed twice counts once, with its best
                score; ids the index does not hold are skipped.
            fusion: override the index's fusion for this query.
            alpha: override the index's ``alpha`` for this query.
            ids: search only these documents (e.g. a per-query candidate pool); combined
                with ``filter``. Unknown ids raise KeyError.
            query_vector: the query's vector when already embedded by this index's
                embedder (e.g. many queries at once with ``embedder.embed_queries``).
            feedback: override the index's ``feedback`` for this query.
        """
        validate_query(query)
        options = self._options(k, fusion, alpha, filter, ids, dense_candidates, feedback)
        if query_vector is None and self._needs_query_vector(options):
            query_vector = self.embedder.embed_query(query)
        return self._search(query, query_vector, options)

    async def asearch(self, query: str, k: int = 10, *, filter: MetadataFilter | None = None,
                      dense_candidates: CandidatesInput | None = None,
                      fusion: str | None = None, alpha: float | None = None,
                      ids: Collection[str] | None = None,
                      query_vector: np.ndarray | None = None,
                      feedback: str | None = None) -> list[SearchHit]:
        """`search` without blocking the event loop."""
        validate_query(query)
        options = self._options(k, fusion, alpha, filter, ids, dense_candidates, feedback)
        if query_vector is None and self._needs_query_vector(options):
            query_vector = await self.embedder.aembed_query(query)
        return await asyncio.to_thread(self._search, query, query_vector, options)

    def _search(self, query: str, query_vector: np.ndarray | None,
                options: _Options) -> list[SearchHit]:
        k, mode = options.k, options.fusion
        _check_k(k)
        _check_fusion(mode, options.alpha, self.candidates)
        feedback = _resolve_feedback(options.feedback, mode)
        query_vector = self._check_query_vector(query_vector)
        if k == 0 or not len(self):
            return []
        allowed = self._allowed(options.filter, options.ids)
        depth = max(self.candidates, k)
        tokens = self.tokenizer.tokenize(query)
        dense = [] if mode == "bm25" else self._dense_list(
            query_vector, options.dense_candidates, allowed, depth)
        bm25_scores = self.bm25.row_scores(tokens) if mode != "dense" else None
        sparse = [] if bm25_scores is None else _bm25_list(bm25_scores, allowed, depth)
        alpha, wants_feedback = self._decide(mode, options.alpha, tokens, dense, sparse,
                                             gate=feedback == "auto")
        limit = max(k, self.policy.feedback.depth)  # hits built: the k returned, feedback's
        fused = self._fuse(mode, alpha, dense, sparse, complete_bm25=len(sparse) < depth,
                           limit=limit)
        if feedback == "auto":
            feedback = "dense" if wants_feedback else "none"
        if feedback != "none":
            fb_dense, fb_sparse = dense, sparse
            if feedback in ("dense", "both"):
                fb_dense = self._dense_feedback(query_vector, fused, dense, sparse, depth)
            if feedback in ("bm25", "both") and bm25_scores is not None:
                fb_sparse = self._bm25_feedback(tokens, fused, bm25_scores, allowed, depth)
            fused = self._fuse(mode, alpha, fb_dense, fb_sparse,
                               complete_bm25=len(fb_sparse) < depth, limit=limit)
        if self.monitor is not None and mode != "bm25":
            self.monitor.observe(query_vector, [score for _, score in dense[:k]])
        fused = fused[:k]
        dense_scores = self._exact_dense(query_vector, fused)
        return [self._hit(item, dense_scores.get(int(item.id)), bm25_scores,
                          options.dense_candidates) for item in fused]

    def _exact_dense(self, query_vector: np.ndarray | None,
                     fused: list[FusedHit]) -> dict[int, float]:
        """Exact cosine of each hit with the query (also hits only BM25 found)."""
        if query_vector is None or self._dense is None or not fused:
            return {}
        rows = np.array([int(item.id) for item in fused], dtype=np.int64)
        return dict(zip(rows.tolist(),
                        self._dense.scores_for(query_vector, rows).tolist()))

    def _decide(self, mode: str, alpha: float, tokens: list[str], dense: list, sparse: list,
                *, gate: bool) -> tuple[float, bool]:
        """The dense weight for this query and whether ``feedback="auto"`` runs feedback.

        The query's signals need BM25's statistics: they are only read when a decision needs
        them, so a dense-only search never waits for a BM25 rebuild after an ``add``.
        """
        if mode not in ("auto", "auto-v1") and not gate:
            return alpha, False
        signals = query_signals(tokens, self.bm25.idf(tokens), self.bm25.num_built)
        if mode == "auto":
            agreement = overlap([p for p, _ in dense], [p for p, _ in sparse],
                                self.policy.agreement_depth)
            alpha = self.policy.alpha(signals, agreement)
        elif mode == "auto-v1":
            alpha = self.auto.alpha(tokens, self.bm25.idf(tokens), self.bm25.num_built)
        return alpha, self.policy.wants_feedback(signals)

    def _dense_feedback(self, query_vector: np.ndarray | None, ranking: list[FusedHit],
                        dense: list, sparse: list, depth: int) -> list[tuple[int, float]]:
        """The candidates (both lists) scored again by the Rocchio-moved query vector.

        Kept as it is when there is no query vector or no stored matrix (the dense side is an
        external vector store): the feedback documents' vectors are unknown.
        """
        settings = self.policy.feedback
        if query_vector is None or self._dense is None or not ranking:
            return dense
        top = np.array([int(hit.id) for hit in ranking[:settings.depth]], dtype=np.int64)
        moved = rocchio(query_vector, self._dense.full.take(top), settings.beta)
        pool = np.unique(np.fromiter((p for p, _ in (*dense, *sparse)), dtype=np.int64))
        scores = self._dense.scores_for(moved, pool)
        order = np.lexsort((pool, -scores))[:depth]
        return [(int(pool[i]), float(scores[i])) for i in order]

    def _bm25_feedback(self, tokens: list[str], ranking: list[FusedHit],
                       bm25_scores: np.ndarray, allowed: np.ndarray | None,
                       depth: int) -> list[tuple[int, float]]:
        """BM25 list of the query expanded with the top documents' characteristic tokens."""
        settings = self.policy.feedback
        rows = [int(hit.id) for hit in ranking[:settings.depth]]
        # Tokenizing the stored text again costs O(document), not a scan of its segment.
        top = [self.bm25.row_tokens(row, self.tokenizer.tokenize(self._docs.text(row)))
               for row in rows]
        terms = expansion_terms(tokens, top, self.bm25.idf, settings.terms)
        if not terms:
            return _bm25_list(bm25_scores, allowed, depth)
        mixed = mix_scores(bm25_scores, self.bm25.row_scores(terms), settings.weight)
        return _bm25_list(mixed, allowed, depth)

    def _options(self, k: int, fusion: str | None, alpha: float | None,
                 filter: MetadataFilter | None, ids: Collection[str] | None,
                 dense_candidates: CandidatesInput | None,
                 feedback: str | None) -> _Options:
        """One search's settings, checked before any work (embedding the query) is done."""
        return _Options(k, fusion or self.fusion, self.alpha if alpha is None else alpha,
                        _check_filter(filter), ids,
                        _external(dense_candidates),
                        feedback or self.feedback)

    def _needs_query_vector(self, options: _Options) -> bool:
        return (options.fusion != "bm25" and options.dense_candidates is None
                and self.store_vectors)

    def _check_query_vector(self, vector: np.ndarray | None) -> np.ndarray | None:
        if vector is None:
            return None
        vector = np.asarray(vector, dtype=np.float32)
        if vector.shape != (self.embedder.dimension,):
            raise ValueError(f"query_vector has shape {vector.shape}, expected "
                             f"({self.embedder.dimension},) from {self.embedder.model_name}")
        if not np.isfinite(vector).all():
            raise ValueError("query_vector holds NaN or infinity")
        return vector

    def _dense_list(self, query_vector: np.ndarray | None, external: Any,
                    allowed: np.ndarray | None, depth: int) -> list[tuple[int, float]]:
        if external is not None:
            return self._external_list(external, allowed)
        if query_vector is None:
            raise ValueError("this index stores no vectors (store_vectors=False): pass "
                             "dense_candidates from your vector store, or use fusion='bm25'")
        if self._dense is None:
            return []
        if allowed is None and self.bm25.num_rows != len(self):
            allowed = self._live
        rows, scores = self._dense.top(query_vector, depth, allowed)
        return list(zip(rows.tolist(), scores.astype(np.float64).tolist()))

    def _external_list(self, external: list[tuple[str, float]],
                       allowed: np.ndarray | None) -> list[tuple[int, float]]:
        pairs = []
        for doc_id, score in external:  # from as_similarities: unique ids, finite scores
            position = self._docs.rows.get(doc_id)
            # A shared vector store may hold documents this index never saw: skip them.
            if position is not None and (allowed is None or allowed[position]):
                pairs.append((position, score))
        return pairs

    def _fuse(self, mode: str, alpha: float, dense: list, sparse: list, *,
              complete_bm25: bool, limit: int) -> list[FusedHit]:
        if mode == "dense":
            return _single(dense[:limit], which=0)
        if mode == "bm25":
            return _single(sparse[:limit], which=1)
        if mode == "rrf":
            return rrf([dense, sparse], weights=[alpha, 1 - alpha], k=self.rrf_k)
        # A BM25 list shorter than asked holds every matching document: the true floor of the
        # rest is 0, so its last match keeps some credit instead of normalizing to 0.
        return weighted_top(dense, sparse, alpha, limit=limit,
                            floors=(None, 0.0 if complete_bm25 else None))

    def _hit(self, item: FusedHit, exact_dense: float | None,
             bm25_scores: np.ndarray | None, external: Any) -> SearchHit:
        position = int(item.id)
        ranks = (*item.ranks, None, None)
        raw = (*item.scores, None, None)
        dense_score = exact_dense if exact_dense is not None else raw[0]
        bm25_score = float(bm25_scores[position]) if bm25_scores is not None else None
        return SearchHit(
            id=self._docs.id(position), text=self._docs.text(position),
            metadata=self._docs.metadata(position), score=item.score,
            dense_score=None if external is not None and ranks[0] is None else dense_score,
            bm25_score=bm25_score, dense_rank=ranks[0], bm25_rank=ranks[1])

    def _allowed(self, filter: MetadataFilter | None,
                 ids: Collection[str] | None = None) -> np.ndarray | None:
        allowed = None
        if callable(filter):
            allowed = np.array([bool(filter(meta)) for meta in self._docs.metadatas], dtype=bool)
        elif filter:
            allowed = np.array([all(key in meta and meta[key] == value
                                    for key, value in filter.items())
                                for meta in self._docs.metadatas], dtype=bool)
        if ids is not None:
            in_ids = np.zeros(self._docs.num_rows, dtype=bool)
            in_ids[self._positions(ids)] = True
            allowed = in_ids if allowed is None else allowed & in_ids
        return allowed if allowed is None else allowed & self._live

    def _positions(self, ids: Collection[str]) -> list[int]:
        if isinstance(ids, str):
            raise TypeError("ids must be a collection of document ids, not a single string")
        unknown = [doc_id for doc_id in ids if doc_id not in self._docs.rows]
        if unknown:
            raise KeyError(f"ids not in the index: {unknown[:10]}")
        return [self._docs.rows[doc_id] for doc_id in ids]

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path, *, extra: Mapping[str, Any] | None = None) -> None:
        """Write the index to a folder: numpy arrays and JSON, no pickle.

        A new version is written beside the old one and then made current in one atomic
        rename, so a crash mid-save leaves the previous save loadable. Saves from several
        processes to one folder take turns (a lock file), and a `load` running meanwhile
        returns the old or the new version (`embedkit.atomic_dir`). Files that never change
        once written (BM25 segments, vector and document chunks) are hard-linked from the
        previous version instead of written again.

        Args:
            path: the folder.
            extra: JSON-serializable settings of whatever wraps the index (an adapter's
                retriever), saved in the same atomic write and returned by `load` as
                ``saved_extra``, so the index and its wrapper can never disagree.
        """
        extra = _check_extra(extra)
        with new_version(path) as folder:
            previous = _previous_version(path)  # read under the save lock
            manifest = {**self._manifest(), "extra": extra}
            if self._dense is not None:
                (folder / VECTORS_FOLDER).mkdir()
                manifest["vectors"] = self._dense.save(
                    folder / VECTORS_FOLDER, previous / VECTORS_FOLDER if previous else None)
            (folder / DOCUMENTS_FOLDER).mkdir()
            manifest["documents"] = self._docs.save(
                folder / DOCUMENTS_FOLDER, previous / DOCUMENTS_FOLDER if previous else None)
            self.bm25.save(folder / BM25_FOLDER,
                           previous=previous / BM25_FOLDER if previous else None)
            (folder / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path, embedder: Embedder, **overrides: Any) -> HybridIndex:
        """Open a saved index; the embedder must have the fingerprint it was built with.

        Vectors, BM25 segments and document texts are memory-mapped: opening takes
        milliseconds whatever the size, pages load as searches touch them and are shared
        between processes. The folder is read as untrusted input: ``CURRENT`` must name a
        version folder inside it, symlinks and anything but regular files are refused, array
        headers (dtype, shape, byte count) are checked before mapping, and every setting must
        be one `save` writes. A load racing saves from other processes returns the old or the
        new version. Index format 1 (before segments) is still read. The ``extra`` settings
        given to `save` are in the loaded index's ``saved_extra`` (an empty dict when there
        were none).

        Args:
            path: the folder given to `save`.
            embedder: configured as when the index was built.
            **overrides: constructor settings that replace the saved ones (``fusion``,
                ``monitor``, ``show_progress``...). ``tokenizer``: required when the index was
                saved with a pattern outside `embedkit.retrieval.tokenizer.PATTERNS` (a regex
                read from disk is never compiled); it must equal the saved tokenizer.

        Raises:
            FileNotFoundError: nothing was saved at ``path``.
            embedkit.errors.IndexFormatError: a corrupt, inconsistent or hostile save (the
                message names the file).
            embedkit.errors.FingerprintMismatchError: built with another embedder.
        """
        _check_embedder(embedder)
        return read_current(path, lambda version: cls._read_version(
            SaveFolder(version), embedder, path, dict(overrides)))

    @classmethod
    def _read_version(cls, folder: SaveFolder, embedder: Embedder, path: str | Path,
                      overrides: dict[str, Any]) -> HybridIndex:
        manifest = read_manifest(folder)
        _check_fingerprint(manifest, embedder, path)
        tokenizer = _saved_tokenizer(folder, manifest["tokenizer"],
                                     overrides.pop("tokenizer", None))
        bm25 = BM25Index.read(folder.folder(BM25_FOLDER))
        settings = {"auto": AutoAlpha(**manifest["auto"]), **manifest["settings"], **overrides}
        if "policy" in manifest:  # saves before the policy existed use the default one
            settings = {"policy": SearchPolicy(**manifest["policy"]), **settings}
        index = cls(embedder, bm25=bm25, tokenizer=tokenizer, **settings)
        if manifest["format"] == 1:
            index._read_format1(folder, manifest)
        else:
            index._read_rows(folder, manifest)
        index.saved_extra = dict(manifest.get("extra") or {})
        return index

    def _read_format1(self, folder: SaveFolder, manifest: Mapping[str, Any]) -> None:
        """documents.jsonl and one vectors.npy: every row live."""
        ids, texts, metadatas = read_documents(folder, manifest["count"])
        if len(self.bm25) != len(ids):
            raise folder.error(f"{BM25_FOLDER}/bm25.json", f"{len(self.bm25)} documents, "
                               f"documents.jsonl {len(ids)}")
        self._docs.append(ids, texts, metadatas)
        if self.store_vectors:
            self._vectors().add(read_vectors(folder, len(ids), self.embedder.dimension))

    def _read_rows(self, folder: SaveFolder, manifest: Mapping[str, Any]) -> None:
        rows = self.bm25.num_rows
        if len(self.bm25) != manifest["count"]:
            raise folder.error(f"{BM25_FOLDER}/bm25.json", f"{len(self.bm25)} live documents, "
                               f"the manifest says {manifest['count']}")
        self._docs = DocumentStore.read(folder.folder(DOCUMENTS_FOLDER), manifest["documents"],
                                        self._live)
        if "vectors" not in manifest:
            if self.store_vectors and rows:
                raise folder.error(MANIFEST, f"no vectors for {rows} rows")
            return
        if not self.store_vectors:
            raise folder.error(MANIFEST, "vectors saved, but settings.store_vectors is false")
        self._dense = DenseVectors.read(folder.folder(VECTORS_FOLDER), manifest["vectors"],
                                        self.embedder.dimension, rows, **self._ann_options())

    def _manifest(self) -> dict[str, Any]:
        return {
            "format": INDEX_FORMAT,
            "fingerprint": self.embedder.fingerprint,
            "embedder": self.embedder.describe(),
            "count": len(self),
            "settings": {"fusion": self.fusion, "alpha": self.alpha, "rrf_k": self.rrf_k,
                         "candidates": self.candidates, "store_vectors": self.store_vectors,
                         "feedback": self.feedback,
                         "vectors": self.vectors_mode, "rescore": self.rescore,
                         **self._ann_options()},
            "auto": asdict(self.auto),
            "policy": self.policy.to_dict(),
            "tokenizer": self.tokenizer.to_dict(),
        }

    # ------------------------------------------------------------------ internals
    def _vectors(self) -> DenseVectors:
        if self._dense is None:
            self._dense = DenseVectors(self.embedder.dimension, self.vectors_mode, self.rescore,
                                       **self._ann_options())
        return self._dense

    def _ann_options(self) -> dict[str, Any]:
        return {"ann": self.ann, "ann_min_rows": self.ann_min_rows, "ef_search": self.ef_search}

    def _check_vectors(self, vectors: np.ndarray, count: int) -> np.ndarray:
        if not self.store_vectors:
            raise ValueError("vectors= was given but this index stores no vectors "
                             "(store_vectors=False)")
        array = np.asarray(vectors)
        dimension = self.embedder.dimension
        if array.shape != (count, dimension):
            raise ValueError(f"vectors have shape {array.shape}, expected ({count}, "
                             f"{dimension}): {count} texts, dimension {dimension} of "
                             f"{self.embedder.model_name}")
        if not np.issubdtype(array.dtype, np.number):
            raise TypeError(f"vectors must be numeric, got {array.dtype}")
        array = np.ascontiguousarray(array, dtype=np.float32)
        bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
        if bad.size:
            raise ValueError(f"vectors of texts at indices {bad[:10].tolist()} are not finite "
                             "(NaN or inf)")
        return array

    def _embed_in_chunks(self, texts: list[str]) -> np.ndarray:
        chunks = [texts[i:i + _ADD_CHUNK] for i in range(0, len(texts), _ADD_CHUNK)]
        parts = [self.embedder.embed_documents(chunk) for chunk in progress(
            chunks, total=len(chunks), desc="indexing",
            enabled=self.show_progress and len(chunks) > 1)]
        return np.concatenate(parts) if parts else np.empty((0, self.embedder.dimension),
                                                            dtype=np.float32)

    def _position(self, doc_id: str) -> int:
        try:
            return self._docs.rows[doc_id]
        except KeyError:
            raise KeyError(f"id {doc_id!r} is not in the index") from None

    def __repr__(self) -> str:
        return (f"HybridIndex({len(self)} documents, fusion={self.fusion!r}, "
                f"model={self.embedder.model_name!r})")


@dataclass(frozen=True)
class _Options:
    """One search's settings, resolved against the index's defaults."""

    k: int
    fusion: str
    alpha: float
    filter: MetadataFilter | None
    ids: Collection[str] | None
    dense_candidates: list[tuple[str, float]] | None
    feedback: str | None


def _external(candidates: CandidatesInput | None) -> list[tuple[str, float]] | None:
    return None if candidates is None else as_similarities(candidates)


def _single(ranked: list[tuple[int, float]], which: int) -> list[FusedHit]:
    """One method's list as hits, keeping its own scores (cosine or BM25)."""
    hits = []
    for rank, (position, score) in enumerate(ranked, start=1):
        scores: list[float | None] = [None, None]
        ranks: list[int | None] = [None, None]
        scores[which], ranks[which] = score, rank
        hits.append(FusedHit(position, score, tuple(scores), tuple(ranks)))
    return hits


def _bm25_list(scores: np.ndarray, allowed: np.ndarray | None,
               depth: int) -> list[tuple[int, float]]:
    if allowed is not None:
        scores = np.where(allowed, scores, 0.0)
    positions, values = top_k_positive(scores, depth)  # zero-score documents are never hits
    return [(int(p), float(v)) for p, v in zip(positions, values)]


def _check_fusion(fusion: str, alpha: float, candidates: int) -> None:
    if fusion not in FUSIONS:
        raise ValueError(f"unknown fusion {fusion!r}; choose one of {', '.join(FUSIONS)}")
    if not isinstance(alpha, int | float) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    if not isinstance(candidates, int) or candidates < 1:
        raise ValueError(f"candidates must be a positive integer, got {candidates!r}")


def _resolve_feedback(feedback: str | None, fusion: str) -> str:
    """None means the fusion's own choice: feedback decided per query by ``"auto"`` only."""
    if feedback is None:
        return "auto" if fusion == "auto" else "none"
    return check_feedback_mode(feedback)


def _check_k(k: int) -> None:
    check_int("k", k, minimum=0, numpy_ok=True)


def _check_embedder(embedder: Any) -> None:
    missing = [name for name in ("embed_documents", "embed_query", "fingerprint", "dimension")
               if not hasattr(embedder, name)]
    if missing:
        raise TypeError(f"HybridIndex needs an embedder (embedkit.Embedder), got "
                        f"{type(embedder).__name__}: {embedder!r:.80}")


def _check_filter(filter: Any) -> MetadataFilter | None:
    """A callable as it is, or a dict normalized like stored metadata (tuples -> lists)."""
    if filter is None or callable(filter):
        return filter
    if not isinstance(filter, Mapping):
        raise TypeError(f"filter must be a dict {{key: value}} or a callable over a document's "
                        f"metadata, got {type(filter).__name__}: {filter!r:.80}")
    for key in filter:
        if not isinstance(key, str):
            raise TypeError(f"filter key {key!r} is {type(key).__name__}; metadata keys are str")
    return {key: _json_value(value, f"filter value for {key!r}") for key, value in filter.items()}


def _check_ids(ids: Sequence[str] | None, count: int) -> list[str]:
    if ids is None:
        return [uuid.uuid4().hex for _ in range(count)]
    if isinstance(ids, str | bytes):
        raise TypeError(f"ids must be a list of ids, got a single {type(ids).__name__} "
                        f"{ids!r:.80}; wrap it: ids=[...]")
    ids = list(ids)
    if len(ids) != count:
        raise ValueError(f"{len(ids)} ids for {count} texts")
    for index, doc_id in enumerate(ids):
        if not isinstance(doc_id, str) or not doc_id:
            raise TypeError(f"id at index {index} must be a non-empty str, got {doc_id!r}")
        _json_value(doc_id, f"id at index {index}")  # lone surrogates cannot be saved
    seen: dict[str, int] = {}
    for index, doc_id in enumerate(ids):
        if doc_id in seen:
            raise ValueError(f"id {doc_id!r} appears twice, at indices {seen[doc_id]} and {index}")
        seen[doc_id] = index
    return ids


def _check_metadatas(metadatas: Sequence[Mapping[str, Any]] | None,
                     ids: list[str]) -> list[dict[str, Any]]:
    if metadatas is None:
        return [{} for _ in ids]
    metadatas = list(metadatas)
    if len(metadatas) != len(ids):
        raise ValueError(f"{len(metadatas)} metadatas for {len(ids)} texts")
    out = []
    for index, meta in enumerate(metadatas):
        if not isinstance(meta, Mapping):
            raise TypeError(f"metadata at index {index} is {type(meta).__name__}, expected dict")
        where = f"metadata at index {index} (id {ids[index]!r})"
        bad_key = _non_string_key(meta)
        if bad_key is not None:
            raise TypeError(f"{where}: key {bad_key!r} is {type(bad_key).__name__}; metadata "
                            "keys must be str (saved as JSON, 1 and '1' would collide)")
        out.append(_json_value(dict(meta), where))
    return out


def _check_extra(extra: Any) -> dict[str, Any]:
    if extra is None:
        return {}
    if not isinstance(extra, Mapping):
        raise TypeError(f"extra must be a dict of settings, got {type(extra).__name__}")
    return _json_value(dict(extra), "extra")


def _json_value(value: Any, where: str) -> Any:
    """``value`` as JSON gives it back (tuples -> lists); what a save and load return."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
        text.encode("utf-8")
    except ValueError as exc:  # NaN / infinity, or a circular reference
        raise TypeError(f"{where} is not storable as JSON: {exc} (a number not finite?)") \
            from None
    except (TypeError, UnicodeEncodeError) as exc:
        raise TypeError(f"{where} is not JSON-serializable: {exc}") from None
    return json.loads(text)


def _non_string_key(value: Any) -> Any:
    """The first dict key, at any depth, that is not a str; None when all are."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return key
            found = _non_string_key(item)
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for item in value:
            found = _non_string_key(item)
            if found is not None:
                return found
    return None


def _saved_tokenizer(folder: SaveFolder, saved: dict[str, Any],
                     given: Tokenizer | None) -> Tokenizer:
    """The saved tokenizer; a regex from disk is compiled only when it is a known preset."""
    if given is not None:
        if not isinstance(given, Tokenizer):
            raise TypeError(f"tokenizer must be a Tokenizer, got {type(given).__name__}")
        if json.loads(json.dumps(given.to_dict())) != saved:
            raise folder.error(MANIFEST, "the tokenizer passed does not match the one the index "
                               "was saved with (its BM25 tokens would not match)")
        return given
    try:
        return Tokenizer.from_dict(saved)
    except (ValueError, TypeError) as exc:
        raise folder.error(MANIFEST, f"tokenizer: {exc}") from None


def _previous_version(path: str | Path) -> Path | None:
    """The current save at ``path``, whose unchanged files a new save can hard-link."""
    try:
        return current_version(path)
    except FileNotFoundError:
        return None


def _check_fingerprint(manifest: Mapping[str, Any], embedder: Embedder, path: str | Path) -> None:
    if manifest["fingerprint"] == embedder.fingerprint:
        return
    raise FingerprintMismatchError(
        f"the index at {path} was built with other embedder settings: "
        f"{describe_difference(manifest.get('embedder'), embedder.describe())} (fingerprint "
        f"{manifest['fingerprint']} vs {embedder.fingerprint}); mixing them would compare "
        "vectors from different spaces. Load it with the original embedder settings, or "
        "rebuild the index.")
