"""`TwoStageRetriever` with a second *local* model as the premium one: ranking logic, policies,
guards. (The API behaviour — requests, payments, budget — is in test_two_stage_api.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from embedkit import Embedder
from embedkit.retrieval.fusion import rrf
from embedkit.retrieval.two_stage import TwoStageHit, TwoStageRetriever, stage1_margin


@pytest.fixture
def premium(prompt_model_dir, tmp_path):
    """Same weights, different prompts ("query: " / "passage: "): another vector space."""
    return Embedder(f"local:{prompt_model_dir}", cache_dir=tmp_path / "premium-cache")


QUERY = "the gateway restarts by itself every couple of hours since we updated it"


def test_never_is_exactly_stage1_and_costs_nothing(local_index, premium):
    retriever = TwoStageRetriever(local_index, premium, policy="never", top_n=10, ledger=None)
    result = retriever.retrieve(QUERY, k=5)
    expected = local_index.search(QUERY, k=10)[:5]
    assert [h.id for h in result.hits] == [h.id for h in expected]
    assert [h.score for h in result.hits] == [h.score for h in expected]
    assert all(isinstance(h, TwoStageHit) and h.premium_score is None for h in result.hits)
    assert [h.stage1_rank for h in result.hits] == [1, 2, 3, 4, 5]
    assert not result.escalated and result.outcome == "stage1"
    assert premium.stats.texts == 0


def test_always_reranks_the_top_n_by_premium_vectors_only(local_index, premium):
    retriever = TwoStageRetriever(local_index, premium, policy="always", top_n=8, ledger=None)
    result = retriever.retrieve(QUERY, k=12)
    stage1 = local_index.search(QUERY, k=12)
    candidates = stage1[:8]
    # Independent premium x premium scores for the candidates.
    query_vector = premium.embed_query(QUERY)
    doc_vectors = premium.embed_documents([h.text for h in candidates])
    expected = doc_vectors @ query_vector
    order = sorted(range(8), key=lambda i: -expected[i])
    assert [h.id for h in result.hits[:8]] == [candidates[i].id for i in order]
    np.testing.assert_allclose([h.premium_score for h in result.hits[:8]],
                               [expected[i] for i in order], atol=1e-6)
    assert [h.premium_rank for h in result.hits[:8]] == list(range(1, 9))
    # Not the stage-1 space: a mixed (local-doc x premium-query) score would differ.
    local_docs = local_index.embedder.embed_documents([h.text for h in candidates])
    mixed = local_docs @ query_vector
    assert not np.allclose(np.sort(mixed), np.sort(expected), atol=1e-3)
    # The tail beyond top_n keeps stage 1's order and scores.
    assert [h.id for h in result.hits[8:]] == [h.id for h in stage1[8:12]]
    assert all(h.premium_score is None for h in result.hits[8:])
    assert [h.stage1_rank for h in result.hits[8:]] == [9, 10, 11, 12]


def test_fused_ranking_is_rrf_of_both_rankings(local_index, premium):
    retriever = TwoStageRetriever(local_index, premium, policy="always", top_n=10,
                                  fuse_with_stage1=True, rrf_k=60, ledger=None)
    hits = retriever.search(QUERY, k=10)
    by_id = {h.id: h for h in hits}
    candidates = local_index.search(QUERY, k=10)
    premium_rank = {h.id: by_id[h.id].premium_rank for h in candidates}
    expected = sorted(
        (h.id for h in candidates),
        key=lambda i: -(1 / (60 + by_id[i].stage1_rank) + 1 / (60 + premium_rank[i])))
    assert [h.id for h in hits] == expected
    assert hits[0].score == pytest.approx(
        1 / (60 + hits[0].stage1_rank) + 1 / (60 + hits[0].premium_rank))
    # Same as the library's own RRF over the two lists.
    fused = rrf([[(h.id, -h.stage1_rank) for h in hits], [(h.id, h.premium_score) for h in hits]])
    assert [f.id for f in fused] == [h.id for h in hits]


def test_k_smaller_than_top_n_returns_the_best_k(local_index, premium):
    retriever = TwoStageRetriever(local_index, premium, policy="always", top_n=10, ledger=None)
    full = retriever.search(QUERY, k=10)
    assert [h.id for h in retriever.search(QUERY, k=3)] == [h.id for h in full[:3]]
    assert retriever.search(QUERY, k=0) == []


def test_force_per_query_overrides_the_policy(local_index, premium):
    never = TwoStageRetriever(local_index, premium, policy="never", top_n=5, ledger=None)
    assert never.retrieve(QUERY, k=5, escalate=True).escalated
    always = TwoStageRetriever(local_index, premium, policy="always", top_n=5, ledger=None)
    forced_off = always.retrieve(QUERY, k=5, escalate=False)
    assert not forced_off.escalated and "forced" in forced_off.why
    assert never.stats.forced == 1 and always.stats.escalated == 0


def test_callable_policy_sees_the_query_and_stage1_hits(local_index, premium):
    seen = []

    def long_queries(query, hits):
        seen.append((query, [h.id for h in hits]))
        return len(query.split()) > 6

    retriever = TwoStageRetriever(local_index, premium, policy=long_queries, top_n=5,
                                  ledger=None)
    assert retriever.retrieve(QUERY, k=5).escalated
    assert not retriever.retrieve("PSU-750R slots", k=5).escalated
    assert seen[0] == (QUERY, [h.id for h in local_index.search(QUERY, k=5)])


def test_uncertain_compares_the_stage1_margin_with_the_threshold(local_index, premium):
    margin = stage1_margin(local_index.search(QUERY, k=5))
    above = TwoStageRetriever(local_index, premium, policy="uncertain", margin=margin + 1e-6,
                              top_n=5, ledger=None)
    at = TwoStageRetriever(local_index, premium, policy="uncertain", margin=margin, top_n=5,
                           ledger=None)
    assert above.retrieve(QUERY, k=5).escalated
    result = at.retrieve(QUERY, k=5)
    assert not result.escalated and result.margin == pytest.approx(margin)


def test_stage1_margin_definition(local_index):
    hits = local_index.search(QUERY, k=3)
    assert stage1_margin(hits) == pytest.approx(hits[0].dense_score - hits[1].dense_score)
    assert stage1_margin(hits[:1]) is None


async def test_async_matches_sync(local_index, premium):
    retriever = TwoStageRetriever(local_index, premium, policy="always", top_n=6, ledger=None)
    sync = retriever.retrieve(QUERY, k=6)
    result = await retriever.aretrieve(QUERY, k=6)
    assert [h.id for h in result.hits] == [h.id for h in sync.hits]
    np.testing.assert_allclose([h.premium_score for h in result.hits],
                               [h.premium_score for h in sync.hits], atol=1e-6)


def test_filter_reaches_stage1(local_index, premium, demo_docs):
    # Metadata-free index: a filter on a missing key leaves nothing to rank.
    retriever = TwoStageRetriever(local_index, premium, policy="always", ledger=None)
    assert retriever.search(QUERY, k=5, filter={"product": "none"}) == []


# ------------------------------------------------------------------ guards
def test_the_same_model_twice_is_refused(local_index, tmp_path):
    same = Embedder(cache_dir=tmp_path / "c")  # the stage-1 model: same fingerprint
    with pytest.raises(ValueError, match="same model as stage 1"):
        TwoStageRetriever(local_index, same)


def test_a_premium_embedder_without_cache_is_refused(local_index, prompt_model_dir):
    with pytest.raises(ValueError, match="no cache"):
        TwoStageRetriever(local_index, Embedder(f"local:{prompt_model_dir}", cache=False))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"top_n": 0}, "top_n"), ({"policy": "sometimes"}, "policy"),
    ({"margin": float("nan")}, "margin"), ({"budget": 3.0}, "Budget"),
])
def test_bad_settings_are_named(local_index, premium, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        TwoStageRetriever(local_index, premium, **kwargs)
