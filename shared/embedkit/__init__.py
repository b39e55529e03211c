"""embedkit: embeddings for RAG done right once, for LangChain and LlamaIndex alike.

Example:
    >>> from embedkit import Embedder  # doctest: +SKIP
    >>> emb = Embedder()               # bundled all-MiniLM-L6-v2, offline  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .budget import Budget
from .cache import DiskVectorCache, VectorCache
from .cache_redis import RedisVectorCache
from .catalog import CATALOG, ModelSpec, find_spec, get_spec, list_models
from .embedder import Embedder
from .cost import CostTracker, estimate_cost
from .errors import (
    BudgetExceeded, EmbedKitError, FingerprintMismatchError, ModelNotFoundError, ProviderError,
)
from .glossary import Glossary
from .index import HybridIndex, SearchHit
from .monitor import MonitorAlert, SimilarityMonitor
from .recommend import Recommendation, recommend
from .retry import APIError, RetryPolicy
from .stats import EmbedStats
from .two_stage import TwoStageHit, TwoStageRetriever

__version__ = "0.1.0"

__all__ = [
    "APIError",
    "Budget",
    "BudgetExceeded",
    "CATALOG",
    "CostTracker",
    "DiskVectorCache",
    "EmbedKitError",
    "EmbedStats",
    "Embedder",
    "FingerprintMismatchError",
    "Glossary",
    "HybridIndex",
    "ModelNotFoundError",
    "ModelSpec",
    "MonitorAlert",
    "ProviderError",
    "RedisVectorCache",
    "Recommendation",
    "RetryPolicy",
    "SearchHit",
    "SimilarityMonitor",
    "TwoStageHit",
    "TwoStageRetriever",
    "VectorCache",
    "estimate_cost",
    "find_spec",
    "get_spec",
    "list_models",
    "recommend",
]
