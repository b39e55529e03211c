"""embedkit: embeddings for RAG done right once, for LangChain and LlamaIndex alike.

Example:
    >>> from embedkit import Embedder  # doctest: +SKIP
    >>> emb = Embedder()               # bundled all-MiniLM-L6-v2, offline  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .cache import DiskVectorCache, VectorCache
from .catalog import CATALOG, ModelSpec, find_spec, get_spec, list_models
from .embedder import Embedder
from .errors import EmbedKitError, FingerprintMismatchError, ModelNotFoundError, ProviderError
from .glossary import Glossary
from .index import HybridIndex, SearchHit
from .retry import APIError, RetryPolicy
from .stats import EmbedStats

__version__ = "0.1.0"

__all__ = [
    "APIError",
    "CATALOG",
    "DiskVectorCache",
    "EmbedKitError",
    "EmbedStats",
    "Embedder",
    "FingerprintMismatchError",
    "Glossary",
    "HybridIndex",
    "ModelNotFoundError",
    "ModelSpec",
    "ProviderError",
    "RetryPolicy",
    "SearchHit",
    "VectorCache",
    "find_spec",
    "get_spec",
    "list_models",
]
