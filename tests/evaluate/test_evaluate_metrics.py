"""Metric definitions checked against arithmetic done by hand (shown in the comments)."""

from __future__ import annotations

import json
import math

import pytest

from embedkit.evaluate import EvalResult, evaluate_run, parse_metric, rank_documents
from embedkit.evaluate.metrics import (
    average_precision,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    reciprocal_rank,
)

LOG2_3 = math.log2(3)  # 1.5849625; 2 / LOG2_3 = 1.2618595, 3 / LOG2_3 = 1.8927893
LOG2_5 = math.log2(5)  # 2.3219281; 1 / LOG2_5 = 0.4306766

# One graded query used by most hand-computed cases.
# Relevant (grade > 0): a, c, d, e -> 4 relevant. b is judged non-relevant; x, y are unjudged.
GRADES = {"a": 3, "b": 0, "c": 1, "d": 2, "e": 1}
RANKING = ["x", "a", "b", "c", "y"]  # relevant at ranks 2 (a, grade 3) and 4 (c, grade 1)


def test_precision_by_hand():
    # top 5 = x a b c y -> relevant a, c -> 2 / 5
    assert precision_at_k(RANKING, GRADES, 5) == pytest.approx(2 / 5)
    # top 3 = x a b -> relevant a -> 1 / 3
    assert precision_at_k(RANKING, GRADES, 3) == pytest.approx(1 / 3)
    # k = 10 > 5 retrieved: still divided by 10 (trec_eval P_10) -> 2 / 10
    assert precision_at_k(RANKING, GRADES, 10) == pytest.approx(2 / 10)


def test_recall_by_hand():
    # top 5 holds a, c of the 4 relevant -> 2 / 4
    assert recall_at_k(RANKING, GRADES, 5) == pytest.approx(0.5)
    # top 2 holds a -> 1 / 4
    assert recall_at_k(RANKING, GRADES, 2) == pytest.approx(0.25)


def test_reciprocal_rank_by_hand():
    # first relevant document (a) is at rank 2 -> 1 / 2
    assert reciprocal_rank(RANKING, GRADES, 10) == pytest.approx(0.5)
    # cut at 1: only x, not relevant -> 0
    assert reciprocal_rank(RANKING, GRADES, 1) == 0.0


def test_average_precision_by_hand():
    # hits at rank 2 (precision 1/2) and rank 4 (precision 2/4); divided by 4 relevant:
    # (0.5 + 0.5) / 4 = 0.25
    assert average_precision(RANKING, GRADES, 5) == pytest.approx(0.25)
    # cut at 3: only the hit at rank 2 -> 0.5 / 4 = 0.125 (still / all 4 relevant: map_cut)
    assert average_precision(RANKING, GRADES, 3) == pytest.approx(0.125)


def test_ndcg_by_hand_uses_linear_gain_and_all_judgments_for_the_ideal():
    # DCG@5: a (gain 3) at rank 2 -> 3 / log2(3); c (gain 1) at rank 4 -> 1 / log2(5)
    #   = 1.8927893 + 0.4306766 = 2.3234659
    # ideal@5 from ALL judgments, grades sorted 3, 2, 1, 1, 0:
    #   3 / log2(2) + 2 / log2(3) + 1 / log2(4) + 1 / log2(5) + 0
    #   = 3 + 1.2618595 + 0.5 + 0.4306766 = 5.1925361
    # nDCG@5 = 2.3234659 / 5.1925361 = 0.4474626
    expected = (3 / LOG2_3 + 1 / LOG2_5) / (3 + 2 / LOG2_3 + 1 / 2 + 1 / LOG2_5)
    assert expected == pytest.approx(0.4474626, abs=1e-7)
    assert ndcg_at_k(RANKING, GRADES, 5) == pytest.approx(expected)
    # nDCG@3: DCG = 3 / log2(3) = 1.8927893; ideal@3 = 3 + 2 / log2(3) + 1 / 2 = 4.7618595
    #   -> 0.3974895. (Burges' 2^g - 1 gains would give 7/log2(3) / (7 + 3/log2(3) + 1/2) = 0.4702.)
    assert ndcg_at_k(RANKING, GRADES, 3) == pytest.approx(
        (3 / LOG2_3) / (3 + 2 / LOG2_3 + 0.5)
    )
    assert ndcg_at_k(RANKING, GRADES, 3) == pytest.approx(0.3974895, abs=1e-7)


