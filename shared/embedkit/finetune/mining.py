"""Hard negatives: documents the current model ranks high for a query but that are not its answer.

A hard negative teaches more than a random in-batch one, but two kinds of candidate would teach
the wrong thing and are skipped: the positive itself (or another positive of the same query),
and near-duplicates of the positive (cosine to it at or above ``max_positive_similarity``),
which are usually the same answer in other words, i.e. false negatives.

Vectors come from an `embedkit.Embedder`, so the model's prefixes apply, the disk cache is used,
and API models can mine as well as local ones.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..embedder import Embedder
from .pairs import TrainingPair, as_pairs, check_documents

logger = logging.getLogger("embedkit.finetune")

DEFAULT_MAX_POSITIVE_SIMILARITY = 0.95
_SHORTLIST_SLACK = 32  # candidates looked at beyond num_negatives before sorting everything


def mine_hard_negatives(
    pairs: Iterable[TrainingPair | Mapping[str, Any]],
    documents: Sequence[str] | None = None,
    *,
    embedder: Embedder | str | None = None,
    num_negatives: int = 1,
    max_positive_similarity: float = DEFAULT_MAX_POSITIVE_SIMILARITY,
    show_progress: bool = False,
) -> list[TrainingPair]:
    """Add up to ``num_negatives`` mined negatives to each pair (after any it already has).

    Args:
        pairs: TrainingPair objects or ``{"query", "positive"}`` dicts.
        documents: where negatives come from; default: the pairs' own positives.
        embedder: the model to mine with (an Embedder or a model string); default the bundled one.
            Use the model you are about to fine-tune: its mistakes are what training should fix.
        num_negatives: negatives to add per pair.
        max_positive_similarity: skip candidates at least this similar (cosine) to the positive.
        show_progress: progress bars while embedding.

    Returns:
        New pairs, in the same order. A pair keeps fewer negatives when too few candidates pass.
    """
    pairs = as_pairs(pairs)
    if num_negatives < 1:
        raise ValueError(f"num_negatives must be >= 1, got {num_negatives}")
    if not -1.0 <= max_positive_similarity <= 1.0:
        raise ValueError(f"max_positive_similarity is a cosine in [-1, 1], "
                         f"got {max_positive_similarity}")
    if not pairs:
        return []
    pool = _candidate_pool(pairs, documents)
    model = _as_embedder(embedder, show_progress)
    doc_vectors = model.embed_documents(pool)
    row = {text: index for index, text in enumerate(pool)}
    query_vectors = model.embed_queries([pair.query for pair in pairs])
    positive_vectors = model.embed_documents([pair.positive for pair in pairs])
    positives_of = _positives_by_query(pairs)

    mined_pairs, short = [], 0
    for pair, query_vector, positive_vector in zip(pairs, query_vectors, positive_vectors):
        excluded = {row[text] for text in (*positives_of[pair.query], *pair.negatives)
                    if text in row}
        found = _pick(doc_vectors @ query_vector, doc_vectors, positive_vector, excluded,
                      num_negatives, max_positive_similarity)
        short += len(found) < num_negatives
        mined_pairs.append(pair.with_negatives([*pair.negatives, *(pool[i] for i in found)]))
    if short:
        logger.warning("%d of %d pairs got fewer than %d hard negative(s): too few candidates "
                       "that are neither a positive nor a near-duplicate of one",
                       short, len(pairs), num_negatives)
    return mined_pairs


def _pick(scores: np.ndarray, doc_vectors: np.ndarray, positive: np.ndarray, excluded: set[int],
          wanted: int, max_positive_similarity: float) -> list[int]:
    """Highest-scoring candidates not excluded and not near-duplicates of the positive."""
    shortlist = min(len(scores), wanted + len(excluded) + _SHORTLIST_SLACK)
    picked = _first_passing(_top(scores, shortlist), doc_vectors, positive, excluded, wanted,
                            max_positive_similarity)
    if len(picked) < wanted and shortlist < len(scores):
        # Many near-duplicates at the top: look through the whole ranking.
        picked = _first_passing(np.argsort(-scores, kind="stable"), doc_vectors, positive,
                                excluded, wanted, max_positive_similarity)
    return picked


def _first_passing(order: np.ndarray, doc_vectors: np.ndarray, positive: np.ndarray,
                   excluded: set[int], wanted: int, max_positive_similarity: float) -> list[int]:
    picked: list[int] = []
    for index in map(int, order):
        if index in excluded or float(doc_vectors[index] @ positive) >= max_positive_similarity:
            continue
        picked.append(index)
        if len(picked) == wanted:
            break
    return picked


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    if k >= len(scores):
        return np.argsort(-scores, kind="stable")
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top], kind="stable")]


def _candidate_pool(pairs: list[TrainingPair], documents: Sequence[str] | None) -> list[str]:
    if documents is None:
        return list(dict.fromkeys(pair.positive for pair in pairs))
    check_documents(documents)
    return list(dict.fromkeys(documents))


def _positives_by_query(pairs: list[TrainingPair]) -> dict[str, set[str]]:
    positives: dict[str, set[str]] = defaultdict(set)
    for pair in pairs:
        positives[pair.query].add(pair.positive)
    return positives


def _as_embedder(embedder: Embedder | str | None, show_progress: bool) -> Embedder:
    if isinstance(embedder, Embedder):
        return embedder
    return Embedder(embedder, show_progress=show_progress)
