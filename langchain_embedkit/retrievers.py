"""`EmbedKitHybridRetriever`: embedkit's `HybridIndex` (BM25 + dense + fusion) as a LangChain
retriever.

Translation only: `Document` objects become (id, text, metadata) rows of the engine index, and
engine `SearchHit` objects become `Document` copies carrying their scores. Tokenizing, BM25,
fusion, filtering and the optional premium re-ranking (`embedkit.retrieval.two_stage`) are the engine's.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from embedkit import HybridIndex, SearchHit
from embedkit.cost.budget import Budget
from embedkit.retrieval.two_stage import DEFAULT_MARGIN, Policy, TwoStageHit, TwoStageRetriever
from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever, LangSmithRetrieverParams
from langchain_core.vectorstores import VectorStore
from pydantic import ConfigDict, Field, PrivateAttr, model_validator

from .embeddings import EmbedKitEmbeddings

SETTINGS_FILE = "langchain_retriever.json"
INDEX_FOLDER = "index"
_FORMAT = 1
# Keyword arguments of `HybridIndex(...)` that `from_documents` passes through.
INDEX_OPTIONS = ("fusion", "alpha", "rrf_k", "candidates", "bm25", "tokenizer", "monitor",
                 "feedback", "policy")


class EmbedKitHybridRetriever(BaseRetriever):
    """BM25 and dense search fused into one ranking, over LangChain documents.

    Finds exact keywords (part numbers, error codes, names) that dense search misses and
    paraphrases that BM25 misses. Each returned document is a copy whose metadata holds
    ``score`` (fused), ``dense_score``, ``bm25_score``, ``dense_rank`` and ``bm25_rank``
    (None when that method did not return the document). Over a ``vectorstore``,
    ``dense_score`` is the store's relevance score, or its raw score negated when the store
    reports distances and has no relevance function.

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

        # Re-rank uncertain queries' top 20 with an API model, at most $5 ever:
        premium = EmbedKitHybridRetriever.from_documents(
            docs, premium=EmbedKitEmbeddings(model="openai:text-embedding-3-small"),
            budget=Budget(max_usd=5))
        premium.invoke("what does E1147 mean", escalate=True)

        # Dense side from any LangChain vector store that already holds the documents:
        store = InMemoryVectorStore.from_documents(docs, EmbedKitEmbeddings())
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
    premium: EmbedKitEmbeddings | None = None
    """A second, better (typically API) model that re-ranks the top ``premium_top_n`` results
    of queries that escalate (`embedkit.retrieval.two_stage.TwoStageRetriever`). It embeds the query and
    those candidates' texts itself, so its vectors are only compared with its own; its cache
    makes each document cost at most once. None: hybrid search only. Not saved by `save`:
    pass it to `load` again."""
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

    _content_ids: _ContentIds = PrivateAttr()
    _two_stage: TwoStageRetriever | None = PrivateAttr(default=None)

    def model_post_init(self, context: Any, /) -> None:
        self._content_ids = _ContentIds(self.index)
        if self.premium is not None:
            self._two_stage = TwoStageRetriever(
                self.index, self.premium.embedder, top_n=self.premium_top_n,
                policy=self.premium_policy, margin=self.premium_margin, budget=self.budget)
        elif self.budget is not None:
            raise ValueError("budget limits the premium model's API calls; it needs premium=")

    @property
    def two_stage(self) -> TwoStageRetriever | None:
        """The engine's two-stage retriever when ``premium`` is set (its ``stats`` report
        escalations, dollars spent and saved)."""
        return self._two_stage

    @model_validator(mode="before")
    @classmethod
    def _build_index_from_documents(cls, data: Any) -> Any:
        """Let ``EmbedKitHybridRetriever(documents=..., embeddings=..., k=...)`` build the index."""
        if not isinstance(data, dict) or "documents" not in data:
            return data
        data = dict(data)
        documents = data.pop("documents")
        options = {name: data.pop(name) for name in INDEX_OPTIONS if name in data}
        data["index"] = _build_index(documents, data.get("embeddings"), data.get("vectorstore"),
                                     options)
        return data

    @model_validator(mode="after")
    def _take_embeddings_from_vectorstore(self) -> EmbedKitHybridRetriever:
        if self.embeddings is None and self.vectorstore is not None:
            self.embeddings = self.vectorstore.embeddings
        return self

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_documents(cls, documents: Iterable[Document], *,
                       embeddings: EmbedKitEmbeddings | None = None,
                       vectorstore: VectorStore | None = None, k: int = 4,
                       filter: dict[str, Any] | None = None, **kwargs: Any,
                       ) -> EmbedKitHybridRetriever:
        """Index ``documents`` for BM25 and dense search.

        Documents are deduplicated by ``Document.id`` (by content when the id is missing;
        the first one wins), so the same passage never fills two of the ``k`` places.

        Args:
            documents: the corpus. They are copied, never modified.
            embeddings: the model for the dense side (default: the bundled model). Ignored
                for vectors when ``vectorstore`` is given.
            vectorstore: a store that already holds these documents; it becomes the dense
                side. Its results are matched to the documents by id, else by content.
            k: documents returned per query.
            filter: default metadata filter.
            **kwargs: ``fusion`` ("auto", "auto-v1", "rrf", "weighted", "dense", "bm25"),
                ``alpha``, ``rrf_k``, ``candidates``, ``bm25``, ``tokenizer``, ``monitor`` (an
                `embedkit.SimilarityMonitor`), ``feedback`` ("none", "dense", "bm25", "both",
                "auto"; dense feedback needs the index's own vectors, so it is skipped over a
                ``vectorstore``) and ``policy`` for the engine index, and the retriever's own
                fields (``fetch_k``, ``tags``, ``metadata``).
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
        pickle, replaced atomically) in ``index/`` and this retriever's settings beside it.

        A retriever over a ``vectorstore`` saves its BM25 side only; save the store with its
        own method and pass it to `load`. The ``premium`` model, its settings and ``budget``
        are not saved: pass them to `load` again (``load(path, embeddings, premium=...)``).
        """
        folder = Path(path).expanduser()
        self.index.save(folder / INDEX_FOLDER)
        settings = {"format": _FORMAT, "k": self.k, "filter": self.filter,
                    "fetch_k": self.fetch_k}
        _write_json_atomically(folder / SETTINGS_FILE, settings)

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
        folder = Path(path).expanduser()
        settings_file = folder / SETTINGS_FILE
        if not settings_file.is_file():
            raise FileNotFoundError(f"no saved EmbedKitHybridRetriever at {folder} "
                                    f"(missing {SETTINGS_FILE})")
        settings = json.loads(settings_file.read_text(encoding="utf-8"))
        if settings.pop("format", None) != _FORMAT:
            raise ValueError(f"{settings_file}: unsupported format; re-save the retriever")
        index = HybridIndex.load(folder / INDEX_FOLDER, embeddings.embedder)
        if not index.store_vectors and vectorstore is None:
            raise ValueError(f"the retriever at {folder} was saved over a vector store "
                             "(the dense side lives there): pass vectorstore=...")
        return cls(index=index, embeddings=embeddings, vectorstore=vectorstore,
                   **{**settings, **kwargs})

    # ------------------------------------------------------------------ retrieval
    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                k: int | None = None, filter: dict[str, Any] | None = None,
                                escalate: bool | None = None) -> list[Document]:
        k, filter = self._query_options(k, filter, escalate)
        dense = None
        if self.vectorstore is not None:
            dense = self._dense_candidates(query)
        if self._two_stage is not None:
            hits = self._two_stage.search(query, k=k, filter=filter, escalate=escalate,
                                          **_dense_kwargs(dense))
        else:
            hits = self.index.search(query, k=k, filter=filter, **_dense_kwargs(dense))
        return [_to_document(hit) for hit in hits]

    async def _aget_relevant_documents(self, query: str, *,
                                       run_manager: AsyncCallbackManagerForRetrieverRun,
                                       k: int | None = None,
                                       filter: dict[str, Any] | None = None,
                                       escalate: bool | None = None) -> list[Document]:
        k, filter = self._query_options(k, filter, escalate)
        dense = None
        if self.vectorstore is not None:
            dense = await self._adense_candidates(query)
        if self._two_stage is not None:
            hits = await self._two_stage.asearch(query, k=k, filter=filter, escalate=escalate,
                                                 **_dense_kwargs(dense))
        else:
            hits = await self.index.asearch(query, k=k, filter=filter, **_dense_kwargs(dense))
        return [_to_document(hit) for hit in hits]

    def _query_options(self, k: int | None, filter: dict[str, Any] | None,
                       escalate: bool | None = None) -> tuple[int, dict[str, Any] | None]:
        k = self.k if k is None else k
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if escalate is not None and self._two_stage is None:
            raise ValueError(f"escalate={escalate!r} needs a premium model: build the "
                             "retriever with premium=EmbedKitEmbeddings(model=...)")
        return k, self.filter if filter is None else filter

    def _dense_candidates(self, query: str) -> list[tuple[str, float]]:
        assert self.vectorstore is not None
        fetch_k = self._fetch_k()
        try:
            results = self.vectorstore.similarity_search_with_relevance_scores(query, k=fetch_k)
            return self._match(results, higher_is_better=True)
        except NotImplementedError:  # the store defines no relevance function
            results = self.vectorstore.similarity_search_with_score(query, k=fetch_k)
            return self._match(results, higher_is_better=None)

    async def _adense_candidates(self, query: str) -> list[tuple[str, float]]:
        assert self.vectorstore is not None
        fetch_k = self._fetch_k()
        try:
            results = await self.vectorstore.asimilarity_search_with_relevance_scores(
                query, k=fetch_k)
            return self._match(results, higher_is_better=True)
        except NotImplementedError:
            results = await self.vectorstore.asimilarity_search_with_score(query, k=fetch_k)
            return self._match(results, higher_is_better=None)

    def _fetch_k(self) -> int:
        return self.fetch_k or int(getattr(self.index, "candidates", 100))

    def _match(self, results: list[tuple[Document, float]],
               higher_is_better: bool | None) -> list[tuple[str, float]]:
        """Vector-store results as (index id, similarity), best first, one entry per id.

        Stores return results best first; raw scores are a similarity in some stores and a
        distance in others (FAISS, Chroma). When the store cannot say, the order tells:
        scores that grow down the list are distances and are negated.
        """
        if higher_is_better is None:
            scores = [score for _, score in results]
            higher_is_better = not (len(scores) > 1 and scores[0] < scores[-1])
        matched: dict[str, float] = {}
        for document, score in results:
            doc_id = self._content_ids.id_for(document)
            if doc_id is None:
                continue  # only in the vector store: BM25 and the index do not know it
            similarity = float(score) if higher_is_better else -float(score)
            if doc_id not in matched or similarity > matched[doc_id]:
                matched[doc_id] = similarity
        return sorted(matched.items(), key=lambda item: -item[1])

    # ------------------------------------------------------------------ tracing
    def _get_ls_params(self, **kwargs: Any) -> LangSmithRetrieverParams:
        params = super()._get_ls_params(**kwargs)
        if self.vectorstore is not None:
            params["ls_vector_store_provider"] = type(self.vectorstore).__name__
        if isinstance(self.embeddings, EmbedKitEmbeddings):
            identity = self.embeddings._get_ls_params()
            params["ls_embedding_provider"] = identity["ls_provider"]
            params["ls_embedding_model"] = identity["ls_model_name"]
        elif self.embeddings is not None:
            params["ls_embedding_provider"] = type(self.embeddings).__name__
            model = getattr(self.embeddings, "model", None) or \
                getattr(self.embeddings, "model_name", None)
            if isinstance(model, str):
                params["ls_embedding_model"] = model
        return params


