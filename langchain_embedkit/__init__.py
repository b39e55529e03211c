"""LangChain integration for embedkit: `EmbedKitEmbeddings` and `EmbedKitHybridRetriever`.

Example:
    >>> from langchain_embedkit import EmbedKitEmbeddings  # doctest: +SKIP
    >>> EmbedKitEmbeddings().embed_query("hello")[:2]      # doctest: +SKIP
"""

from __future__ import annotations

from .embeddings import EmbedKitEmbeddings
from .retrievers import EmbedKitHybridRetriever

__all__ = ["EmbedKitEmbeddings", "EmbedKitHybridRetriever"]
