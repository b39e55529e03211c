"""Real LlamaIndex vector stores for the adapter tests: SimpleVectorStore, Chroma (ephemeral or
persistent client), FAISS (``IndexFlatL2``) and Qdrant (local mode)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

DIMENSION = 384  # the bundled all-MiniLM-L6-v2


def chroma_store(path: Path | None = None) -> Any:
    import chromadb
    from chromadb.config import Settings
    from llama_index.vector_stores.chroma import ChromaVectorStore

    settings = Settings(anonymized_telemetry=False)
    client = (chromadb.PersistentClient(path=str(path), settings=settings) if path
              else chromadb.EphemeralClient(settings=settings))
    name = "docs" if path else f"docs-{uuid.uuid4().hex[:12]}"
    return ChromaVectorStore(chroma_collection=client.get_or_create_collection(name))


def faiss_store() -> Any:
    import faiss
    from llama_index.vector_stores.faiss import FaissVectorStore

    return FaissVectorStore(faiss_index=faiss.IndexFlatL2(DIMENSION))


def qdrant_store(path: Path | None = None) -> Any:
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    client = QdrantClient(path=str(path)) if path else QdrantClient(location=":memory:")
    return QdrantVectorStore(client=client, collection_name="docs")


def make_store(kind: str, path: Path | None = None) -> Any:
    """A new, empty store of ``kind`` (None for SimpleVectorStore: the index's default)."""
    if kind == "simple":
        return None
    if kind == "chroma":
        return chroma_store(path)
    if kind == "faiss":
        return faiss_store()
    if kind == "qdrant":
        return qdrant_store(path)
    raise AssertionError(kind)
