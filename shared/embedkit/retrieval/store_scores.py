"""Which score kind (`embedkit.retrieval.candidates`) a vector-store client returns.

Both adapters wrap the same clients (a FAISS index, a Chroma collection, a Qdrant collection);
what their raw scores mean depends on how the client was configured, so it is read from the
client here, once. The functions take the client objects and never import their libraries.
"""

from __future__ import annotations

from typing import Any

# faiss.METRIC_INNER_PRODUCT and faiss.METRIC_L2; IndexFlatL2 reports squared distances.
_FAISS_METRICS = {0: "similarity", 1: "squared_l2"}
# Chroma's spaces: "l2" reports squared distances, "ip" reports 1 - inner product.
_CHROMA_SPACES = {"l2": "squared_l2", "cosine": "cosine_distance", "ip": "cosine_distance"}
# Qdrant scores: the similarity for Cosine and Dot, the (plain) distance for Euclid.
_QDRANT_DISTANCES = {"cosine": "similarity", "dot": "similarity", "euclid": "l2"}


def faiss_score_kind(faiss_index: Any) -> str | None:
    """The kind of the distances a FAISS index returns (None for metrics with no cosine)."""
    return _FAISS_METRICS.get(getattr(faiss_index, "metric_type", None))


def chroma_space(collection: Any) -> str:
    """A Chroma collection's distance space: ``l2`` (Chroma's default), ``cosine`` or ``ip``."""
    configuration = getattr(collection, "configuration", None) or {}
    space = (configuration.get("hnsw") or {}).get("space") if isinstance(
        configuration, dict) else None
    metadata = getattr(collection, "metadata", None) or {}
    return str(space or metadata.get("hnsw:space") or "l2").lower()


def chroma_score_kind(collection: Any, *, exp_neg: bool = False) -> str | None:
    """The kind of a Chroma collection's distances; ``exp_neg`` when a wrapper reports
    ``exp(-distance)`` instead (LlamaIndex's ChromaVectorStore does)."""
    kind = _CHROMA_SPACES.get(chroma_space(collection))
    return None if kind is None else (f"exp_neg_{kind}" if exp_neg else kind)


def qdrant_score_kind(distance: Any) -> str | None:
    """The kind of Qdrant scores for a collection ``distance`` (a ``models.Distance`` or its
    name); None for Manhattan, which has no cosine equivalent."""
    name = getattr(distance, "value", distance)
    return _QDRANT_DISTANCES.get(str(name).lower())


def qdrant_collection_distance(client: Any, collection_name: str) -> Any:
    """The distance of a Qdrant collection's (first) dense vector."""
    vectors = client.get_collection(collection_name).config.params.vectors
    if isinstance(vectors, dict):  # named vectors
        vectors = next(iter(vectors.values()))
    return vectors.distance
