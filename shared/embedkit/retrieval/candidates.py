"""Dense candidates from an external vector store, turned into cosine-like similarities.

Vector stores report what they found in different units: a cosine or inner product
(InMemoryVectorStore, Qdrant, LlamaIndex's SimpleVectorStore), a cosine distance, a Euclidean
or squared Euclidean distance (FAISS ``IndexFlatL2``, Chroma's default ``l2`` space), ``exp(-d)``
of one of those (LlamaIndex's Chroma store), or a framework relevance score in [0, 1]. An
adapter names the unit with ``kind``; `DenseCandidates.similarities` converts, so that fusion,
metadata and monitors see one scale whatever store sits behind the index.

For L2-normalized vectors (embedkit's default) the conversions are exact:
``cos = 1 - d`` (cosine distance), ``cos = 1 - d**2 / 2`` (Euclidean), ``cos = 1 - d / 2``
(squared Euclidean). ``"relevance"`` scores are kept as they are: they rank like a similarity
but are not a cosine.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Union

import numpy as np

_DISTANCES: dict[str, Callable[[float], float]] = {
    "cosine_distance": lambda d: 1.0 - d,
    "l2": lambda d: 1.0 - d * d / 2.0,
    "squared_l2": lambda d: 1.0 - d / 2.0,
}


def _from_exp_neg(distance_to_cosine: Callable[[float], float]) -> Callable[[float], float]:
    # exp(-d) -> d -> cosine. exp(-d) of a finite distance is in (0, 1]; _checked_score
    # refuses anything else.
    return lambda s: distance_to_cosine(-math.log(s))


CONVERSIONS: dict[str, Callable[[float], float]] = {
    "similarity": float,
    "relevance": float,
    **_DISTANCES,
    **{f"exp_neg_{name}": _from_exp_neg(fn) for name, fn in _DISTANCES.items()},
}
"""Every accepted ``kind`` and how its score becomes a similarity (higher is better)."""

SCORE_KINDS = tuple(CONVERSIONS)


@dataclass(frozen=True)
class DenseCandidates:
    """A vector store's results for one query, with the unit of their scores.

    Attributes:
        ids: document ids as the index knows them, in the store's order. An id may appear
            more than once (a store holding two copies); its best score is kept.
        scores: one score per id, in the unit ``kind`` names.
        kind: ``"similarity"`` (cosine or inner product, higher is better),
            ``"cosine_distance"``, ``"l2"`` (Euclidean distance), ``"squared_l2"``,
            ``"exp_neg_cosine_distance"`` / ``"exp_neg_l2"`` / ``"exp_neg_squared_l2"``
            (``exp(-distance)``), or ``"relevance"`` (a score in which higher is better but
            that is no cosine, e.g. LangChain's relevance functions; kept unchanged).

    Example:
        >>> DenseCandidates(["a", "b", "a"], [0.2, 0.5, 0.9], kind="squared_l2").similarities()
        [('a', 0.9), ('b', 0.75)]
    """

    ids: Sequence[str]
    scores: Sequence[float]
    kind: str = "similarity"

    def __post_init__(self) -> None:
        if self.kind not in CONVERSIONS:
            raise ValueError(f"unknown score kind {self.kind!r}; choose one of "
                             f"{', '.join(SCORE_KINDS)}")
        if len(self.ids) != len(self.scores):
            raise ValueError(f"dense candidates have {len(self.ids)} ids but "
                             f"{len(self.scores)} scores")

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, float]],
                   kind: str = "similarity") -> DenseCandidates:
        """Candidates from ``(id, score)`` pairs."""
        pairs = list(pairs)
        return cls([doc_id for doc_id, _ in pairs], [score for _, score in pairs], kind)

    def similarities(self) -> list[tuple[str, float]]:
        """``(id, similarity)`` best first, one entry per id (its best score).

        Raises:
            TypeError: an id that is not a str or a score that is not a number.
            ValueError: a score that is NaN or infinite (naming the id and its position): a
                store returning NaN has a broken vector, and ranking around it would hide that.
        """
        convert = CONVERSIONS[self.kind]
        best: dict[str, float] = {}
        for position, (doc_id, score) in enumerate(zip(self.ids, self.scores)):
            similarity = convert(_checked_score(doc_id, score, position, self.kind))
            if doc_id not in best or similarity > best[doc_id]:
                best[doc_id] = similarity
        return sorted(best.items(), key=lambda item: -item[1])


CandidatesInput = Union[DenseCandidates, Sequence[tuple[str, float]]]
"""What `HybridIndex.search` takes as ``dense_candidates``: `DenseCandidates`, or
``(id, similarity)`` pairs (kind ``"similarity"``)."""


def as_similarities(candidates: CandidatesInput) -> list[tuple[str, float]]:
    """Any accepted ``dense_candidates`` value as ``(id, similarity)``, best first, unique ids."""
    if not isinstance(candidates, DenseCandidates):
        if isinstance(candidates, str | bytes | Mapping) or not isinstance(candidates, Iterable):
            raise TypeError("dense_candidates must be DenseCandidates or (id, similarity) "
                            f"pairs, got {type(candidates).__name__}")
        candidates = DenseCandidates.from_pairs(_checked_pairs(candidates))
    return candidates.similarities()


def _checked_pairs(pairs: Iterable[object]) -> list[tuple[str, float]]:
    checked = []
    for position, pair in enumerate(pairs):
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise TypeError(f"dense_candidates[{position}] must be an (id, similarity) pair, "
                            f"got {pair!r:.80}")
        checked.append((pair[0], pair[1]))
    return checked


def _checked_score(doc_id: object, score: object, position: int, kind: str) -> float:
    where = f"dense_candidates[{position}]"
    if not isinstance(doc_id, str):
        raise TypeError(f"{where}: id must be a str, got {doc_id!r:.80}")
    if isinstance(score, bool) or not isinstance(score, int | float | np.number):
        raise TypeError(f"{where} ({doc_id!r}): score must be a number, got {score!r:.80}")
    value = float(score)
    if not math.isfinite(value):
        raise ValueError(f"{where} ({doc_id!r}): score {value} is not finite; the vector "
                         "store holds a broken vector for it")
    if kind.startswith("exp_neg_") and not 0.0 < value <= 1.0:
        raise ValueError(f"{where} ({doc_id!r}): score {value} is no exp(-distance) "
                         f"(kind {kind!r}); it must be in (0, 1]")
    return value
