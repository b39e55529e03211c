"""Fuse ranked candidate lists (dense and BM25) into one ranking. Pure functions, no I/O.

A candidate list is a mapping ``{id: score}`` or a sequence of ``(id, score)`` pairs from one
retriever. Its ranks come from its scores (higher is better; equal scores keep the given
order). An id listed twice in one list counts once, with its best score.

- :func:`rrf`: reciprocal rank fusion, ``sum_i w_i / (k + rank_i)`` with 1-based ranks.
- :func:`weighted`: ``alpha * norm(dense) + (1 - alpha) * norm(bm25)`` over the union of both
  lists, with :func:`min_max` normalization inside each list. A document missing from a list
  gets that list's floor, 0.
- :func:`weighted_top`: the same for integer ids, vectorized, returning only the first hits.
- :func:`auto_alpha`: a per-query ``alpha`` from the query's own lexical signal (the previous
  default, ``fusion="auto-v1"``; the default is `embedkit.retrieval.policy`).

Ties in the fused score are broken by the rank in the first list, then the second, ...,
(missing counts as worst): deterministic, and it favours the first list given (dense).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Union

import numpy as np

#: The fusion modes of `embedkit.HybridIndex`.
FUSIONS = ("auto", "auto-v1", "rrf", "weighted", "dense", "bm25")

Candidates = Union[Mapping[Hashable, float], Sequence[tuple[Hashable, float]]]


@dataclass(frozen=True)
class FusedHit:
    """One fused result.

    ``scores`` and ``ranks`` hold, per input list in the order given, the raw score and the
    1-based rank of this id in that list, or None when the list did not return it.
    """

    id: Hashable
    score: float
    scores: tuple[float | None, ...]
    ranks: tuple[int | None, ...]


def min_max(scores: Sequence[float] | np.ndarray, floor: float | None = None) -> np.ndarray:
    """Scale scores to [0, 1]: ``(s - low) / (max - low)``, ``low`` = the list's minimum.

    ``floor``: the score of every document *outside* the list, when it is known; it becomes
    ``low`` (if below the minimum). For BM25 it is 0 when the list holds every document with
    a positive score: then the last candidate keeps credit for matching instead of tying
    with documents that match nothing.

    Well defined for negative scores (cosines) and ties. A constant list (including a single
    score) maps to 1.0 when the value is nonzero, and to 0.0 when it is 0: a list of zeros
    (e.g. BM25 with no matching term) carries no evidence and must not lift anything.
    """
    values = np.asarray(scores, dtype=np.float64)
    if values.size == 0:
        return values
    if not np.all(np.isfinite(values)):
        raise ValueError(f"scores must be finite, got {values[~np.isfinite(values)][:5]}")
    low, high = float(values.min()), float(values.max())
    if floor is not None:
        if not math.isfinite(floor):
            raise ValueError(f"floor must be finite, got {floor}")
        low = min(low, float(floor))
    if high == low:
        return np.full(values.shape, 1.0 if high != 0 else 0.0)
    return (values - low) / (high - low)


def rrf(lists: Sequence[Candidates], weights: Sequence[float] | None = None,
        k: float = 60.0) -> list[FusedHit]:
    """Reciprocal rank fusion: ``score(d) = sum_i weights[i] / (k + rank_i(d))``.

    Args:
        lists: candidate lists, e.g. ``[dense, bm25]``.
        weights: one non-negative weight per list (default: all 1).
        k: the RRF constant (60 in Cormack et al. 2009); larger flattens the rank curve.
    """
    ranked = [_ranked(c, i) for i, c in enumerate(lists)]
    w = _check_weights(weights, len(ranked))
    if not (isinstance(k, (int, float)) and math.isfinite(k) and k >= 0):
        raise ValueError(f"rrf k must be a finite number >= 0, got {k!r}")
    table = _table(ranked)
    fused = {doc: sum(w[i] / (k + rank) for i, rank in enumerate(entry[1]) if rank is not None)
             for doc, entry in table.items()}
    return _sorted_hits(table, fused)


def weighted(dense: Candidates, sparse: Candidates, alpha: float = 0.5, *,
             floors: tuple[float | None, float | None] = (None, None)) -> list[FusedHit]:
    """``alpha * min_max(dense) + (1 - alpha) * min_max(sparse)`` over the union of both lists.

    Normalization happens within each candidate list (e.g. each retriever's top 100), which
    measured 0.01-0.03 nDCG@10 better than normalizing over the whole corpus. ``floors``: per
    list, the score of the documents outside it when known (see :func:`min_max`); pass
    ``(None, 0.0)`` when the BM25 list holds every document with a positive score (it was
    shorter than the number of candidates asked for).
    """
    if not (isinstance(alpha, (int, float)) and 0.0 <= alpha <= 1.0):
        raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}")
    return weighted_sum([dense, sparse], [alpha, 1.0 - alpha], floors=floors)


def weighted_sum(lists: Sequence[Candidates], weights: Sequence[float], *,
                 floors: Sequence[float | None] | None = None) -> list[FusedHit]:
    """``sum_i weights[i] * min_max(list_i, floors[i])``; a missing id gets 0 from that list."""
    ranked = [_ranked(c, i) for i, c in enumerate(lists)]
    w = _check_weights(weights, len(ranked))
    floors = list(floors) if floors is not None else [None] * len(ranked)
    if len(floors) != len(ranked):
        raise ValueError(f"got {len(floors)} floors for {len(ranked)} candidate lists")
    normalized = [dict(zip((d for d, _ in r), min_max([s for _, s in r], floor)))
                  for r, floor in zip(ranked, floors)]
    table = _table(ranked)
    fused = {doc: float(sum(w[i] * normalized[i].get(doc, 0.0) for i in range(len(ranked))))
             for doc in table}
    return _sorted_hits(table, fused)


def weighted_top(dense: Sequence[tuple[int, float]], sparse: Sequence[tuple[int, float]],
                 alpha: float, *, floors: tuple[float | None, float | None] = (None, None),
                 limit: int | None = None) -> list[FusedHit]:
    """:func:`weighted` for integer ids (index positions), vectorized, first ``limit`` hits.

    The same scores, order and tie-breaks as :func:`weighted` (checked against it in the
    tests), but it builds `FusedHit` objects only for the hits returned: a search asks for
    k of a union of a few hundred candidates, and the per-candidate Python work was most of
    the cost of fusing.
    """
    if not (isinstance(alpha, (int, float)) and 0.0 <= alpha <= 1.0):
        raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}")
    lists = [_as_arrays(dense, 0), _as_arrays(sparse, 1)]
    union = np.unique(np.concatenate([ids for ids, _ in lists]))
    fused = np.zeros(union.size)
    ranks, raw = [], []
    for (ids, scores), weight, floor in zip(lists, (alpha, 1.0 - alpha), floors):
        where = np.searchsorted(union, ids)
        fused[where] += weight * min_max(scores, floor)
        rank = np.full(union.size, math.inf)
        rank[where] = np.arange(1, ids.size + 1)
        value = np.full(union.size, np.nan)
        value[where] = scores
        ranks.append(rank)
        raw.append(value)
    order = np.lexsort((ranks[1], ranks[0], -fused))[:limit]
    return [FusedHit(int(union[j]), float(fused[j]),
                     tuple(None if math.isnan(v[j]) else float(v[j]) for v in raw),
                     tuple(None if math.isinf(r[j]) else int(r[j]) for r in ranks))
            for j in order]


@dataclass(frozen=True)
class AutoAlpha:
    """Per-query dense weight from the query's lexical signal (``fusion="auto"``).

    ``alpha = dense_alpha - (dense_alpha - lexical_alpha) * signal`` where ``signal`` in [0, 1]
    is the strongest exact-match cue among the query's tokens that occur in the corpus:

    - a token with a digit (part numbers, error codes, model names: ``nmb4031``, ``e1127``)
      counts with its rarity;
    - any other token counts with its rarity times ``word_weight`` (rare names and jargon),
      scaled down in queries longer than ``keyword_length`` tokens: a rare word decides a
      2-4 word keyword query, while almost every long natural-language question holds some
      word found in one document only (measured on the demo KB: paraphrase nDCG@10 0.561 with
      the unscaled cue, 0.679 without it).

    Rarity is the token's IDF over the BM25 corpus divided by the IDF of a term found in one
    document, so 1.0 means "unique to one document". Tokens absent from the corpus carry no
    signal: BM25 cannot use them.
    """

    dense_alpha: float = 0.8
    lexical_alpha: float = 0.3
    word_weight: float = 0.5
    keyword_length: int = 4

    def __post_init__(self) -> None:
        for name in ("dense_alpha", "lexical_alpha", "word_weight"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise ValueError(f"AutoAlpha.{name} must be a number in [0, 1], got {value!r}")
        if not isinstance(self.keyword_length, int) or self.keyword_length < 1:
            raise ValueError(f"AutoAlpha.keyword_length must be an int >= 1, "
                             f"got {self.keyword_length!r}")

    def signal(self, tokens: Sequence[str], idf: np.ndarray, n_docs: int) -> float:
        """The query's lexical signal in [0, 1] (see the class docstring)."""
        if n_docs <= 0 or len(tokens) == 0:
            return 0.0
        top_idf = math.log1p((n_docs - 1 + 0.5) / 1.5)
        if top_idf <= 0:
            return 0.0
        rarity = np.clip(np.asarray(idf, dtype=np.float64) / top_idf, 0.0, 1.0)
        word = self.word_weight * min(1.0, self.keyword_length / len(tokens))
        weights = np.array([1.0 if any(c.isdigit() for c in t) else word for t in tokens])
        return float(np.max(rarity * weights))

    def alpha(self, tokens: Sequence[str], idf: np.ndarray, n_docs: int) -> float:
        """The dense weight for this query."""
        s = self.signal(tokens, idf, n_docs)
        return self.dense_alpha - (self.dense_alpha - self.lexical_alpha) * s


def auto_alpha(tokens: Sequence[str], idf: np.ndarray, n_docs: int,
               policy: AutoAlpha | None = None) -> float:
    """``alpha`` for :func:`weighted` chosen from the query tokens (see :class:`AutoAlpha`).

    Args:
        tokens: the query's BM25 tokens.
        idf: one IDF per token from the BM25 index (0 for tokens not in the corpus), e.g.
            ``BM25Index.idf(tokens)``.
        n_docs: documents in the BM25 corpus.
    """
    if len(idf) != len(tokens):
        raise ValueError(f"auto_alpha needs one idf per token: {len(tokens)} tokens, "
                         f"{len(idf)} idf values")
    return (policy or AutoAlpha()).alpha(tokens, idf, n_docs)


# ---- helpers --------------------------------------------------------------------------------
def _ranked(candidates: Candidates, which: int) -> list[tuple[Hashable, float]]:
    """(id, score) best first, one entry per id (its best score), stable for equal scores."""
    pairs = candidates.items() if isinstance(candidates, Mapping) else candidates
    best: dict[Hashable, float] = {}
    for item in pairs:
        try:
            doc, score = item
            score = float(score)
        except (TypeError, ValueError):
            raise TypeError(f"candidate list {which}: expected (id, score) pairs with a "
                            f"numeric score, got {item!r:.80}") from None
        if not math.isfinite(score):
            raise ValueError(f"candidate list {which}: score of {doc!r} is {score}")
        if doc not in best or score > best[doc]:
            best[doc] = score
    return sorted(best.items(), key=lambda item: -item[1])  # stable: ties keep given order


def _as_arrays(candidates: Sequence[tuple[int, float]], which: int) -> tuple[np.ndarray,
                                                                             np.ndarray]:
    """(ids, scores) best first, one entry per id (its best score), stable for ties."""
    ids = np.fromiter((doc for doc, _ in candidates), dtype=np.int64, count=len(candidates))
    scores = np.fromiter((score for _, score in candidates), dtype=np.float64,
                         count=len(candidates))
    if not np.all(np.isfinite(scores)):
        bad = int(np.flatnonzero(~np.isfinite(scores))[0])
        raise ValueError(f"candidate list {which}: score of {int(ids[bad])} is {scores[bad]}")
    if np.all(scores[:-1] >= scores[1:]) and len(set(ids.tolist())) == ids.size:
        return ids, scores  # the usual case: a retriever's own list, sorted and unique
    unique, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    best = np.full(unique.size, -np.inf)
    np.maximum.at(best, inverse, scores)
    by_appearance = np.argsort(first, kind="stable")  # as `_ranked`: ties keep given order
    unique, best = unique[by_appearance], best[by_appearance]
    order = np.argsort(-best, kind="stable")
    return unique[order], best[order]


def _check_weights(weights: Sequence[float] | None, n: int) -> list[float]:
    if weights is None:
        return [1.0] * n
    w = [float(x) for x in weights]
    if len(w) != n:
        raise ValueError(f"got {len(w)} weights for {n} candidate lists")
    bad = [x for x in w if not (math.isfinite(x) and x >= 0)]
    if bad:
        raise ValueError(f"weights must be finite and >= 0, got {bad}")
    return w


def _table(ranked: list[list[tuple[Hashable, float]]]) -> dict[Hashable, tuple[list, list]]:
    """id -> (raw score per list, 1-based rank per list), in first-appearance order."""
    table: dict[Hashable, tuple[list, list]] = {}
    for i, items in enumerate(ranked):
        for rank, (doc, score) in enumerate(items, start=1):
            entry = table.setdefault(doc, ([None] * len(ranked), [None] * len(ranked)))
            entry[0][i], entry[1][i] = score, rank
    return table


def _sorted_hits(table: dict[Hashable, tuple[list, list]],
                 fused: dict[Hashable, float]) -> list[FusedHit]:
    worst = math.inf

    def key(doc: Hashable) -> tuple:
        return (-fused[doc], *[r if r is not None else worst for r in table[doc][1]])

    return [FusedHit(doc, float(fused[doc]), tuple(table[doc][0]), tuple(table[doc][1]))
            for doc in sorted(table, key=key)]
