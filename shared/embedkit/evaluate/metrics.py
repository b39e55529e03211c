"""Ranking metrics with trec_eval semantics, per query and averaged.

Definitions follow trec_eval (what pytrec_eval and BEIR report), so numbers are comparable
with published BEIR tables:

- ``precision@k``: relevant documents in the top k, divided by k (not by how many were
  retrieved: a run that returns 3 documents is still judged on 10 slots for precision@10).
- ``recall@k``: relevant documents in the top k, divided by all relevant documents judged.
- ``mrr@k``: 1 / rank of the first relevant document within the top k, else 0.
- ``map@k``: average precision cut at k (trec_eval ``map_cut``): the sum of precision@i over the
  ranks i <= k that hold a relevant document, divided by ALL relevant documents judged.
- ``ndcg@k``: gain = grade (linear, as trec_eval ``ndcg_cut``; not the 2^grade - 1 of Burges),
  discount log2(rank + 1), ideal DCG from the best ordering of ALL the query's judgments,
  not only of the retrieved ones. Negative grades count as gain 0, as in trec_eval.

A document is relevant when its grade is > 0. Without ``@k`` a metric uses the whole ranking
(``mrr`` is then trec_eval's ``recip_rank``).

Score dictionaries are ranked by score, descending, ties broken by document id in DESCENDING
string order: that is trec_eval's ``comp_sim_docno``, so tied scores (common with BM25) land
in the same positions as in pytrec_eval. A ranked list is taken in its given order; a document
repeated in it counts once, at its first (best) position.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

Ranking = Union[Sequence[str], Mapping[str, float]]
Run = Mapping[str, Ranking]
Qrels = Mapping[str, Mapping[str, int]]

DEFAULT_METRICS: tuple[str, ...] = ("ndcg@10", "mrr@10", "recall@10", "precision@10", "map@10")


# ---------------------------------------------------------------- ranking one query's results
def rank_documents(
    results: Ranking, *, depth: int | None = None, query_id: str = "?"
) -> list[str]:
    """Turn one query's results (a ranked list or a ``{doc_id: score}`` dict) into a list.

    Dicts are sorted by score descending, ties by doc id descending (trec_eval's order).
    Lists keep their order; repeated ids keep only their first position.
    ``depth`` keeps only the first ``depth`` documents (all metrics cut at k need no more).
    """
    if isinstance(results, Mapping):
        return _rank_scored(results, depth, query_id)
    if isinstance(results, (str, bytes)):
        # A bare string would otherwise be ranked character by character.
        raise TypeError(
            f"run[{query_id!r}] is a string; expected a list of doc ids or a {{doc_id: score}} dict"
        )
    return list(dict.fromkeys(results))[:depth]


def _is_valid_score(score: object) -> bool:
    if type(score) is float or type(score) is int:  # the usual case, without the slow ABC check
        return score == score  # False only for NaN
    return (
        not isinstance(score, bool)
        and isinstance(score, numbers.Real)  # numpy scalars included
        and not math.isnan(score)
    )


def _rank_scored(scores: Mapping[str, float], depth: int | None, query_id: str) -> list[str]:
    for doc_id, score in scores.items():
        if not _is_valid_score(score):
            raise ValueError(
                f"run[{query_id!r}][{doc_id!r}] has score {score!r}; scores must be real numbers"
            )
    # reverse=True on (score, doc_id): score descending, then doc id descending.
    ordered = sorted(scores.items(), key=_score_then_id, reverse=True)[:depth]
    return [doc_id for doc_id, _ in ordered]


def _score_then_id(item: tuple[str, float]) -> tuple[float, str]:
    return item[1], item[0]


# ---------------------------------------------------------------- single-query metrics
def _top(ranking: Sequence[str], k: int | None) -> Sequence[str]:
    return ranking if k is None else ranking[:k]


def _relevant(grades: Mapping[str, int]) -> set[str]:
    return {doc_id for doc_id, grade in grades.items() if grade > 0}


def precision_at_k(ranking: Sequence[str], grades: Mapping[str, int], k: int | None) -> float:
    """Relevant documents in the top k / k (whole ranking: / its length)."""
    relevant = _relevant(grades)
    denominator = len(ranking) if k is None else k
    if denominator == 0:
        return 0.0
    return sum(doc_id in relevant for doc_id in _top(ranking, k)) / denominator


def recall_at_k(ranking: Sequence[str], grades: Mapping[str, int], k: int | None) -> float:
    """Relevant documents in the top k / all relevant documents judged for the query."""
    relevant = _relevant(grades)
    if not relevant:
        return 0.0
    return sum(doc_id in relevant for doc_id in _top(ranking, k)) / len(relevant)


def reciprocal_rank(ranking: Sequence[str], grades: Mapping[str, int], k: int | None) -> float:
    """1 / rank of the first relevant document within the top k, 0 if there is none."""
    relevant = _relevant(grades)
    for rank, doc_id in enumerate(_top(ranking, k), start=1):
        if doc_id in relevant:
            return 1.0 / rank
    return 0.0


def average_precision(ranking: Sequence[str], grades: Mapping[str, int], k: int | None) -> float:
    """Sum of precision@rank at each relevant rank <= k, / all relevant documents judged."""
    relevant = _relevant(grades)
    if not relevant:
        return 0.0
    hits = 0
    total = 0.0
    for rank, doc_id in enumerate(_top(ranking, k), start=1):
        if doc_id in relevant:
            hits += 1
            total += hits / rank
    return total / len(relevant)


def _dcg(gains: Iterable[float]) -> float:
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1))


def ndcg_at_k(ranking: Sequence[str], grades: Mapping[str, int], k: int | None) -> float:
    """DCG of the top k (gain = grade) / DCG of the ideal top k over all judged documents."""
    gains = [max(grade, 0) for grade in grades.values()]
    ideal = _dcg(_top(sorted(gains, reverse=True), k))
    if ideal == 0.0:
        return 0.0
    actual = _dcg(max(grades.get(doc_id, 0), 0) for doc_id in _top(ranking, k))
    return actual / ideal


MetricFunction = Callable[[Sequence[str], Mapping[str, int], "int | None"], float]

METRIC_FUNCTIONS: dict[str, MetricFunction] = {
    "ndcg": ndcg_at_k,
    "mrr": reciprocal_rank,
    "recall": recall_at_k,
    "precision": precision_at_k,
    "map": average_precision,
}


# ---------------------------------------------------------------- metric names
@dataclass(frozen=True)
class MetricSpec:
    """A parsed metric name: ``"ndcg@10"`` -> ``MetricSpec("ndcg", 10)``."""

    name: str
    k: int | None

    @property
    def label(self) -> str:
        return self.name if self.k is None else f"{self.name}@{self.k}"

    def __call__(self, ranking: Sequence[str], grades: Mapping[str, int]) -> float:
        return METRIC_FUNCTIONS[self.name](ranking, grades, self.k)


def parse_metric(label: str) -> MetricSpec:
    """Parse ``"name@k"`` or ``"name"``; names: ndcg, mrr, recall, precision, map."""
    if not isinstance(label, str):
        raise TypeError(f"metric names are strings like 'ndcg@10', got {label!r}")
    name, at, cutoff = label.strip().lower().partition("@")
    if name not in METRIC_FUNCTIONS:
        known = ", ".join(sorted(METRIC_FUNCTIONS))
        raise ValueError(f"unknown metric {label!r}; known metrics: {known} (optionally @k)")
    if not at:
        return MetricSpec(name, None)
    if not cutoff.isdigit() or int(cutoff) < 1:
        raise ValueError(f"metric {label!r}: the cutoff after '@' must be a positive integer")
    return MetricSpec(name, int(cutoff))


# ---------------------------------------------------------------- whole-run evaluation
@dataclass(frozen=True)
class EvalResult:
    """Scores of one run: per query, and the mean over the evaluated queries.

    ``metrics`` keeps the caller's order, so several results can be laid out as a table of
    runs x metrics (``result.row()`` per run). ``per_query`` keeps the query-level scores a
    paired comparison between runs needs.
    """

    per_query: dict[str, dict[str, float]]
    mean: dict[str, float]
    n_queries: int
    skipped: list[str] = field(default_factory=list)
    """Queries left out: no judgment with grade > 0 (in qrels or only in the run), as BEIR."""
    missing: list[str] = field(default_factory=list)
    """Judged queries the run has no results for; they are scored 0 and counted in the mean."""
    metrics: tuple[str, ...] = DEFAULT_METRICS

    def __getitem__(self, metric: str) -> float:
        """The mean of one metric: ``result["ndcg@10"]``."""
        return self.mean[parse_metric(metric).label]

    def row(self, metrics: Sequence[str] | None = None) -> list[float]:
        """Mean scores in ``metrics`` order (default: the order they were computed in)."""
        return [self[metric] for metric in (metrics or self.metrics)]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict; ``EvalResult.from_dict`` reads it back."""
        return {
            "metrics": list(self.metrics),
            "mean": dict(self.mean),
            "n_queries": self.n_queries,
            "skipped": list(self.skipped),
            "missing": list(self.missing),
            "per_query": {qid: dict(scores) for qid, scores in self.per_query.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvalResult:
        """Rebuild a result saved with ``to_dict`` (e.g. from a JSON file)."""
        return cls(
            per_query={qid: dict(scores) for qid, scores in data["per_query"].items()},
            mean=dict(data["mean"]),
            n_queries=int(data["n_queries"]),
            skipped=list(data.get("skipped", [])),
            missing=list(data.get("missing", [])),
            metrics=tuple(data["metrics"]),
        )


def evaluate_run(
    run: Run, qrels: Qrels, metrics: Sequence[str] = DEFAULT_METRICS
) -> EvalResult:
    """Score a run against graded relevance judgments.

    ``run``: ``{query_id: [doc_id, ...]}`` best first, or ``{query_id: {doc_id: score}}``.
    ``qrels``: ``{query_id: {doc_id: grade}}``; grade > 0 means relevant.
    Queries without a relevant judgment are skipped (listed in ``skipped``); judged queries the
    run lacks score 0 (listed in ``missing``), so a run cannot look better by dropping queries.
    """
    specs = _parse_metrics(metrics)
    _check_query_ids_overlap(run, qrels)
    depth = _ranking_depth(specs)
    per_query: dict[str, dict[str, float]] = {}
    skipped: list[str] = []
    missing: list[str] = []
    for query_id, grades in qrels.items():
        if not any(grade > 0 for grade in grades.values()):
            skipped.append(query_id)
            continue
        if query_id not in run:
            missing.append(query_id)
        ranking = rank_documents(run.get(query_id, ()), depth=depth, query_id=query_id)
        per_query[query_id] = {spec.label: spec(ranking, grades) for spec in specs}
    skipped.extend(query_id for query_id in run if query_id not in qrels)
    labels = tuple(spec.label for spec in specs)
    return EvalResult(
        per_query=per_query,
        mean=_means(per_query, labels),
        n_queries=len(per_query),
        skipped=skipped,
        missing=missing,
        metrics=labels,
    )


def _parse_metrics(metrics: Sequence[str]) -> list[MetricSpec]:
    if isinstance(metrics, str):
        metrics = (metrics,)
    specs = list(dict.fromkeys(parse_metric(label) for label in metrics))
    if not specs:
        raise ValueError("no metrics requested; e.g. metrics=('ndcg@10', 'recall@10')")
    return specs


def _ranking_depth(specs: Sequence[MetricSpec]) -> int | None:
    """How many top documents the metrics look at; None when one uses the whole ranking."""
    cutoffs = [spec.k for spec in specs]
    return None if None in cutoffs else max(cutoffs)


def _check_query_ids_overlap(run: Run, qrels: Qrels) -> None:
    # Disjoint ids almost always mean int ids on one side and str ids on the other; scoring
    # that silently would report zeros for every query.
    if run and qrels and not any(query_id in qrels for query_id in run):
        run_ids = list(run)[:3]
        qrels_ids = list(qrels)[:3]
        raise ValueError(
            f"no query id of the run appears in qrels (run ids: {run_ids!r}, "
            f"qrels ids: {qrels_ids!r}); check that both use the same ids and types"
        )


def _means(per_query: Mapping[str, Mapping[str, float]], labels: Sequence[str]) -> dict[str, float]:
    if not per_query:
        # Nothing to average: NaN says so instead of a 0.0 that reads like a terrible score.
        return {label: math.nan for label in labels}
    return {
        label: math.fsum(scores[label] for scores in per_query.values()) / len(per_query)
        for label in labels
    }