# ---------------------------------------------------------------------- helpers
def _build_index(documents: Iterable[Document], embeddings: Any, vectorstore: Any,
                 options: Mapping[str, Any]) -> HybridIndex:
    documents = list(documents)
    for position, document in enumerate(documents):
        if not isinstance(document, Document):
            raise TypeError(f"documents[{position}] is {type(document).__name__}, "
                            "expected langchain_core.documents.Document")
    if embeddings is None:
        embeddings = _embedkit_embeddings_of(vectorstore) or EmbedKitEmbeddings()
    if not isinstance(embeddings, EmbedKitEmbeddings):
        raise TypeError(f"embeddings must be EmbedKitEmbeddings, got {type(embeddings).__name__}"
                        "; to keep another embedding model, put it in a vector store and pass "
                        "vectorstore=...")
    index = HybridIndex(embeddings.embedder, store_vectors=vectorstore is None, **options)
    ids, texts, metadatas = _unique_rows(documents)
    if ids:
        index.add(texts, ids=ids, metadatas=metadatas)
    return index


def _embedkit_embeddings_of(vectorstore: Any) -> EmbedKitEmbeddings | None:
    embeddings = getattr(vectorstore, "embeddings", None) if vectorstore is not None else None
    return embeddings if isinstance(embeddings, EmbedKitEmbeddings) else None


