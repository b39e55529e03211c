"""LangChain documents and vector stores, translated for the engine's `HybridIndex`.

- `build_index` puts documents into a new `HybridIndex`; `row_id` gives each document the index id it is stored under: its own ``id``, else a digest
  of its text *and* metadata (two copies of a chunk from different files stay two documents).
- `store_score_kind` names what a store's ``similarity_search_with_score`` returns, read from
  the store's client through `embedkit.retrieval.store_scores`.
- `DocumentIds` finds the index id of a document a store returned: stores invent their own ids
  (FAISS, Chroma, Qdrant) and may add metadata keys (Qdrant's ``_id``).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from embedkit import DenseCandidates, HybridIndex
from embedkit.retrieval.candidates import SCORE_KINDS
from embedkit.retrieval.store_scores import (
    chroma_score_kind,
    faiss_score_kind,
    qdrant_score_kind,
)
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import InMemoryVectorStore, VectorStore

from .embeddings import EmbedKitEmbeddings


def content_id(text: str, metadata: Mapping[str, Any] | None = None) -> str:
    """The id given to a document that has none: a digest of its text and metadata."""
    payload = json.dumps([text, dict(metadata or {})], sort_keys=True, ensure_ascii=False,
                         default=str)
    return "sha256:" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def row_id(document: Document) -> str:
    """The index id of ``document``."""
    return document.id or content_id(document.page_content, document.metadata)


def store_score_kind(store: VectorStore, given: str | None = None) -> str:
    """What ``store`` returns: ``given`` when set, else read from the stores embedkit knows
    (InMemoryVectorStore, FAISS, Chroma, Qdrant), else ``"relevance"`` for a store with a
    relevance function.

    Raises:
        ValueError: the kind is unknown or cannot be told.
    """
    kind = given or _known_score_kind(store)
    if kind is None and _has_relevance_function(store):
        kind = "relevance"
    if kind not in SCORE_KINDS:
        raise ValueError(f"score_kind={kind!r}: say what {type(store).__name__}."
                         f"similarity_search_with_score returns, one of {', '.join(SCORE_KINDS)}")
    return kind


def _known_score_kind(store: VectorStore) -> str | None:
    if isinstance(store, InMemoryVectorStore):
        return "similarity"  # cosine
    name = type(store).__name__
    if name == "FAISS" and hasattr(store, "index"):
        return faiss_score_kind(store.index)
    if name == "Chroma" and hasattr(store, "_collection"):
        return chroma_score_kind(store._collection)
    if name in ("QdrantVectorStore", "Qdrant") and hasattr(store, "distance"):
        return qdrant_score_kind(store.distance)
    return None


def _has_relevance_function(store: VectorStore) -> bool:
    try:
        store._select_relevance_score_fn()
    except NotImplementedError:
        return False
    return True


# Raw store scores, not `similarity_search_with_relevance_scores`: langchain-core warns (with
# every document in the message) whenever a store's relevance falls outside [0, 1].
def search_store(store: VectorStore, query: str, k: int,
                 kind: str | None) -> list[tuple[Document, float]]:
    """The store's top ``k`` for ``query`` with scores of ``kind`` (`store_score_kind`)."""
    if kind == "relevance":
        return store._similarity_search_with_relevance_scores(query, k=k)
    return store.similarity_search_with_score(query, k=k)


async def asearch_store(store: VectorStore, query: str, k: int,
                        kind: str | None) -> list[tuple[Document, float]]:
    """`search_store` without blocking the event loop."""
    if kind == "relevance":
        return await store._asimilarity_search_with_relevance_scores(query, k=k)
    return await store.asimilarity_search_with_score(query, k=k)


class DocumentIds:
    """Index ids of the documents a vector store returns.

    A returned document is matched by its ``id`` when the index holds it, else by its text:
    among index documents with that text, the one whose stored metadata the returned metadata
    contains (the most specific when several do). The text table is rebuilt whenever the index
    changed since it was built.
    """

    def __init__(self, index: HybridIndex) -> None:
        self._index = index
        self._by_text: dict[str, list[str]] = {}
        self._built_for: tuple[int, str | None] | None = None

    def id_for(self, document: Document) -> str | None:
        if document.id is not None and document.id in self._index:
            return document.id
        self._refresh()
        found = self._best_match(document)
        if found is not None and found not in self._index:  # deleted since the table was built
            self._built_for = None
            self._refresh()
            found = self._best_match(document)
        return found

    def candidates(self, results: list[tuple[Document, float]], kind: str) -> DenseCandidates:
        """Store results as engine candidates; documents the index does not hold are dropped."""
        pairs = [(self.id_for(document), score) for document, score in results]
        return DenseCandidates.from_pairs([(i, s) for i, s in pairs if i is not None], kind)

    def _best_match(self, document: Document) -> str | None:
        metadata = document.metadata or {}
        best, best_size = None, -1
        for doc_id in self._by_text.get(document.page_content, ()):
            stored = self._index.get(doc_id)[1]
            if all(key in metadata and metadata[key] == value for key, value in stored.items()):
                if len(stored) > best_size:
                    best, best_size = doc_id, len(stored)
        return best

    def _refresh(self) -> None:
        ids = self._index.ids
        state = (len(ids), ids[-1] if ids else None)
        if state == self._built_for:
            return
        self._by_text = {}
        for doc_id in ids:
            self._by_text.setdefault(self._index.get(doc_id)[0], []).append(doc_id)
        self._built_for = state


def build_index(documents: Iterable[Document], embeddings: Any, vectorstore: Any,
                 options: Mapping[str, Any]) -> HybridIndex:
    """A new `HybridIndex` over ``documents`` (the dense side in ``vectorstore`` if given)."""
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
    index = HybridIndex(embeddings.embedder, store_vectors=False if vectorstore is not None else None, **options)
    ids, texts, metadatas = _unique_rows(documents)
    if ids:
        index.add(texts, ids=ids, metadatas=metadatas)
    return index


def _embedkit_embeddings_of(vectorstore: Any) -> EmbedKitEmbeddings | None:
    embeddings = getattr(vectorstore, "embeddings", None) if vectorstore is not None else None
    return embeddings if isinstance(embeddings, EmbedKitEmbeddings) else None


def _unique_rows(documents: list[Document]) -> tuple[list[str], list[str], list[dict]]:
    """(ids, texts, metadata copies), one row per id (`row_id`); the first one wins."""
    rows: dict[str, tuple[str, dict]] = {}
    for document in documents:
        rows.setdefault(row_id(document),
                        (document.page_content, copy.deepcopy(document.metadata)))
    return list(rows), [text for text, _ in rows.values()], [meta for _, meta in rows.values()]


def ls_params(embeddings: Embeddings | None, vectorstore: VectorStore | None) -> dict[str, str]:
    """LangSmith run metadata naming the vector store and the embedding model."""
    params: dict[str, str] = {}
    if vectorstore is not None:
        params["ls_vector_store_provider"] = type(vectorstore).__name__
    if isinstance(embeddings, EmbedKitEmbeddings):
        identity = embeddings._get_ls_params()
        params["ls_embedding_provider"] = identity["ls_provider"]
        params["ls_embedding_model"] = identity["ls_model_name"]
    elif embeddings is not None:
        params["ls_embedding_provider"] = type(embeddings).__name__
        model = getattr(embeddings, "model", None) or getattr(embeddings, "model_name", None)
        if isinstance(model, str):
            params["ls_embedding_model"] = model
    return params
