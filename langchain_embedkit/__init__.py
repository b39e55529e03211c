"""LangChain integration for embedkit: `EmbedKitEmbeddings` and `EmbedKitHybridRetriever`.

Example:
    >>> from langchain_embedkit import EmbedKitEmbeddings  # doctest: +SKIP
    >>> EmbedKitEmbeddings().embed_query("hello")[:2]      # doctest: +SKIP
"""

from __future__ import annotations

from embedkit.extras import require as _require

_require("langchain_core", extra="langchain")  # a clear pip command instead of a bare failure

from .embeddings import EmbedKitEmbeddings  # noqa: E402
from .retrievers import EmbedKitHybridRetriever  # noqa: E402

__all__ = ["EmbedKitEmbeddings", "EmbedKitHybridRetriever"]
