"""Fusion: min-max normalization, weighted, RRF, auto alpha."""

from __future__ import annotations

import math

import numpy as np
import pytest

from embedkit.retrieval.fusion import AutoAlpha, auto_alpha, min_max, rrf, weighted


def ids(hits):
    return [h.id for h in hits]


# ---- min-max --------------------------------------------------------------------------------
def test_min_max_handles_negative_scores():
    np.testing.assert_allclose(min_max([-0.2, -0.05, 0.1]), [0.0, 0.5, 1.0])


def test_min_max_constant_and_zero_lists():
    assert min_max([0.3, 0.3]).tolist() == [1.0, 1.0]
    assert min_max([-0.4]).tolist() == [1.0]
    assert min_max([0.0, 0.0, 0.0]).tolist() == [0.0, 0.0, 0.0]
    assert min_max([]).size == 0
    with pytest.raises(ValueError, match="finite"):
        min_max([1.0, math.nan])


def test_min_max_floor_keeps_credit_for_the_last_match():
    np.testing.assert_allclose(min_max([8.0, 2.0], floor=0.0), [1.0, 0.25])
    np.testing.assert_allclose(min_max([8.0, 2.0], floor=5.0), [1.0, 0.0])  # capped at min
    assert min_max([3.0], floor=0.0).tolist() == [1.0]


# ---- weighted -------------------------------------------------------------------------------
def test_weighted_with_all_negative_cosines_keeps_dense_order():
    # The guide's HybridRetriever divides by the max: with a negative max that flips the order.
    dense = {"a": -0.10, "b": -0.30, "c": -0.50}
    fused = weighted(dense, {}, alpha=0.5)
    assert ids(fused) == ["a", "b", "c"]
    assert [h.score for h in fused] == [0.5, 0.25, 0.0]


def test_weighted_with_all_zero_bm25_adds_nothing():
    dense = {"a": 0.9, "b": 0.5, "c": 0.1}
    fused = weighted(dense, {"c": 0.0, "b": 0.0}, alpha=0.7)
    assert ids(fused) == ["a", "b", "c"]
    np.testing.assert_allclose([h.score for h in fused], [0.7, 0.35, 0.0])


def test_weighted_disjoint_lists_give_missing_docs_the_floor():
    fused = weighted({"a": 0.8, "b": 0.4}, {"x": 12.0, "y": 3.0}, alpha=0.6)
    by_id = {h.id: h for h in fused}
    assert set(by_id) == {"a", "b", "x", "y"}
    assert by_id["a"].score == pytest.approx(0.6) and by_id["x"].score == pytest.approx(0.4)
    assert by_id["b"].score == 0.0 and by_id["y"].score == 0.0
    assert by_id["x"].scores == (None, 12.0) and by_id["x"].ranks == (None, 1)
    assert ids(fused) == ["a", "x", "b", "y"]  # equal scores: the dense rank decides


def test_weighted_bm25_floor_lifts_a_complete_lists_last_match():
    dense = {"a": 0.9, "b": 0.5, "c": 0.4}
    sparse = {"c": 6.0, "b": 2.0}  # every document BM25 matched
    plain = {h.id: h.score for h in weighted(dense, sparse, alpha=0.3)}
    floored = {h.id: h.score for h in weighted(dense, sparse, alpha=0.3, floors=(None, 0.0))}
    assert plain["b"] == pytest.approx(0.3 * 0.2)  # b's BM25 match counted as nothing
    assert floored["b"] == pytest.approx(0.3 * 0.2 + 0.7 * 2 / 6)
    assert floored["a"] == plain["a"] == pytest.approx(0.3)
    with pytest.raises(ValueError, match="3 floors for 2 candidate lists"):
        from embedkit.retrieval.fusion import weighted_sum
        weighted_sum([dense, sparse], [0.5, 0.5], floors=[None, 0.0, 1.0])


def test_weighted_alpha_extremes_follow_one_list():
    dense = [("a", 0.9), ("b", 0.8), ("c", 0.7)]
    sparse = [("c", 9.0), ("b", 5.0), ("a", 1.0)]
    assert ids(weighted(dense, sparse, alpha=1.0)) == ["a", "b", "c"]
    assert ids(weighted(dense, sparse, alpha=0.0)) == ["c", "b", "a"]
    with pytest.raises(ValueError, match="alpha"):
        weighted(dense, sparse, alpha=1.5)


def test_weighted_duplicates_are_fused_once_with_their_best_score():
    fused = weighted([("a", 0.2), ("b", 0.9), ("a", 0.95)], [("a", 2.0), ("a", 1.0)], alpha=0.5)
    assert ids(fused) == ["a", "b"]
    a = fused[0]
    assert a.scores == (0.95, 2.0) and a.ranks == (1, 1) and a.score == pytest.approx(1.0)


def test_weighted_ties_are_deterministic():
    # a and b tie on the fused score; the first list's rank breaks it, whatever the input order.
    first = weighted({"a": 1.0, "b": 0.0}, {"b": 1.0, "a": 0.0}, alpha=0.5)
    second = weighted({"b": 0.0, "a": 1.0}, {"a": 0.0, "b": 1.0}, alpha=0.5)
    assert ids(first) == ids(second) == ["a", "b"]


