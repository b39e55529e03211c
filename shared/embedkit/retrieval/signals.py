"""Label-free signals that decide, per query, how to fuse and whether to use feedback.

Every signal is computed from what a search already has in hand: the query's BM25 tokens with
their IDF over the corpus, and the two candidate lists (dense and BM25). None needs relevance
judgments, so a policy built on them transfers to a corpus nobody tuned on; constants fitted
to one data set would not.

- :func:`rarity`: a token's IDF divided by the IDF of a term found in one document (1.0 means
  "unique to one document").
- :class:`QuerySignals` / :func:`query_signals`: the query's length in BM25 tokens and its
  rarest code-like token (one with a digit: part numbers, error codes) and rarest word.
- :func:`overlap`: how much of the two lists' heads agree.
- :func:`top_gap`: how far the best score stands above the rest of a list.
- :func:`coherence`: mean pairwise cosine of a few document vectors (do the top documents
  talk about one thing?).

The default policy (`embedkit.retrieval.policy`) uses the code rarity and the overlap. The
score gap and the top documents' coherence were measured as per-query gates for feedback and
fusion on msmarco-5k, cisi, med and the demo set: their correlation with the gain changed sign
from one set to the next (e.g. dense top-1 cosine against the feedback gain: -0.49 on med,
+0.07 on cisi), so no policy built on them would transfer; they stay available for custom
policies.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np


def rarity(idf: Sequence[float] | np.ndarray, n_docs: int) -> np.ndarray:
    """Each IDF over the largest IDF possible in a corpus of ``n_docs`` (a term in one
    document), clipped to [0, 1]. Lucene's IDF ``ln(1 + (N - df + 0.5) / (df + 0.5))``."""
    values = np.asarray(idf, dtype=np.float64)
    if n_docs <= 0 or values.size == 0:
        return np.zeros(values.shape)
    top_idf = math.log1p((n_docs - 1 + 0.5) / 1.5)
    if top_idf <= 0:
        return np.zeros(values.shape)
    return np.clip(values / top_idf, 0.0, 1.0)


def is_code(token: str) -> bool:
    """A token with a digit: part numbers, error codes, versions, model names."""
    return any(c.isdigit() for c in token)


@dataclass(frozen=True)
class QuerySignals:
    """What the query's own tokens say, before any search.

    Attributes:
        n_tokens: BM25 tokens after stopwords (a code counts its parts and its joined form).
        code_rarity: rarity (see :func:`rarity`) of the rarest code-like token found in the
            corpus; 0 when there is none.
        word_rarity: rarity of the rarest other token found in the corpus; 0 when none.
    """

    n_tokens: int
    code_rarity: float
    word_rarity: float


def query_signals(tokens: Sequence[str], idf: Sequence[float] | np.ndarray,
                  n_docs: int) -> QuerySignals:
    """:class:`QuerySignals` from the query's BM25 tokens and their IDF (0 when absent from
    the corpus: BM25 cannot use such a token, so it carries no signal)."""
    if len(idf) != len(tokens):
        raise ValueError(f"query_signals needs one idf per token: {len(tokens)} tokens, "
                         f"{len(idf)} idf values")
    rare = rarity(idf, n_docs)
    code = [float(r) for t, r in zip(tokens, rare) if is_code(t)]
    word = [float(r) for t, r in zip(tokens, rare) if not is_code(t)]
    return QuerySignals(len(tokens), max(code, default=0.0), max(word, default=0.0))


def overlap(first: Sequence[Hashable], second: Sequence[Hashable], depth: int = 10) -> float:
    """Share of the top ``depth`` of ``first`` also in the top ``depth`` of ``second``, in
    [0, 1]; divided by ``depth`` (a short list cannot agree fully). 0 when either is empty."""
    if depth < 1:
        raise ValueError(f"overlap depth must be >= 1, got {depth}")
    if not first or not second:
        return 0.0
    return len(set(first[:depth]) & set(second[:depth])) / depth


def top_gap(scores: Sequence[float] | np.ndarray, depth: int = 10) -> float:
    """``(best - score at rank depth) / (best - worst)`` over a list sorted best first, in
    [0, 1]: near 1 when one document stands out, near 0 for a flat head. 0 for fewer than two
    scores or a constant list."""
    values = np.asarray(scores, dtype=np.float64)
    if values.size < 2:
        return 0.0
    spread = float(values.max() - values.min())
    if spread <= 0:
        return 0.0
    return float((values[0] - values[min(depth, values.size) - 1]) / spread)


def coherence(vectors: np.ndarray) -> float:
    """Mean cosine between distinct rows of ``vectors`` (L2-normalized here); 0 for fewer
    than two rows."""
    matrix = np.asarray(vectors, dtype=np.float64)
    n = matrix.shape[0] if matrix.ndim == 2 else 0
    if n < 2:
        return 0.0
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit = matrix / np.where(norms > 0, norms, 1.0)
    gram = unit @ unit.T
    return float((gram.sum() - np.trace(gram)) / (n * (n - 1)))
