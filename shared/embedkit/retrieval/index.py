"""`HybridIndex`: BM25 + exact dense search, fused soundly, saved without pickle.

The guide's ``HybridRetriever`` divides by the max score (wrong for negative cosines, a
division by zero when no BM25 term matches) and tokenizes with ``str.split``. Here each side
returns its top ``candidates``; `embedkit.retrieval.fusion` normalizes within those lists and fuses over
their union. ``fusion="auto"`` (`embedkit.retrieval.policy`) weights BM25 by how much its
list agrees with the dense one and by the query's rare codes, and re-searches with dense
pseudo-relevance feedback (`embedkit.retrieval.feedback`) unless the query is a known-item
lookup.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..atomic_dir import current_version, new_version
from .bm25 import BM25Index, top_k_positive
from ..embedder import Embedder
from ..errors import FingerprintMismatchError
from .feedback import check_feedback_mode, expansion_terms, mix_scores, rocchio
from .fusion import AutoAlpha, FusedHit, rrf, weighted_top
from .policy import SearchPolicy
from .signals import overlap, query_signals
from ..progress import progress
from .tokenizer import Tokenizer
from ..validation import validate_query, validate_texts

FUSIONS = ("auto", "auto-v1", "rrf", "weighted", "dense", "bm25")
DEFAULT_FUSION = "auto"
_FORMAT = 1
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


@dataclass
class _Documents:
    """Texts, ids and metadata by position; positions match the BM25 index and the matrix."""

    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    metadatas: list[dict[str, Any]] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)

    def append(self, ids: list[str], texts: list[str], metadatas: list[dict[str, Any]]) -> None:
        start = len(self.ids)
        self.ids += ids
        self.texts += texts
        self.metadatas += metadatas
        self.positions.update((doc_id, start + i) for i, doc_id in enumerate(ids))

    def remove(self, doomed: set[int]) -> None:
        keep = [i for i in range(len(self.ids)) if i not in doomed]
        self.ids = [self.ids[i] for i in keep]
        self.texts = [self.texts[i] for i in keep]
        self.metadatas = [self.metadatas[i] for i in keep]
        self.positions = {doc_id: i for i, doc_id in enumerate(self.ids)}


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
            side and passes ``dense_candidates`` to `search`.
        show_progress: progress bar while adding many texts.
        monitor: told the query vector and the dense top-k similarities of every search
            (e.g. a `embedkit.retrieval.monitor.SimilarityMonitor`), so retrievers built on this index,
            in any framework, are monitored without code of their own.

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
        store_vectors: bool = True,
        show_progress: bool = False,
        auto: AutoAlpha | None = None,
        monitor: SearchObserver | None = None,
        feedback: str | None = None,
        policy: SearchPolicy | None = None,
    ) -> None:
        _check_fusion(fusion, alpha, candidates)
        if feedback is not None:
            check_feedback_mode(feedback)
        self.embedder = embedder
        self.fusion, self.alpha, self.rrf_k, self.candidates = fusion, float(alpha), rrf_k, candidates
        self.bm25 = bm25 if isinstance(bm25, BM25Index) else BM25Index(backend=bm25)
        self.tokenizer = tokenizer or Tokenizer(glossary=embedder.glossary)
        self.store_vectors = store_vectors
        self.show_progress = show_progress
        self.auto = auto or AutoAlpha()
        self.feedback = feedback
        self.policy = policy or SearchPolicy()
        self.monitor = monitor
        self._docs = _Documents()
        self._blocks: list[np.ndarray] = []  # appended matrices, joined lazily on search

    # ------------------------------------------------------------------ contents
    def __len__(self) -> int:
        return len(self._docs.ids)

    @property
    def ids(self) -> list[str]:
        return list(self._docs.ids)

    def get(self, doc_id: str) -> tuple[str, dict[str, Any]]:
        """(text, metadata) of one document."""
        position = self._position(doc_id)
        return self._docs.texts[position], dict(self._docs.metadatas[position])

    def add(self, texts: Sequence[str], ids: Sequence[str] | None = None,
            metadatas: Sequence[Mapping[str, Any]] | None = None) -> list[str]:
        """Embed and index texts; an id already present is replaced. Returns the ids."""
        texts = validate_texts(texts)
        ids = _check_ids(ids, len(texts))
        metadatas = _check_metadatas(metadatas, ids)
        replaced = [doc_id for doc_id in ids if doc_id in self._docs.positions]
        vectors = self._embed_in_chunks(texts) if self.store_vectors else None
        tokens = self.tokenizer.tokenize_many(texts)
        if replaced:  # only once the new vectors exist: a failed add changes nothing
            self.delete(replaced)
        self._docs.append(ids, texts, metadatas)
        self.bm25.add(tokens)
        if vectors is not None:
            self._blocks.append(vectors)
        return ids

    def delete(self, ids: Sequence[str]) -> None:
        """Remove documents; unknown ids raise KeyError and nothing is removed."""
        ids = [ids] if isinstance(ids, str) else list(ids)
        unknown = [doc_id for doc_id in ids if doc_id not in self._docs.positions]
        if unknown:
            raise KeyError(f"ids not in the index: {unknown[:10]}")
        doomed = {self._docs.positions[doc_id] for doc_id in ids}
        if self.store_vectors and doomed:
            self._blocks = [np.delete(self._matrix(), sorted(doomed), axis=0)]
        self.bm25.delete(sorted(doomed))
        self._docs.remove(doomed)

    # ------------------------------------------------------------------ search
    def search(self, query: str, k: int = 10, *, filter: MetadataFilter | None = None,
               dense_candidates: Sequence[tuple[str, float]] | None = None,
               fusion: str | None = None, alpha: float | None = None,
               ids: Collection[str] | None = None,
               query_vector: np.ndarray | None = None,
               feedback: str | None = None) -> list[SearchHit]:
        """The best ``k`` documents for ``query`` (fewer when the corpus or filter has fewer).

        Args:
            filter: metadata equality on every key, or a predicate over a document's
                metadata; applied before taking the top k.
            dense_candidates: ``(id, similarity)`` pairs from an external vector store,
                used instead of this index's own matrix.
            fusion: override the index's fusion for this query.
            alpha: override the index's ``alpha`` for this query.
            ids: search only these documents (e.g. a per-query candidate pool); combined
                with ``filter``. Unknown ids raise KeyError.
            query_vector: the query's vector when already embedded by this index's
                embedder (e.g. many queries at once with ``embedder.embed_queries``).
            feedback: override the index's ``feedback`` for this query.
        """
        validate_query(query)
        options = _Options(k, fusion or self.fusion, self.alpha if alpha is None else alpha,
                           filter, ids, dense_candidates, feedback or self.feedback)
        if query_vector is None and self._needs_query_vector(options):
            query_vector = self.embedder.embed_query(query)
        return self._search(query, query_vector, options)

    async def asearch(self, query: str, k: int = 10, *, filter: MetadataFilter | None = None,
                      dense_candidates: Sequence[tuple[str, float]] | None = None,
                      fusion: str | None = None, alpha: float | None = None,
                      ids: Collection[str] | None = None,
                      query_vector: np.ndarray | None = None,
                      feedback: str | None = None) -> list[SearchHit]:
        """`search` without blocking the event loop."""
        validate_query(query)
        options = _Options(k, fusion or self.fusion, self.alpha if alpha is None else alpha,
                           filter, ids, dense_candidates, feedback or self.feedback)
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
        if k == 0 or not self._docs.ids:
            return []
        allowed = self._allowed(options.filter, options.ids)
        depth = max(self.candidates, k)
        tokens = self.tokenizer.tokenize(query)
        dense_scores = None if query_vector is None else self._matrix() @ query_vector
        dense = [] if mode == "bm25" else self._dense_list(
            dense_scores, options.dense_candidates, allowed, depth)
        bm25_scores = self.bm25.get_scores(tokens) if mode != "dense" else None
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
        return [self._hit(item, dense_scores, bm25_scores, options.dense_candidates)
                for item in fused[:k]]

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
        if query_vector is None or not self.store_vectors or not ranking:
            return dense
        matrix = self._matrix()
        top = [int(hit.id) for hit in ranking[:settings.depth]]
        moved = rocchio(query_vector, matrix[top], settings.beta)
        pool = np.unique(np.fromiter((p for p, _ in (*dense, *sparse)), dtype=np.int64))
        scores = matrix[pool] @ moved
        order = np.lexsort((pool, -scores))[:depth]
        return [(int(pool[i]), float(scores[i])) for i in order]

    def _bm25_feedback(self, tokens: list[str], ranking: list[FusedHit],
                       bm25_scores: np.ndarray, allowed: np.ndarray | None,
                       depth: int) -> list[tuple[int, float]]:
        """BM25 list of the query expanded with the top documents' characteristic tokens."""
        settings = self.policy.feedback
        top = [self.bm25.tokens[int(hit.id)] for hit in ranking[:settings.depth]]
        terms = expansion_terms(tokens, top, self.bm25.idf, settings.terms)
        if not terms:
            return _bm25_list(bm25_scores, allowed, depth)
        mixed = mix_scores(bm25_scores, self.bm25.get_scores(terms), settings.weight)
        return _bm25_list(mixed, allowed, depth)

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
        return vector

    def _dense_list(self, scores: np.ndarray | None, external: Any, allowed: np.ndarray | None,
                    depth: int) -> list[tuple[int, float]]:
        if external is not None:
            return self._external_list(external, allowed)
        if scores is None:
            raise ValueError("this index stores no vectors (store_vectors=False): pass "
                             "dense_candidates from your vector store, or use fusion='bm25'")
        masked = scores if allowed is None else np.where(allowed, scores, -np.inf)
        depth = min(depth, int(np.isfinite(masked).sum()))
        if depth == 0:
            return []
        top = np.argpartition(-masked, depth - 1)[:depth]
        top = top[np.lexsort((top, -masked[top]))]
        return [(int(i), float(masked[i])) for i in top]

    def _external_list(self, external: Sequence[tuple[str, float]],
                       allowed: np.ndarray | None) -> list[tuple[int, float]]:
        pairs = []
        for doc_id, score in external:
            position = self._docs.positions.get(doc_id)
            # A shared vector store may hold documents this index never saw: skip them.
            if position is not None and (allowed is None or allowed[position]):
                pairs.append((position, float(score)))
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

    def _hit(self, item: FusedHit, dense_scores: np.ndarray | None,
             bm25_scores: np.ndarray | None, external: Any) -> SearchHit:
        position = int(item.id)
        ranks = (*item.ranks, None, None)
        raw = (*item.scores, None, None)
        dense_score = float(dense_scores[position]) if dense_scores is not None else raw[0]
        bm25_score = float(bm25_scores[position]) if bm25_scores is not None else None
        return SearchHit(
            id=self._docs.ids[position], text=self._docs.texts[position],
            metadata=dict(self._docs.metadatas[position]), score=item.score,
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
            in_ids = np.zeros(len(self._docs.ids), dtype=bool)
            in_ids[self._positions(ids)] = True
            allowed = in_ids if allowed is None else allowed & in_ids
        return allowed

    def _positions(self, ids: Collection[str]) -> list[int]:
        if isinstance(ids, str):
            raise TypeError("ids must be a collection of document ids, not a single string")
        unknown = [doc_id for doc_id in ids if doc_id not in self._docs.positions]
        if unknown:
            raise KeyError(f"ids not in the index: {unknown[:10]}")
        return [self._docs.positions[doc_id] for doc_id in ids]

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        """Write the index to a folder: numpy arrays, JSON and BM25 files, no pickle.

        A new version is written beside the old one and then made current in one atomic
        rename, so a crash mid-save leaves the previous save loadable.
        """
        with new_version(path) as folder:
            if self.store_vectors:
                np.save(folder / "vectors.npy", self._matrix(), allow_pickle=False)
            with (folder / "documents.jsonl").open("w", encoding="utf-8") as fh:
                for doc_id, text, meta in zip(self._docs.ids, self._docs.texts,
                                              self._docs.metadatas):
                    fh.write(json.dumps({"id": doc_id, "text": text, "metadata": meta},
                                        ensure_ascii=False) + "\n")
            self.bm25.save(folder / "bm25")
            (folder / "manifest.json").write_text(json.dumps(self._manifest(), indent=2),
                                                  encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path, embedder: Embedder, **overrides: Any) -> HybridIndex:
        """Open a saved index; the embedder must have the fingerprint it was built with."""
        folder = current_version(path)
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("format") != _FORMAT:
            raise ValueError(f"{folder}: unsupported index format {manifest.get('format')!r}")
        _check_fingerprint(manifest, embedder, path)
        settings = {**manifest["settings"], **overrides}
        index = cls(embedder, bm25=BM25Index.load(folder / "bm25"),
                    tokenizer=Tokenizer.from_dict(manifest["tokenizer"]),
                    auto=AutoAlpha(**manifest["auto"]),
                    policy=SearchPolicy(**manifest["policy"]) if "policy" in manifest else None,
                    **settings)
        index._load_documents(folder, manifest)
        return index

    def _manifest(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "fingerprint": self.embedder.fingerprint,
            "embedder": self.embedder.describe(),
            "count": len(self),
            "settings": {"fusion": self.fusion, "alpha": self.alpha, "rrf_k": self.rrf_k,
                         "candidates": self.candidates, "store_vectors": self.store_vectors,
                         "feedback": self.feedback},
            "auto": asdict(self.auto),
            "policy": self.policy.to_dict(),
            "tokenizer": self.tokenizer.to_dict(),
        }

    def _load_documents(self, folder: Path, manifest: Mapping[str, Any]) -> None:
        with (folder / "documents.jsonl").open(encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh]
        self._docs.append([r["id"] for r in rows], [r["text"] for r in rows],
                          [r["metadata"] for r in rows])
        if self.store_vectors:
            matrix = np.load(folder / "vectors.npy", allow_pickle=False)
            if matrix.shape != (len(rows), self.embedder.dimension):
                raise ValueError(f"{folder}: vectors {matrix.shape} do not match "
                                 f"{len(rows)} documents of dimension {self.embedder.dimension}")
            self._blocks = [matrix.astype(np.float32, copy=False)]
        if len(rows) != manifest["count"] or len(self.bm25) != len(rows):
            raise ValueError(f"{folder}: the save is inconsistent ({len(rows)} documents, "
                             f"{len(self.bm25)} BM25 entries, manifest {manifest['count']})")

    # ------------------------------------------------------------------ internals
    def _matrix(self) -> np.ndarray:
        if not self._blocks:
            return np.empty((0, self.embedder.dimension), dtype=np.float32)
        if len(self._blocks) > 1:
            self._blocks = [np.concatenate(self._blocks)]
        return self._blocks[0]

    def _embed_in_chunks(self, texts: list[str]) -> np.ndarray:
        chunks = [texts[i:i + _ADD_CHUNK] for i in range(0, len(texts), _ADD_CHUNK)]
        parts = [self.embedder.embed_documents(chunk) for chunk in progress(
            chunks, total=len(chunks), desc="indexing",
            enabled=self.show_progress and len(chunks) > 1)]
        return np.concatenate(parts) if parts else np.empty((0, self.embedder.dimension),
                                                            dtype=np.float32)

    def _position(self, doc_id: str) -> int:
        try:
            return self._docs.positions[doc_id]
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
    dense_candidates: Sequence[tuple[str, float]] | None
    feedback: str | None


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
    if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 0:
        raise ValueError(f"k must be an integer >= 0, got {k!r}")


def _check_ids(ids: Sequence[str] | None, count: int) -> list[str]:
    if ids is None:
        return [uuid.uuid4().hex for _ in range(count)]
    ids = list(ids)
    if len(ids) != count:
        raise ValueError(f"{len(ids)} ids for {count} texts")
    for index, doc_id in enumerate(ids):
        if not isinstance(doc_id, str) or not doc_id:
            raise TypeError(f"id at index {index} must be a non-empty str, got {doc_id!r}")
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
        try:
            json.dumps(dict(meta))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"metadata at index {index} (id {ids[index]!r}) is not "
                            f"JSON-serializable: {exc}") from exc
        out.append(dict(meta))
    return out


