"""`EmbedKitHybridRetriever`: embedkit's `HybridIndex` (BM25 + dense + fusion) as a LangChain
retriever.

Translation only: `Document` objects become (id, text, metadata) rows of the engine index, a
vector store's results become engine `DenseCandidates`, and engine `SearchHit` objects become
`Document` copies carrying their scores. Tokenizing, BM25, score units, fusion, filtering,
persistence and the optional premium re-ranking are the engine's (`embedkit.retrieval`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from embedkit import DenseCandidates, HybridIndex, SearchHit
from embedkit.cost.budget import Budget
from embedkit.retrieval.searcher import HybridSearcher
from embedkit.retrieval.two_stage import DEFAULT_MARGIN, Policy, TwoStageRetriever
from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever, LangSmithRetrieverParams
from langchain_core.vectorstores import VectorStore
from pydantic import ConfigDict, Field, PrivateAttr, model_validator

from ._stores import (
    asearch_store,
    DocumentIds,
    build_index,
    ls_params,
    search_store,
    store_score_kind,
)
from .embeddings import EmbedKitEmbeddings

SETTINGS_KEY = "langchain_retriever"
_FORMAT = 2
# Keyword arguments of `HybridIndex(...)` that `from_documents` passes through.
INDEX_OPTIONS = ("fusion", "alpha", "rrf_k", "candidates", "bm25", "tokenizer", "monitor",
                 "feedback", "policy", "vectors", "rescore", "ann", "ann_min_rows", "ef_search")
# Retriever fields `save` writes into the index's manifest.
SAVED_FIELDS = ("k", "filter", "fetch_k", "score_kind")


class EmbedKitHybridRetriever(BaseRetriever):
    """BM25 and dense search fused into one ranking, over LangChain documents.

    Finds exact keywords (part numbers, error codes, names) that dense search misses and
    paraphrases that BM25 misses. Each returned document is a copy whose metadata holds
    ``score`` (fused), ``dense_score``, ``bm25_score``, ``dense_rank`` and ``bm25_rank``
    (None when that method did not return the document). Over a ``vectorstore``,
    ``dense_score`` is the cosine similarity the engine derives from the store's score
    (distance or similarity, see ``score_kind``).

    With ``premium`` set, queries that escalate (``premium_policy``, or
    ``invoke(q, escalate=True)``) have their top ``premium_top_n`` re-ranked by the premium
    model; the documents then also carry ``premium_score`` and ``premium_rank`` (None for
    hits it did not score) and ``stage1_score`` and ``stage1_rank`` (the hybrid ranking's).

    Setup:
        ``pip install "embedkit[langchain,local,bm25]"``

    Example:
        ```python
        from langchain_core.documents import Document
        from langchain_embedkit import EmbedKitEmbeddings, EmbedKitHybridRetriever

        docs = [Document("Error E1147: tray sensor disconnected", id="e1147"),
                Document("To reset your password, open Settings", id="pw")]
        retriever = EmbedKitHybridRetriever.from_documents(
            docs, embeddings=EmbedKitEmbeddings(), k=4, fusion="rrf")
        retriever.invoke("what does E1147 mean")
        retriever.invoke("forgot my login", k=1, filter={"lang": "en"})
        retriever.save("my-index")
        same = EmbedKitHybridRetriever.load("my-index", EmbedKitEmbeddings())

        # Dense side from a LangChain vector store (FAISS, Chroma, Qdrant...) holding the docs:
        store = FAISS.from_documents(docs, EmbedKitEmbeddings())
        hybrid = EmbedKitHybridRetriever.from_documents(docs, vectorstore=store)
        ```
    """

    index: HybridIndex
    """The engine index: the documents' text and metadata, BM25, and (unless a ``vectorstore``
    provides it) their vectors."""
    embeddings: Embeddings | None = None
    """The embeddings behind the dense side, reported to LangSmith (taken from ``vectorstore``
    when one is given)."""
    vectorstore: VectorStore | None = None
    """A LangChain vector store holding the same documents; when set, it supplies the dense
    candidates and the index does BM25 and fusion only."""
    k: int = Field(default=4, ge=1)
    """Documents returned per query (fewer when fewer match); ``invoke(q, k=...)`` overrides."""
    filter: dict[str, Any] | None = None
    """Metadata filter applied to every query: each key must be present and equal, e.g.
    ``{"lang": "en"}``. ``invoke(q, filter=...)`` overrides it. Over a ``vectorstore`` it is
    applied to the store's ``fetch_k`` candidates, so raise ``fetch_k`` for narrow filters."""
    fetch_k: int | None = Field(default=None, ge=1)
    """Dense candidates fetched from ``vectorstore`` per query (default: the index's
    ``candidates``)."""
    score_kind: str | None = None
    """What the ``vectorstore``'s ``similarity_search_with_score`` returns: ``"similarity"``,
    ``"cosine_distance"``, ``"l2"``, ``"squared_l2"``... (`embedkit.DenseCandidates`). None
    reads it from InMemoryVectorStore, FAISS, Chroma and Qdrant stores; other stores use
    their relevance function (``"relevance"``) or need it set."""
    premium: EmbedKitEmbeddings | None = None
    """A second, better (typically API) model that re-ranks the top ``premium_top_n`` results
    of queries that escalate (`embedkit.TwoStageRetriever`); its vectors meet only its own.
    None: hybrid search only. Not saved by `save`: pass it to `load` again."""
    premium_top_n: int = Field(default=20, ge=1)
    """Candidates the ``premium`` model re-ranks per escalated query."""
    premium_policy: Policy = "uncertain"
    """Which queries escalate to ``premium``: ``"always"``, ``"never"``, ``"uncertain"`` (the
    top two local cosines closer than ``premium_margin``) or a callable
    ``(query, stage1_hits) -> bool``. ``invoke(q, escalate=True/False)`` overrides it."""
    premium_margin: float = DEFAULT_MARGIN
    """The ``"uncertain"`` policy's threshold."""
    budget: Budget | None = None
    """An `embedkit.Budget` for ``premium``'s API calls (shared by everything using that
    model). A re-ranking that would cross it is skipped: the hybrid ranking is returned and one
    `embedkit.retrieval.two_stage.BudgetWarning` says so."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    _searcher: HybridSearcher = PrivateAttr()
    _document_ids: DocumentIds = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        self._document_ids = DocumentIds(self.index)
        self._searcher = HybridSearcher(
            self.index, self.premium.embedder if self.premium is not None else None,
            top_n=self.premium_top_n, policy=self.premium_policy, margin=self.premium_margin,
            budget=self.budget)

    @property
    def two_stage(self) -> TwoStageRetriever | None:
        """The engine's two-stage retriever when ``premium`` is set (its ``stats`` report
        escalations, dollars spent and saved)."""
        return self._searcher.two_stage

    @model_validator(mode="before")
    @classmethod
    def _build_index_from_documents(cls, data: Any) -> Any:
        """Let ``EmbedKitHybridRetriever(documents=..., embeddings=..., k=...)`` build the index."""
        if not isinstance(data, dict) or "documents" not in data:
            return data
        data = dict(data)
        documents = data.pop("documents")
        options = {name: data.pop(name) for name in INDEX_OPTIONS if name in data}
        data["index"] = build_index(documents, data.get("embeddings"), data.get("vectorstore"),
                                     options)
        return data

    @model_validator(mode="after")
    def _read_the_vectorstore(self) -> EmbedKitHybridRetriever:
        if self.vectorstore is None:
            return self
        if self.embeddings is None:
            self.embeddings = self.vectorstore.embeddings
        self.score_kind = store_score_kind(self.vectorstore, self.score_kind)
        return self

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_documents(cls, documents: Iterable[Document], *,
                       embeddings: EmbedKitEmbeddings | None = None,
                       vectorstore: VectorStore | None = None, k: int = 4,
                       filter: dict[str, Any] | None = None, **kwargs: Any,
                       ) -> EmbedKitHybridRetriever:
        """Index ``documents`` for BM25 and dense search.

        Documents are deduplicated by ``Document.id`` (by text and metadata when the id is
        missing; the first one wins), so the same passage never fills two of the ``k``
        places, while two copies of a chunk from different sources both stay.

        Args:
            documents: the corpus. They are copied, never modified.
            embeddings: the model for the dense side (default: the bundled model). Ignored
                for vectors when ``vectorstore`` is given.
            vectorstore: a store that already holds these documents: the dense side, its
                results matched to the documents by id, else by text and metadata.
            k: documents returned per query.
            filter: default metadata filter.
            **kwargs: `HybridIndex` options (``fusion``, ``alpha``, ``rrf_k``, ``candidates``,
                ``bm25``, ``tokenizer``, ``monitor``, ``feedback``, ``policy``; dense feedback
                needs the index's own vectors, so it is skipped over a ``vectorstore``; for a
                large corpus without a vectorstore ``vectors="int8"|"binary"``, ``rescore``,
                ``ann="hnsw"``, ``ann_min_rows``, ``ef_search``) and
                the retriever's own fields (``fetch_k``, ``score_kind``, ``tags``...).
        """
        return cls(documents=list(documents), embeddings=embeddings, vectorstore=vectorstore,
                   k=k, filter=filter, **kwargs)

    @classmethod
    def from_texts(cls, texts: Iterable[str], metadatas: Sequence[dict] | None = None,
                   ids: Sequence[str] | None = None, **kwargs: Any) -> EmbedKitHybridRetriever:
        """`from_documents` for plain strings with optional metadata and ids."""
        texts = list(texts)
        metadatas = list(metadatas) if metadatas is not None else [{}] * len(texts)
        ids = list(ids) if ids is not None else [None] * len(texts)
        if not len(texts) == len(metadatas) == len(ids):
            raise ValueError(f"got {len(texts)} texts, {len(metadatas)} metadatas and "
                             f"{len(ids)} ids; they must be equally long")
        documents = [Document(page_content=t, metadata=m or {}, id=i)
                     for t, m, i in zip(texts, metadatas, ids)]
        return cls.from_documents(documents, **kwargs)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        """Write the retriever to a folder: the engine index (numpy, JSON and BM25 files, no
        pickle) with this retriever's settings in its manifest, replaced in one atomic step.

        A retriever over a ``vectorstore`` saves its BM25 side only; save the store with its
        own method and pass it to `load`. The ``premium`` model, its settings and ``budget``
        are not saved: pass them to `load` again (``load(path, embeddings, premium=...)``).
        """
        settings = {"format": _FORMAT, **{name: getattr(self, name) for name in SAVED_FIELDS}}
        self.index.save(path, extra={SETTINGS_KEY: settings})

    @classmethod
    def load(cls, path: str | Path, embeddings: EmbedKitEmbeddings, *,
             vectorstore: VectorStore | None = None, **kwargs: Any) -> EmbedKitHybridRetriever:
        """Open a folder written by `save`.

        Args:
            path: the folder.
            embeddings: configured as when the index was built; another model, dimension,
                prefix or glossary raises `embedkit.FingerprintMismatchError`.
            vectorstore: required when the retriever was saved over a vector store.
            **kwargs: retriever fields that override the saved ones (``k``, ``filter``...).
        """
        index = HybridIndex.load(path, embeddings.embedder)
        settings = dict(index.saved_extra.get(SETTINGS_KEY) or {})
        if settings.pop("format", None) != _FORMAT:
            raise ValueError(f"{path} holds an embedkit index but no EmbedKitHybridRetriever "
                             f"settings of format {_FORMAT}; re-save the retriever")
        if not index.store_vectors and vectorstore is None:
            raise ValueError(f"the retriever at {path} was saved over a vector store "
                             "(the dense side lives there): pass vectorstore=...")
        return cls(index=index, embeddings=embeddings, vectorstore=vectorstore,
                   **{**settings, **kwargs})

    # ------------------------------------------------------------------ retrieval
    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                k: int | None = None, filter: dict[str, Any] | None = None,
                                escalate: bool | None = None) -> list[Document]:
        dense = None
        if self.vectorstore is not None:
            dense = self._candidates(
                search_store(self.vectorstore, query, self._fetch_k(), self.score_kind))
        hits = self._searcher.search(query, self._k(k), filter=self._filter(filter),
                                     dense_candidates=dense, escalate=escalate)
        return [_to_document(hit) for hit in hits]

    async def _aget_relevant_documents(self, query: str, *,
                                       run_manager: AsyncCallbackManagerForRetrieverRun,
                                       k: int | None = None,
                                       filter: dict[str, Any] | None = None,
                                       escalate: bool | None = None) -> list[Document]:
        dense = None
        if self.vectorstore is not None:
            dense = self._candidates(await asearch_store(
                self.vectorstore, query, self._fetch_k(), self.score_kind))
        hits = await self._searcher.asearch(query, self._k(k), filter=self._filter(filter),
                                            dense_candidates=dense, escalate=escalate)
        return [_to_document(hit) for hit in hits]

    def _k(self, k: int | None) -> int:
        k = self.k if k is None else k
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        return k

    def _filter(self, filter: dict[str, Any] | None) -> dict[str, Any] | None:
        return self.filter if filter is None else filter

    def _candidates(self, results: list[tuple[Document, float]]) -> DenseCandidates:
        assert self.score_kind is not None
        return self._document_ids.candidates(results, self.score_kind)

    def _fetch_k(self) -> int:
        return self.fetch_k or self.index.candidates

    # ------------------------------------------------------------------ tracing
    def _get_ls_params(self, **kwargs: Any) -> LangSmithRetrieverParams:
        params = super()._get_ls_params(**kwargs)
        params.update(ls_params(self.embeddings, self.vectorstore))  # type: ignore[typeddict-item]
        return params


# ---------------------------------------------------------------------- helpers
def _to_document(hit: SearchHit) -> Document:
    """A fresh Document: a deep copy of the stored metadata plus this query's scores."""
    metadata = copy.deepcopy(dict(hit.metadata or {}))
    metadata.update(hit.score_fields())
    return Document(page_content=hit.text, metadata=metadata, id=hit.id)
