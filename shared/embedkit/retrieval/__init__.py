"""Retrieval: BM25 (`bm25`, `tokenizer`), dense + BM25 fusion (`fusion`), the default search's
per-query decisions (`signals`, `policy`) and pseudo-relevance feedback (`feedback`), the
persistent `HybridIndex` (`index`), premium re-ranking (`two_stage`) and query drift
(`monitor`)."""

from .bm25 import BM25Index
from .index import HybridIndex, SearchHit
from .tokenizer import Tokenizer

__all__ = ["BM25Index", "HybridIndex", "SearchHit", "Tokenizer"]
