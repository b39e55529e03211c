"""Agreement with reference implementations on random graded data: ranx and pytrec_eval.

Definitions checked in the references' sources (ranx 0.3.21, trec_eval 9 via pytrec_eval):
- ranx ``ndcg`` is Järvelin's linear gain (``ndcg_burges`` is 2^g - 1), its ideal DCG sorts
  all of the query's qrels; trec_eval ``ndcg_cut`` also uses gain = grade. They agree.
- ranx ``map@k`` and trec_eval ``map_cut`` both divide by all relevant judged documents.
- ranx ``precision@k`` and trec_eval ``P_k`` both divide by k.
- ranx ``mrr@k`` is cut at k; trec_eval's ``recip_rank`` has no cut (our ``mrr``).
- Ties: ranx sorts scores with an unstable argsort, so ties land in no fixed order; trec_eval
  sorts ties by doc id descending. We follow trec_eval, so the ranx comparison uses distinct
  scores and the tie comparison is made against pytrec_eval only.
"""

from __future__ import annotations

import random

import pytest

from embedkit.evaluate import evaluate_run

N_QUERIES = 200
# ranx hashes doc ids into int64 through numba, which warns about the cast; harmless here.
pytestmark = pytest.mark.filterwarnings("ignore:unsafe cast from uint64 to int64")
OUR_METRICS = ("ndcg@10", "mrr@10", "recall@10", "precision@10", "map@10")


def random_graded_data(seed: int, *, tied_scores: bool = False):
    """200 queries: graded qrels (0-3, some unjudged docs retrieved) and scored runs."""
    rng = random.Random(seed)
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for q in range(N_QUERIES):
        pool = [f"doc{d:03d}" for d in rng.sample(range(200), 60)]
        judged = pool[: rng.randint(1, 40)]
        grades = {doc: rng.choices((0, 1, 2, 3), weights=(4, 3, 2, 1))[0] for doc in judged}
        if not any(grades.values()):
            grades[judged[0]] = rng.randint(1, 3)  # ranx scores such queries 0; we skip them
        qrels[f"q{q:03d}"] = grades
        retrieved = rng.sample(pool, rng.randint(1, 30))  # often fewer than 10 documents
        if tied_scores:
            # Few distinct values, exact in float32 (trec_eval stores scores as float).
            run[f"q{q:03d}"] = {doc: rng.randint(0, 4) / 4 for doc in retrieved}
        else:
            run[f"q{q:03d}"] = {doc: float(len(retrieved) - i) for i, doc in enumerate(retrieved)}
    return run, qrels


def test_agrees_with_ranx_on_200_random_graded_queries():
    ranx = pytest.importorskip("ranx")
    run, qrels = random_graded_data(seed=7)
    ours = evaluate_run(run, qrels, metrics=OUR_METRICS)
    assert ours.n_queries == N_QUERIES and not ours.skipped

    ranx_run = ranx.Run(run)
    ranx.evaluate(ranx.Qrels(qrels), ranx_run, list(OUR_METRICS), threads=1)
    for metric in OUR_METRICS:
        for qid in qrels:
            assert ours.per_query[qid][metric] == pytest.approx(
                ranx_run.scores[metric][qid], abs=1e-6
            ), (metric, qid)
        assert ours.mean[metric] == pytest.approx(ranx_run.mean_scores[metric], abs=1e-6)
    # The data exercise the metrics: neither all perfect nor all zero.
    assert 0.1 < ours.mean["ndcg@10"] < 0.9


def test_linear_gain_matches_ranx_ndcg_not_ndcg_burges():
    ranx = pytest.importorskip("ranx")
    run, qrels = random_graded_data(seed=11)
    ours = evaluate_run(run, qrels, metrics=("ndcg@10",)).mean["ndcg@10"]
    scores = ranx.evaluate(
        ranx.Qrels(qrels), ranx.Run(run), ["ndcg@10", "ndcg_burges@10"], threads=1
    )
    assert ours == pytest.approx(scores["ndcg@10"], abs=1e-6)
    assert abs(ours - scores["ndcg_burges@10"]) > 1e-3


TREC_MEASURES = {
    "ndcg@10": "ndcg_cut_10",
    "recall@10": "recall_10",
    "precision@10": "P_10",
    "map@10": "map_cut_10",
    "mrr": "recip_rank",
}


@pytest.mark.parametrize("tied_scores", [False, True], ids=["distinct-scores", "tied-scores"])
def test_agrees_with_pytrec_eval(tied_scores):
    pytrec_eval = pytest.importorskip("pytrec_eval")
    run, qrels = random_graded_data(seed=23, tied_scores=tied_scores)
    ours = evaluate_run(run, qrels, metrics=tuple(TREC_MEASURES))
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, set(TREC_MEASURES.values()))
    reference = evaluator.evaluate(run)
    assert set(reference) == set(ours.per_query)
    for qid, scores in reference.items():
        for ours_name, trec_name in TREC_MEASURES.items():
            assert ours.per_query[qid][ours_name] == pytest.approx(scores[trec_name], abs=1e-6), (
                ours_name,
                qid,
            )


def test_tie_order_matters_on_this_data():
    # Guard for the tied-scores case above: ascending doc id order would change the scores,
    # so agreement there really checks the tie-break.
    run, qrels = random_graded_data(seed=23, tied_scores=True)
    trec_order = evaluate_run(run, qrels, metrics=("ndcg@10",)).mean["ndcg@10"]
    ascending = {
        qid: sorted(scores, key=lambda doc: (-scores[doc], doc)) for qid, scores in run.items()
    }
    assert evaluate_run(ascending, qrels, metrics=("ndcg@10",)).mean["ndcg@10"] != pytest.approx(
        trec_order, abs=1e-6
    )
