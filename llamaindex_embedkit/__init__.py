"""LlamaIndex adapter for embedkit: ``EmbedKitEmbedding`` and ``EmbedKitHybridRetriever``.

Example:
    >>> from llama_index.core import Settings  # doctest: +SKIP
    >>> from llamaindex_embedkit import EmbedKitEmbedding  # doctest: +SKIP
    >>> Settings.embed_model = EmbedKitEmbedding()  # doctest: +SKIP
    >>> retriever = EmbedKitHybridRetriever.from_defaults(index=vector_index)  # doctest: +SKIP
"""

from __future__ import annotations

from .embedding import EmbedKitEmbedding
from .retriever import EmbedKitHybridRetriever

__all__ = ["EmbedKitEmbedding", "EmbedKitHybridRetriever"]
