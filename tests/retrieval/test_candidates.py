"""External dense candidates: score kinds become cosines, one entry per id, NaN refused."""

from __future__ import annotations

import math

import numpy as np
import pytest
from embedkit import Budget, DenseCandidates, HybridIndex
from embedkit.retrieval.candidates import SCORE_KINDS, as_similarities
from embedkit.retrieval.searcher import HybridSearcher


def _unit(rng: np.random.Generator, n: int, d: int = 16) -> np.ndarray:
    vectors = rng.normal(size=(n, d))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize("kind, to_score", [
    ("similarity", lambda cos: cos),
    ("cosine_distance", lambda cos: 1 - cos),
    ("l2", lambda cos: math.sqrt(max(2 - 2 * cos, 0.0))),
    ("squared_l2", lambda cos: 2 - 2 * cos),
    ("exp_neg_squared_l2", lambda cos: math.exp(-(2 - 2 * cos))),
    ("exp_neg_cosine_distance", lambda cos: math.exp(-(1 - cos))),
    ("exp_neg_l2", lambda cos: math.exp(-math.sqrt(max(2 - 2 * cos, 0.0)))),
])
def test_every_distance_kind_gives_back_the_cosine(kind, to_score):
    rng = np.random.default_rng(7)
    docs, query = _unit(rng, 20), _unit(rng, 1)[0]
    cosines = docs @ query
    ids = [f"d{i}" for i in range(20)]
    got = dict(DenseCandidates(ids, [to_score(c) for c in cosines], kind).similarities())
    assert [got[i] for i in ids] == pytest.approx(cosines.tolist(), abs=1e-9)
    assert kind in SCORE_KINDS


def test_best_score_per_id_best_first():
    pairs = DenseCandidates(["a", "b", "a"], [0.2, 0.5, 0.9], kind="squared_l2").similarities()
    assert pairs == [("a", 0.9), ("b", 0.75)]
    assert as_similarities([("a", 0.9), ("a", 0.5), ("b", 0.4)]) == [("a", 0.9), ("b", 0.4)]


@pytest.mark.parametrize("bad, error, message", [
    (DenseCandidates(["a", "b"], [0.3, float("nan")]), ValueError,
     r"dense_candidates\[1\] \('b'\): score nan is not finite"),
    (DenseCandidates(["a"], [float("inf")]), ValueError, "not finite"),
    (DenseCandidates(["a"], [None]), TypeError, "score must be a number"),
    (DenseCandidates(["a"], [True]), TypeError, "score must be a number"),
    (DenseCandidates(["a"], [0.0], kind="exp_neg_l2"), ValueError, r"no exp\(-distance\)"),
    ([("a", 0.1, 3)], TypeError, r"dense_candidates\[0\]"),
    ([(7, 0.1)], TypeError, "id must be a str"),
    ("ab", TypeError, "DenseCandidates or"),
    ({"a": 0.1}, TypeError, "DenseCandidates or"),
])
def test_bad_candidates_are_named(bad, error, message):
    with pytest.raises(error, match=message):
        as_similarities(bad)


def test_unknown_kind_and_length_mismatch():
    with pytest.raises(ValueError, match="unknown score kind 'distance'.*squared_l2"):
        DenseCandidates(["a"], [0.1], kind="distance")
    with pytest.raises(ValueError, match="2 ids but 1 scores"):
        DenseCandidates(["a", "b"], [0.1])


@pytest.fixture(scope="module")
def store_index(tmp_path_factory):
    from embedkit import Embedder

    index = HybridIndex(Embedder(cache_dir=tmp_path_factory.mktemp("cand-cache")),
                        store_vectors=False, fusion="dense")
    index.add(["alpha report", "beta report", "gamma notes"], ids=["a", "b", "c"],
              metadatas=[{"team": "x"}, {"team": "y"}, {"team": "x"}])
    return index


def test_search_keeps_each_id_once_and_converts_distances(store_index):
    # Issue 18: [("a", .9), ("a", .5), ("b", .4)] returned "a" twice.
    hits = store_index.search("report", k=5,
                              dense_candidates=[("a", 0.9), ("a", 0.5), ("b", 0.4)])
    assert [h.id for h in hits] == ["a", "b"] and hits[0].dense_score == 0.9
    hits = store_index.search("report", k=5, dense_candidates=DenseCandidates(
        ["b", "a", "zzz"], [0.2, 0.6, 0.1], kind="squared_l2"))
    assert [(h.id, h.dense_score) for h in hits] == [("b", 0.9), ("a", 0.7)]
    with pytest.raises(ValueError, match="not finite"):
        store_index.search("report", dense_candidates=[("a", float("nan"))])


def test_searcher_wires_budget_only_with_premium(store_index):
    with pytest.raises(ValueError, match="needs premium="):
        HybridSearcher(store_index, budget=Budget(max_usd=1))
    searcher = HybridSearcher(store_index)
    assert searcher.two_stage is None
    with pytest.raises(ValueError, match="escalate=True needs a premium model"):
        searcher.search("report", 2, dense_candidates=[("a", 0.9)], escalate=True)
    hits = searcher.search("report", 2, filter={"team": "x"},
                           dense_candidates=[("a", 0.9), ("b", 0.8), ("c", 0.1)])
    assert [h.id for h in hits] == ["a", "c"]
    assert set(hits[0].score_fields()) == {"score", "dense_score", "bm25_score", "dense_rank",
                                           "bm25_rank"}


def test_save_keeps_extra_settings_in_the_same_atomic_save(store_index, tmp_path):
    store_index.save(tmp_path / "saved", extra={"wrapper": {"k": 3, "filter": None}})
    loaded = HybridIndex.load(tmp_path / "saved", store_index.embedder)
    assert loaded.saved_extra == {"wrapper": {"k": 3, "filter": None}}
    with pytest.raises(TypeError, match="JSON-serializable"):
        store_index.save(tmp_path / "other", extra={"bad": object()})
    assert not (tmp_path / "other").exists() or not any((tmp_path / "other").iterdir())
    assert HybridIndex.load(tmp_path / "saved", store_index.embedder).saved_extra