def _check_fingerprint(manifest: Mapping[str, Any], embedder: Embedder, path: str | Path) -> None:
    if manifest["fingerprint"] == embedder.fingerprint:
        return
    built = manifest.get("embedder", {})
    raise FingerprintMismatchError(
        f"the index at {path} was built with {built.get('model')} (fingerprint "
        f"{manifest['fingerprint']}), but this embedder is {embedder.model_name} (fingerprint "
        f"{embedder.fingerprint}); {_differences(built, embedder.describe())}. Mixing them "
        "would compare vectors from different spaces. Load it with the original embedder "
        "settings, or rebuild the index.")


def _differences(built: Mapping[str, Any], current: Mapping[str, Any]) -> str:
    """``"backend: torch vs onnx-int8"`` for each setting that differs (index vs embedder)."""
    if "backend" not in built and current.get("backend") is not None:
        built = {**built, "backend": "torch"}  # saved before backends existed: all torch
    names = [name for name in dict.fromkeys([*built, *current])
             if name != "fingerprint" and built.get(name) != current.get(name)]
    if not names:
        return ("no listed setting differs, so the model files or the package version do "
                "(the weights are part of the fingerprint)")
    return "differs in " + ", ".join(f"{name}: {_shown(built.get(name))} vs "
                                     f"{_shown(current.get(name))}" for name in names)


def _shown(value: Any) -> str:
    if value is None:
        return "unset"
    return repr(value) if isinstance(value, str) and not value.strip() else str(value)
