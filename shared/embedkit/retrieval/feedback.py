"""Pseudo-relevance feedback: take the first results as relevant and search again, better.

- Dense (Rocchio): ``q' = normalize(q + beta * mean(top-k document vectors))``. No model call:
  the vectors are already in the index, and the new query is scored against the candidate
  pool only (both methods' candidate lists), so its cost is a product of at most a few hundred
  vectors whatever the size of the corpus.
- BM25 (RM3-style): the ``terms`` most characteristic tokens of the top-k documents (their
  share of each document's length, summed over the documents, times their IDF), not already
  in the query, scored by BM25 as a second query and mixed in with weight ``weight`` (each
  side scaled by its maximum first).

Measured on msmarco-5k, med and the demo set dense feedback helps and on cisi it hurts (see
``benchmarks/quality.py``): whether to use it is decided per query, by
`embedkit.retrieval.policy`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..arguments import check_positive_int

FEEDBACK_MODES = ("none", "dense", "bm25", "both", "auto")


@dataclass(frozen=True)
class Feedback:
    """Pseudo-relevance feedback settings.

    Attributes:
        depth: how many top documents count as relevant (k).
        beta: Rocchio weight of their mean vector against the query's own.
        terms: expansion tokens added to the BM25 query.
        weight: share of the expansion tokens' BM25 scores in the expanded BM25 scores.
    """

    depth: int = 5
    beta: float = 1.0
    terms: int = 10
    weight: float = 0.3

    def __post_init__(self) -> None:
        for name in ("depth", "terms"):
            value = getattr(self, name)
            check_positive_int(f"Feedback.{name}", value)
        if not (isinstance(self.beta, (int, float)) and 0.0 <= self.beta <= 10.0):
            raise ValueError(f"Feedback.beta must be a number in [0, 10], got {self.beta!r}")
        if not (isinstance(self.weight, (int, float)) and 0.0 <= self.weight <= 1.0):
            raise ValueError(f"Feedback.weight must be a number in [0, 1], got {self.weight!r}")


def check_feedback_mode(mode: str) -> str:
    """``mode`` if it is one of `FEEDBACK_MODES`, else a ValueError naming them."""
    if mode not in FEEDBACK_MODES:
        raise ValueError(f"unknown feedback {mode!r}; choose one of {', '.join(FEEDBACK_MODES)}")
    return mode


def rocchio(query_vector: np.ndarray, feedback_vectors: np.ndarray, beta: float) -> np.ndarray:
    """``normalize(q + beta * mean(feedback_vectors))`` as float32; ``q`` unchanged (as a
    copy) when there are no feedback vectors or the sum is the zero vector."""
    query = np.asarray(query_vector, dtype=np.float32)
    vectors = np.asarray(feedback_vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] == 0:
        return query.copy()
    if vectors.shape[1] != query.shape[0]:
        raise ValueError(f"feedback vectors have dimension {vectors.shape[1]}, the query "
                         f"{query.shape[0]}")
    moved = query + np.float32(beta) * vectors.mean(axis=0)
    norm = float(np.linalg.norm(moved))
    return (moved / norm).astype(np.float32) if norm > 0 else query.copy()


def expansion_terms(query_tokens: Sequence[str], feedback_docs: Sequence[Sequence[str]],
                    idf: Callable[[Sequence[str]], np.ndarray], n_terms: int) -> list[str]:
    """The ``n_terms`` best expansion tokens from the feedback documents' token lists.

    A token's weight is ``sum over documents of count / document length``, times its IDF
    (``idf(tokens)``, e.g. ``BM25Index.idf``): frequent in the feedback documents, rare in the
    corpus. Query tokens and tokens with IDF 0 are left out. Ties keep first-seen order.
    """
    share: dict[str, float] = {}
    for doc in feedback_docs:
        if not doc:
            continue
        step = 1.0 / len(doc)
        for token in doc:
            share[token] = share.get(token, 0.0) + step
    in_query = set(query_tokens)
    candidates = [t for t in share if t not in in_query]
    if not candidates:
        return []
    weights = np.asarray(idf(candidates), dtype=np.float64)
    scored = np.array([share[t] for t in candidates]) * weights
    order = np.argsort(-scored, kind="stable")[:n_terms]
    return [candidates[i] for i in order if weights[i] > 0]


def mix_scores(original: np.ndarray, expansion: np.ndarray, weight: float) -> np.ndarray:
    """``(1 - weight) * original / max(original) + weight * expansion / max(expansion)``; a
    side whose maximum is 0 (nothing matched) contributes 0."""
    def scaled(scores: np.ndarray) -> np.ndarray:
        scores = np.asarray(scores, dtype=np.float64)
        top = float(scores.max()) if scores.size else 0.0
        return scores / top if top > 0 else np.zeros(scores.shape)

    return (1.0 - weight) * scaled(original) + weight * scaled(expansion)