def test_ndcg_ideal_counts_relevant_documents_never_retrieved():
    # Both a and b are relevant; the run finds only a, at rank 1.
    # DCG = 1; ideal = 1 + 1 / log2(3) = 1.6309298 -> 0.6131472, not 1.0.
    assert ndcg_at_k(["a"], {"a": 1, "b": 1}, 10) == pytest.approx(1 / (1 + 1 / LOG2_3))


def test_negative_grades_are_not_relevant_and_have_zero_gain():
    # b (grade -1) at rank 1 counts as gain 0, as in trec_eval:
    # DCG = 2 / log2(3) + 1 / 2 = 1.7618595; ideal = 2 + 1 / log2(3) = 2.6309298 -> 0.6696718
    grades = {"a": 2, "b": -1, "c": 1}
    assert ndcg_at_k(["b", "a", "c"], grades, 10) == pytest.approx(0.6696718, abs=1e-7)
    assert reciprocal_rank(["b", "a"], grades, 10) == pytest.approx(0.5)


def test_k_larger_than_the_ranking():
    # One retrieved, one relevant, at rank 1.
    result = evaluate_run(
        {"q": ["a"]},
        {"q": {"a": 1}},
        metrics=("ndcg@10", "mrr@10", "recall@10", "precision@10", "map@10"),
    )
    assert result.per_query["q"] == pytest.approx(
        # precision divides by k = 10, not by the 1 document retrieved
        {"ndcg@10": 1.0, "mrr@10": 1.0, "recall@10": 1.0, "precision@10": 0.1, "map@10": 1.0}
    )


def test_empty_ranking_scores_zero():
    result = evaluate_run({"q": [], "r": ["a"]}, {"q": {"a": 1}, "r": {"a": 1}})
    assert set(result.per_query["q"].values()) == {0.0}
    assert result.missing == []


def test_duplicate_doc_ids_in_a_run_count_once():
    # [a, a, x] is read as [a, x]: one relevant document.
    # Counted twice it would give recall@3 = 2 / 1 = 2.0 and precision@2 = 2 / 2 = 1.0.
    result = evaluate_run(
        {"q": ["a", "a", "x"]},
        {"q": {"a": 1}},
        metrics=("recall@3", "precision@2", "ndcg@2", "map@3"),
    )
    assert result.per_query["q"] == pytest.approx(
        {"recall@3": 1.0, "precision@2": 0.5, "ndcg@2": 1.0, "map@3": 1.0}
    )


def test_ties_in_score_dicts_break_by_doc_id_descending_like_trec_eval():
    # b and a tie at 1.0: trec_eval's order is doc id descending -> b, a, then c.
    assert rank_documents({"a": 1.0, "c": 0.5, "b": 1.0}) == ["b", "a", "c"]
    assert rank_documents({"b": 1.0, "c": 0.5, "a": 1.0}) == ["b", "a", "c"]
    # so with a relevant, the reciprocal rank is 1 / 2 whatever the dict's insertion order
    for scores in ({"a": 1.0, "b": 1.0}, {"b": 1.0, "a": 1.0}):
        assert evaluate_run({"q": scores}, {"q": {"a": 1}}).mean["mrr@10"] == 0.5


def test_score_dict_and_ranked_list_give_the_same_scores():
    scores = {"x": 0.9, "a": 0.8, "b": 0.7, "c": 0.6, "y": 0.1}
    as_dict = evaluate_run({"q": scores}, {"q": GRADES})
    as_list = evaluate_run({"q": RANKING}, {"q": GRADES})
    assert as_dict.per_query == as_list.per_query


def test_numpy_scores_are_accepted():
    np = pytest.importorskip("numpy")
    scores = {"a": np.float32(0.2), "b": np.float32(0.9)}
    assert rank_documents(scores) == ["b", "a"]


def test_queries_without_relevant_judgments_are_skipped_and_listed():
    qrels = {
        "judged": {"a": 1, "b": 0},
        "all_zero": {"a": 0},  # judged, but nothing relevant
    }
    run = {"judged": ["b", "a"], "all_zero": ["a"], "unjudged": ["a"]}
    result = evaluate_run(run, qrels, metrics=("mrr@10",))
    assert result.n_queries == 1
    assert list(result.per_query) == ["judged"]
    assert result.skipped == ["all_zero", "unjudged"]
    # the mean is over the judged query only: 1 / 2
    assert result.mean == {"mrr@10": 0.5}


