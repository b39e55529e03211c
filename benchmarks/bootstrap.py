"""Paired bootstrap interval of a mean per-query difference (two runs on the same queries).

The same resampling as ``finetune.py``'s ``paired_change``: resample the queries with
replacement ``resamples`` times, take the mean difference of each resample, report the 2.5th
and 97.5th percentiles. A change whose interval spans 0 is not distinguishable from noise on
these queries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Change:
    """Mean per-query difference ``after - before`` and its 95% paired-bootstrap interval."""

    mean: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.mean:+.3f} [{self.low:+.3f}, {self.high:+.3f}]"


def paired_change(after: Mapping[str, float], before: Mapping[str, float], *, seed: int = 0,
                  resamples: int = 2000) -> Change:
    """`Change` of ``after`` over ``before`` (per-query scores keyed by query id; both must
    score the same queries)."""
    if set(after) != set(before):
        raise ValueError(f"paired runs must score the same queries: {len(after)} vs "
                         f"{len(before)}, {len(set(after) ^ set(before))} differ")
    queries = sorted(before)
    diffs = np.array([after[q] - before[q] for q in queries], dtype=np.float64)
    if diffs.size == 0:
        return Change(0.0, 0.0, 0.0)
    draws = np.random.default_rng(seed).integers(0, diffs.size, (resamples, diffs.size))
    low, high = np.percentile(diffs[draws].mean(axis=1), [2.5, 97.5])
    return Change(float(diffs.mean()), float(low), float(high))
