"""Retrieval: BM25 (`bm25`, `tokenizer`), dense + BM25 fusion (`fusion`), the default search's
per-query decisions (`signals`, `policy`) and pseudo-relevance feedback (`feedback`), the
persistent `HybridIndex` (`index`), external vector-store candidates (`candidates`,
`store_scores`), what a framework retriever runs per query (`searcher`), premium re-ranking
(`two_stage`) and query drift (`monitor`)."""

from .bm25 import BM25Index
from .candidates import DenseCandidates
from .index import HybridIndex, SearchHit
from .searcher import HybridSearcher
from .tokenizer import Tokenizer

__all__ = ["BM25Index", "DenseCandidates", "HybridIndex", "HybridSearcher", "SearchHit",
           "Tokenizer"]