def test_judged_queries_missing_from_the_run_score_zero_and_are_listed():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    result = evaluate_run({"q1": ["a"]}, qrels, metrics=("recall@10",))
    assert result.missing == ["q2"]
    assert result.per_query["q2"] == {"recall@10": 0.0}
    # (1 + 0) / 2
    assert result.mean["recall@10"] == 0.5
    assert result.n_queries == 2


def test_metric_without_cutoff_uses_the_whole_ranking():
    ranking = [f"n{i}" for i in range(20)] + ["a"]  # relevant at rank 21
    result = evaluate_run({"q": ranking}, {"q": {"a": 1}}, metrics=("mrr", "mrr@10", "recall"))
    assert result.per_query["q"] == pytest.approx({"mrr": 1 / 21, "mrr@10": 0.0, "recall": 1.0})


def test_ideal_ranking_scores_one_and_reversed_scores_lower():
    # No retriever involved: rank each query's judged documents by grade, best first.
    qrels = {
        f"q{i}": {f"d{i}-{j}": (j * 7 + i) % 4 for j in range(12)} for i in range(6)
    }
    ideal = {q: sorted(grades, key=grades.__getitem__, reverse=True) for q, grades in qrels.items()}
    reverse = {qid: ranking[::-1] for qid, ranking in ideal.items()}
    best = evaluate_run(ideal, qrels)
    worst = evaluate_run(reverse, qrels)
    assert best.mean["ndcg@10"] == pytest.approx(1.0)
    assert best.mean["mrr@10"] == 1.0
    assert worst.mean["ndcg@10"] < best.mean["ndcg@10"] - 0.2
    for qid in qrels:
        assert worst.per_query[qid]["ndcg@10"] < 1.0


def test_default_metrics_and_order():
    result = evaluate_run({"q": ["a"]}, {"q": {"a": 1}})
    assert result.metrics == ("ndcg@10", "mrr@10", "recall@10", "precision@10", "map@10")
    assert list(result.mean) == list(result.metrics)


def test_eval_result_round_trips_through_json_and_builds_table_rows():
    qrels = {"q1": {"a": 2, "b": 1}, "q2": {"c": 1}, "q3": {"d": 0}}
    run = {"q1": ["b", "a"], "q3": ["d"]}
    result = evaluate_run(run, qrels, metrics=("precision@5", "ndcg@10"))
    text = json.dumps(result.to_dict())
    again = EvalResult.from_dict(json.loads(text))
    assert again == result
    assert again.row() == [result.mean["precision@5"], result.mean["ndcg@10"]]
    assert again.row(["ndcg@10"]) == [result["NDCG@10"]]
    assert again.skipped == ["q3"] and again.missing == ["q2"]


def test_no_evaluable_query_gives_nan_means():
    result = evaluate_run({"q": ["a"]}, {"q": {"a": 0}}, metrics=("ndcg@10",))
    assert result.n_queries == 0
    assert math.isnan(result.mean["ndcg@10"])


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("ndcg@0", "positive integer"),
        ("ndcg@ten", "positive integer"),
        ("hits@10", "known metrics"),
        ("", "known metrics"),
    ],
)
def test_bad_metric_names_are_rejected(label, message):
    with pytest.raises(ValueError, match=message):
        evaluate_run({"q": ["a"]}, {"q": {"a": 1}}, metrics=(label,))


def test_metric_names_are_normalised():
    assert parse_metric(" NDCG@10 ").label == "ndcg@10"
    assert parse_metric("map").k is None


def test_disjoint_query_ids_are_an_error_not_silent_zeros():
    with pytest.raises(ValueError, match="no query id of the run appears in qrels"):
        evaluate_run({1: ["a"]}, {"1": {"a": 1}})


def test_bad_scores_and_rankings_are_rejected_with_the_query_named():
    with pytest.raises(ValueError, match=r"run\['q'\]\['a'\] has score nan"):
        evaluate_run({"q": {"a": float("nan")}}, {"q": {"a": 1}})
    with pytest.raises(ValueError, match="real numbers"):
        evaluate_run({"q": {"a": "high"}}, {"q": {"a": 1}})
    with pytest.raises(TypeError, match=r"run\['q'\] is a string"):
        evaluate_run({"q": "a"}, {"q": {"a": 1}})