def test_bad_candidates_are_named():
    with pytest.raises(ValueError, match="candidate list 1: score of 'x' is nan"):
        weighted({"a": 1.0}, {"x": math.nan})
    with pytest.raises(TypeError, match=r"candidate list 0: expected \(id, score\) pairs"):
        rrf([["a", "b"]])
    with pytest.raises(TypeError, match=r"candidate list 1: .* numeric score, got 'xy'"):
        rrf([{"a": 1.0}, ["xy"]])


# ---- RRF ------------------------------------------------------------------------------------
def test_rrf_hand_computed():
    fused = rrf([{"a": 0.9, "b": 0.8}, {"b": 7.0, "c": 3.0}], k=60)
    scores = {h.id: h.score for h in fused}
    assert scores["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert scores["a"] == pytest.approx(1 / 61)
    assert scores["c"] == pytest.approx(1 / 62)
    assert ids(fused) == ["b", "a", "c"]


def test_rrf_weights_are_honoured():
    dense, sparse = {"a": 0.9, "b": 0.1}, {"b": 5.0, "a": 1.0}
    assert ids(rrf([dense, sparse], weights=[2.0, 1.0])) == ["a", "b"]
    assert ids(rrf([dense, sparse], weights=[1.0, 2.0])) == ["b", "a"]
    zero = rrf([dense, {"z": 3.0}], weights=[1.0, 0.0])
    assert [h.score for h in zero if h.id == "z"] == [0.0]
    with pytest.raises(ValueError, match="2 weights for 3 candidate lists"):
        rrf([dense, sparse, {}], weights=[1.0, 1.0])
    with pytest.raises(ValueError, match=">= 0"):
        rrf([dense], weights=[-1.0])


def test_rrf_tie_goes_to_the_first_list_and_duplicates_count_once():
    fused = rrf([[("a", 1.0), ("a", 0.5)], [("b", 1.0)]])
    assert ids(fused) == ["a", "b"]
    assert fused[0].score == fused[1].score == pytest.approx(1 / 61)


# ---- auto alpha -----------------------------------------------------------------------------
def alpha_for(query, parts_index, policy=None):
    index, tokenizer = parts_index
    tokens = tokenizer(query)
    return auto_alpha(tokens, index.idf(tokens), len(index), policy)


def test_auto_alpha_orders_queries_by_lexical_signal(parts_index):
    policy = AutoAlpha()
    code = alpha_for("NMB-4017", parts_index)
    name = alpha_for("Kessler gauge", parts_index)
    common = alpha_for("how to replace a spindle motor", parts_index)
    assert code == pytest.approx(policy.lexical_alpha, abs=0.02)  # a code in one document
    # a rare word counts with word_weight: halfway between the bounds
    assert name == pytest.approx((policy.dense_alpha + policy.lexical_alpha) / 2, abs=0.02)
    assert name < common <= policy.dense_alpha
    assert common > policy.dense_alpha - 0.1


def test_auto_alpha_ignores_tokens_the_corpus_lacks(parts_index):
    policy = AutoAlpha()
    assert alpha_for("zebra quokka XJ-9000", parts_index) == policy.dense_alpha
    assert alpha_for("", parts_index) == policy.dense_alpha


def test_auto_alpha_policy_bounds_and_input_check(parts_index):
    policy = AutoAlpha(dense_alpha=0.9, lexical_alpha=0.4, word_weight=0.0)
    assert alpha_for("NMB-4017", parts_index, policy) == pytest.approx(0.4, abs=0.02)
    assert alpha_for("Kessler gauge", parts_index, policy) == 0.9  # words ignored
    with pytest.raises(ValueError, match="one idf per token"):
        auto_alpha(["a", "b"], np.array([1.0]), 10)


def test_weighted_top_matches_weighted_on_random_lists_with_ties_and_duplicates():
    from embedkit.retrieval.fusion import weighted_top

    rng = np.random.default_rng(7)
    for trial in range(200):
        n_dense, n_sparse = rng.integers(0, 30, size=2)
        dense = [(int(rng.integers(0, 40)), float(rng.choice([0.5, 0.25, rng.normal()])))
                 for _ in range(n_dense)]
        sparse = [(int(rng.integers(0, 40)), float(rng.choice([0.0, 2.0, rng.gamma(2.0)])))
                  for _ in range(n_sparse)]
        alpha = float(rng.choice([0.0, 0.3, 0.8, 1.0]))
        floors = (None, 0.0) if trial % 2 else (None, None)
        slow = weighted(dense, sparse, alpha, floors=floors)
        fast = weighted_top(dense, sparse, alpha, floors=floors)
        assert fast == slow, trial
        assert weighted_top(dense, sparse, alpha, floors=floors, limit=3) == slow[:3]
    with pytest.raises(ValueError, match="candidate list 1: score of 4 is nan"):
        weighted_top([(1, 0.5)], [(4, math.nan)], 0.5)