def _unique_rows(documents: list[Document]) -> tuple[list[str], list[str], list[dict]]:
    """(ids, texts, metadata copies), one row per id; content decides when there is no id."""
    rows: dict[str, tuple[str, dict]] = {}
    for document in documents:
        doc_id = document.id or content_id(document.page_content)
        if doc_id not in rows:
            rows[doc_id] = (document.page_content, copy.deepcopy(document.metadata))
    return list(rows), [text for text, _ in rows.values()], [meta for _, meta in rows.values()]


def content_id(text: str) -> str:
    """The id given to a document that has none: a digest of its content."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class _ContentIds:
    """Content digest -> index id, for vector-store results whose id the index does not know
    (stores such as InMemoryVectorStore invent ids for documents that had none).

    Built on first need and rebuilt when a lookup fails or names an id the index dropped, so
    documents added to or deleted from the index later are still matched.
    """

    def __init__(self, index: HybridIndex) -> None:
        self._index = index
        self._table: dict[str, str] | None = None

    def id_for(self, document: Document) -> str | None:
        if document.id is not None and _has_id(self._index, document.id):
            return document.id
        key = content_id(document.page_content)
        found = self._lookup(key)
        if found is None or not _has_id(self._index, found):
            self._table = None
            found = self._lookup(key)
        return found

    def _lookup(self, key: str) -> str | None:
        if self._table is None:
            self._table = {}
            for doc_id in self._index.ids:
                self._table.setdefault(content_id(self._index.get(doc_id)[0]), doc_id)
        return self._table.get(key)


def _has_id(index: HybridIndex, doc_id: str) -> bool:
    try:
        index.get(doc_id)
    except KeyError:
        return False
    return True


def _write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(partial, path)


def _dense_kwargs(dense: list[tuple[str, float]] | None) -> dict[str, Any]:
    return {} if dense is None else {"dense_candidates": dense}


def _to_document(hit: SearchHit) -> Document:
    """A fresh Document: a deep copy of the stored metadata plus this query's scores."""
    metadata = copy.deepcopy(dict(hit.metadata or {}))
    metadata.update(score=hit.score, dense_score=hit.dense_score, bm25_score=hit.bm25_score,
                    dense_rank=hit.dense_rank, bm25_rank=hit.bm25_rank)
    if isinstance(hit, TwoStageHit):  # premium_* are None when stage 2 did not score the hit
        metadata.update(premium_score=hit.premium_score, premium_rank=hit.premium_rank,
                        stage1_score=hit.stage1_score, stage1_rank=hit.stage1_rank)
    return Document(page_content=hit.text, metadata=metadata, id=hit.id)
