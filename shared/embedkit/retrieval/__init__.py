"""Retrieval: BM25 (`bm25`, `tokenizer`), dense + BM25 fusion (`fusion`), the persistent
`HybridIndex` (`index`), premium re-ranking (`two_stage`), external vector-store candidates (`candidates`), what a
framework retriever runs per query (`searcher`) and query drift (`monitor`)."""

from .bm25 import BM25Index
from .candidates import DenseCandidates
from .index import HybridIndex, SearchHit
from .searcher import HybridSearcher
from .tokenizer import Tokenizer

__all__ = ["BM25Index", "DenseCandidates", "HybridIndex", "HybridSearcher", "SearchHit",
           "Tokenizer"]
