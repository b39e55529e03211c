"""LlamaIndex nodes and vector stores, translated for the engine's `HybridIndex`.

- `corpus_nodes` finds the nodes a `VectorStoreIndex` holds, for the BM25 side: its docstore,
  or, for stores that keep the text themselves (Chroma, Qdrant...), the store's own listing.
- `store_score_kind` names what a store's query similarities are, read from the store's client
  through `embedkit.retrieval.store_scores`.
- `as_candidates` turns a vector retriever's results into engine `DenseCandidates`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from embedkit import DenseCandidates, HybridIndex
from embedkit.retrieval.store_scores import (
    chroma_score_kind,
    faiss_score_kind,
    qdrant_collection_distance,
    qdrant_score_kind,
)
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.indices.vector_store.base import VectorStoreIndex
from llama_index.core.schema import BaseNode, MetadataMode, NodeWithScore
from llama_index.core.storage.docstore.types import BaseDocumentStore
from llama_index.core.vector_stores.types import MetadataFilters
from llama_index.core.vector_stores.utils import build_metadata_filter_fn


def store_score_kind(vector_store: Any) -> str:
    """What ``vector_store``'s query similarities are: exact for SimpleVectorStore, Chroma,
    FAISS and Qdrant; ``"relevance"`` (higher is better, no cosine) for any other store."""
    name = type(vector_store).__name__
    kind = None
    if name == "SimpleVectorStore":
        kind = "similarity"  # cosine
    elif name == "ChromaVectorStore":
        kind = chroma_score_kind(vector_store._collection, exp_neg=True)  # it reports exp(-d)
    elif name == "FaissVectorStore":
        kind = faiss_score_kind(vector_store._faiss_index)
    elif name == "QdrantVectorStore":
        kind = qdrant_score_kind(qdrant_collection_distance(vector_store.client,
                                                            vector_store.collection_name))
    return kind or "relevance"


# LlamaIndex's FaissVectorStore refuses every filter: the engine filters its candidates instead.
_STORES_WITHOUT_FILTERS = ("FaissVectorStore",)


def vector_retriever(index: VectorStoreIndex, top_k: int,
                     filters: MetadataFilters | None) -> BaseRetriever:
    """``index``'s own dense retriever for the candidates, filtering in the store when the
    store can (the engine applies ``filters`` to the candidates either way)."""
    if type(index.vector_store).__name__ in _STORES_WITHOUT_FILTERS:
        filters = None
    return index.as_retriever(similarity_top_k=top_k, filters=filters)


def as_candidates(results: Sequence[NodeWithScore], kind: str) -> DenseCandidates:
    """A vector retriever's results as engine candidates (nodes the index lacks are skipped
    by the engine)."""
    return DenseCandidates([r.node.node_id for r in results], [r.score for r in results], kind)


def docstore_nodes(docstore: BaseDocumentStore) -> list[BaseNode]:
    return list(docstore.docs.values())


def corpus_nodes(index: VectorStoreIndex, nodes: Sequence[BaseNode] | None,
                 docstore: BaseDocumentStore | None) -> list[BaseNode]:
    """The nodes for the BM25 side of a hybrid retriever over ``index``."""
    if nodes is not None:
        return list(nodes)
    found = docstore_nodes(docstore or index.docstore)
    if found:
        return found
    # Stores that keep the text (Chroma, Qdrant...) leave the docstore empty; asking for
    # every node takes node_ids=None explicitly (ChromaVectorStore has no default for it).
    store = index.vector_store
    try:
        if "node_ids" in inspect.signature(store.get_nodes).parameters:
            found = list(store.get_nodes(node_ids=None))
        else:
            found = list(store.get_nodes())
    except NotImplementedError:
        found = []
    if not found:
        raise ValueError(
            f"no nodes for the BM25 side: the index's docstore is empty and "
            f"{type(store).__name__} does not list its nodes; pass nodes=")
    return found


def add_nodes(hybrid: HybridIndex, nodes: list[BaseNode]) -> None:
    """Index the nodes' embeddable content, ids and metadata."""
    if not nodes:
        raise ValueError("no nodes to index; pass a non-empty nodes= or docstore=")
    hybrid.add([node.get_content(metadata_mode=MetadataMode.EMBED) for node in nodes],
               ids=[node.node_id for node in nodes],
               metadatas=[dict(node.metadata) for node in nodes])


def filter_fn(filters: MetadataFilters | None) -> Callable[[Mapping[str, Any]], bool] | None:
    """LlamaIndex filters (any operator and condition) as the engine's metadata predicate."""
    if filters is None:
        return None
    return build_metadata_filter_fn(lambda metadata: metadata, filters)


def check_top_k(k: int) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"similarity_top_k must be a positive integer, got {k!r}")


def with_keys(keys: list[str], extra: Any) -> list[str]:
    """``keys`` followed by those of ``extra`` it lacks (excluded-metadata key lists)."""
    return list(keys) + [k for k in extra if k not in keys]
