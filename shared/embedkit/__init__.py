"""embedkit: embeddings for RAG done right once, for LangChain and LlamaIndex alike.

Example:
    >>> from embedkit import Embedder  # doctest: +SKIP
    >>> emb = Embedder()               # bundled all-MiniLM-L6-v2, offline  # doctest: +SKIP
"""

from __future__ import annotations

from .cost.budget import Budget
from .cache import DiskVectorCache, VectorCache
from .cache_redis import RedisVectorCache
from .catalog import CATALOG, ModelSpec, find_spec, get_spec, list_models
from .embedder import Embedder
from .cost import CostTracker, estimate_cost
from .errors import (
    APIError, BudgetExceeded, CacheError, CacheUnavailableError, EmbedKitError,
    FingerprintMismatchError, IndexFormatError, ModelNotFoundError, ProviderError,
    UnknownModelError,
)
from .glossary import Glossary
from .retrieval.bm25 import BM25Index
from .retrieval.candidates import DenseCandidates
from .retrieval.index import HybridIndex, SearchHit
from .retrieval.monitor import MonitorAlert, SimilarityMonitor
from .recommend import Recommendation, recommend
from .providers.retry import RetryPolicy
from .stats import EmbedStats
from .retrieval.tokenizer import Tokenizer
from .retrieval.two_stage import TwoStageHit, TwoStageRetriever
from . import _moved

_moved.install()

__version__ = "0.1.0"

__all__ = [
    "APIError",
    "BM25Index",
    "Budget",
    "BudgetExceeded",
    "CATALOG",
    "CacheError",
    "CacheUnavailableError",
    "CostTracker",
    "DenseCandidates",
    "DiskVectorCache",
    "EmbedKitError",
    "EmbedStats",
    "Embedder",
    "FingerprintMismatchError",
    "Glossary",
    "HybridIndex",
    "IndexFormatError",
    "ModelNotFoundError",
    "ModelSpec",
    "MonitorAlert",
    "ProviderError",
    "RedisVectorCache",
    "Recommendation",
    "RetryPolicy",
    "SearchHit",
    "SimilarityMonitor",
    "Tokenizer",
    "TwoStageHit",
    "TwoStageRetriever",
    "UnknownModelError",
    "VectorCache",
    "estimate_cost",
    "find_spec",
    "get_spec",
    "list_models",
    "recommend",
]
