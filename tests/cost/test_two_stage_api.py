"""Two-stage retrieval against the local fake OpenAI/Cohere server, with the real SDKs.

What the server received is the ground truth: which texts were paid for, how many calls the
budget let through, which queries escalated. Premium vectors are predicted independently with
`expected_vector`, so any score computed from a local-model vector would show.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

from embedkit.cost.budget import Budget
from embedkit.cli.app import build_app
from embedkit.cost import dollars_for
from embedkit.cost.ledger import CostTracker, summarize
from embedkit.retrieval.two_stage import (
    BudgetWarning, Stage2Warning, TwoStageRetriever, stage1_margin,
)
from tests.fakeapi import expected_vector, openai_token_count

SMALL = "text-embedding-3-small"
PRICE = 0.02
DIM = 256  # the local stage-1 model has 384: a mixed product could not even be computed


@pytest.fixture
def premium(api_embedder):
    return api_embedder(f"openai:{SMALL}", dimensions=DIM)


def texts_of(hits) -> list[str]:
    return [h.text for h in hits]


def cost(texts: list[str]) -> float:
    return float(dollars_for(sum(openai_token_count(t) for t in texts), PRICE))


def expected_scores(query: str, texts: list[str], model: str = SMALL, dim: int = DIM,
                    query_type: str | None = None, doc_type: str | None = None) -> np.ndarray:
    q = expected_vector(model, query, dim, input_type=query_type)
    return np.array([expected_vector(model, t, dim, input_type=doc_type) @ q for t in texts])


# ------------------------------------------------------------------ what is sent and paid
def test_stage2_sends_exactly_the_query_and_the_uncached_candidates(local_index, premium,
                                                                    fake_api, demo_queries):
    query = demo_queries[0]
    candidates = texts_of(local_index.search(query, k=6))
    premium.embed_documents(candidates[1:3])  # two candidates were paid for earlier
    fake_api.reset()

    retriever = TwoStageRetriever(local_index, premium, policy="always", top_n=6)
    result = retriever.retrieve(query, k=6)

    uncached = [candidates[0], *candidates[3:]]
    assert [r.texts for r in fake_api.requests] == [[query], uncached]
    assert result.documents_sent == 4
    assert result.dollars == pytest.approx(cost([query, *uncached]))
    assert result.dollars_saved == pytest.approx(cost(candidates[1:3]))
    # Ranked by premium query x premium documents, exactly as the server's vectors say.
    expected = expected_scores(query, candidates)
    assert texts_of(result.hits) == [candidates[i] for i in np.argsort(-expected, kind="stable")]
    np.testing.assert_allclose([h.premium_score for h in result.hits], np.sort(expected)[::-1],
                               atol=1e-5)


def test_a_second_query_pays_only_for_new_candidates(local_index, premium, fake_api,
                                                     demo_queries):
    first, second = _overlapping_pair(local_index, demo_queries, top_n=8)
    retriever = TwoStageRetriever(local_index, premium, policy="always", top_n=8)
    retriever.retrieve(first, k=8)
    fake_api.reset()

    result = retriever.retrieve(second, k=8)

    seen = set(texts_of(local_index.search(first, k=8)))
    candidates = texts_of(local_index.search(second, k=8))
    new = [t for t in candidates if t not in seen]
    assert [r.texts for r in fake_api.requests] == [[second], new]
    assert result.documents_sent == len(new) < len(candidates)
    assert result.dollars == pytest.approx(cost([second, *new]))
    # Every document ever paid for once: the ledger of the server has no repeats.
    assert retriever.stats.corpus_paid == len(seen | set(candidates))


def _overlapping_pair(index, queries, top_n):
    """Two queries whose candidate lists share some documents, but not all."""
    lists = [(q, {h.id for h in index.search(q, k=top_n)}) for q in queries[:16]]
    for i, (q1, a) in enumerate(lists):
        for q2, b in lists[i + 1:]:
            if a & b and b - a:
                return q1, q2
    pytest.skip("no overlapping query pair in the demo slice")


# ------------------------------------------------------------------ budget
def test_budget_stops_calls_before_crossing_and_degrades_to_stage1(local_index, premium,
                                                                   fake_api, demo_queries):
    queries = _disjoint_queries(local_index, demo_queries, count=3, top_n=5)
    first_cost = cost([queries[0], *texts_of(local_index.search(queries[0], k=5))])
    budget = Budget(max_usd=first_cost * 1.5)  # the first stage 2, not a second
    retriever = TwoStageRetriever(local_index, premium, policy="always", top_n=5,
                                  budget=budget)
    assert premium.budget is budget

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = [retriever.retrieve(q, k=5) for q in queries]  # no exception

    assert [r.outcome for r in results] == ["reranked", "skipped_budget", "skipped_budget"]
    assert len(fake_api.requests) == 2  # query + candidates of the first one, nothing after
    assert budget.spent == pytest.approx(first_cost) and budget.spent <= budget.max_usd
    budget_warnings = [w for w in caught if issubclass(w.category, BudgetWarning)]
    assert len(budget_warnings) == 1 and "budget" in str(budget_warnings[0].message)
    for query, result in zip(queries[1:], results[1:]):
        stage1 = local_index.search(query, k=5)
        assert [h.id for h in result.hits] == [h.id for h in stage1]
        assert [h.score for h in result.hits] == [h.score for h in stage1]
    stats = retriever.stats
    assert (stats.escalated, stats.skipped_budget) == (1, 2)
    # Cached candidates stay free: the first query again costs nothing and still re-ranks.
    again = retriever.retrieve(queries[0], k=5)
    assert again.outcome == "reranked" and again.dollars == 0 and len(fake_api.requests) == 2


def test_the_embedder_guard_holds_even_if_the_precheck_is_fooled(local_index, premium,
                                                                 fake_api, demo_queries):
    class OptimisticBudget(Budget):
        """Says yes to every question; only `reserve`, inside the Embedder, tells the truth."""

        def can_afford(self, usd):
            return True

    budget = OptimisticBudget(max_usd=0)
    retriever = TwoStageRetriever(local_index, premium, policy="always", budget=budget)
    with pytest.warns(BudgetWarning):
        result = retriever.retrieve(demo_queries[0], k=5)
    assert result.outcome == "skipped_budget" and fake_api.requests == []
    assert budget.spent == 0 and budget.refused == 1


def _disjoint_queries(index, queries, count, top_n):
    chosen, used = [], set()
    for q in queries:
        ids = {h.id for h in index.search(q, k=top_n)}
        if not ids & used:
            chosen.append(q)
            used |= ids
        if len(chosen) == count:
            return chosen
    pytest.skip("not enough queries with disjoint candidates")


# ------------------------------------------------------------------ escalation policy
def test_uncertain_escalates_exactly_the_queries_under_the_threshold(local_index, premium,
                                                                     fake_api, demo_queries):
    queries = demo_queries[:12]
    margins = {q: stage1_margin(local_index.search(q, k=5)) for q in queries}
    threshold = float(np.median(list(margins.values())))
    retriever = TwoStageRetriever(local_index, premium, policy="uncertain", margin=threshold,
                                  top_n=5)

    results = {q: retriever.retrieve(q, k=5) for q in queries}

    under = [q for q in queries if margins[q] < threshold]
    assert 0 < len(under) < len(queries)
    assert [q for q in queries if results[q].escalated] == under
    sent_queries = [r.texts[0] for r in fake_api.requests if r.texts[0] in margins]
    assert sent_queries == under  # the server saw exactly those queries, once each
    assert retriever.stats.escalated == len(under)
    assert all(results[q].margin == pytest.approx(margins[q]) for q in queries)


def test_forcing_per_query(local_index, premium, fake_api, demo_queries):
    retriever = TwoStageRetriever(local_index, premium, policy="never")
    assert not retriever.retrieve(demo_queries[0], k=5).escalated and fake_api.requests == []
    assert retriever.retrieve(demo_queries[0], k=5, escalate=True).escalated
    assert fake_api.requests[0].texts == [demo_queries[0]]


# ------------------------------------------------------------------ vector spaces never mix
def test_cohere_premium_scores_only_its_own_query_and_document_vectors(local_index, fake_api,
                                                                       api_embedder,
                                                                       demo_queries):
    premium = api_embedder("cohere:embed-english-v3.0")  # 1024 dims vs the local 384
    query = demo_queries[3]
    retriever = TwoStageRetriever(local_index, premium, policy="always", top_n=6)
    result = retriever.retrieve(query, k=6)
    candidates = texts_of(local_index.search(query, k=6))
    query_request, doc_request = fake_api.requests
    assert query_request.body["input_type"] == "search_query"
    assert doc_request.body["input_type"] == "search_document"
    expected = expected_scores(query, candidates, "embed-english-v3.0", 1024,
                               "search_query", "search_document")
    by_text = dict(zip(candidates, expected))
    for hit in result.hits:
        assert hit.premium_score == pytest.approx(by_text[hit.text], abs=1e-5)
        assert hit.premium_score != pytest.approx(hit.dense_score, abs=1e-3)


def test_api_failure_degrades_to_stage1_with_a_warning(local_index, premium, fake_api,
                                                       demo_queries):
    fake_api.inject("status", times=None, status=500)
    retriever = TwoStageRetriever(local_index, premium, policy="always", top_n=5)
    with pytest.warns(Stage2Warning, match="stage 2 failed"):
        result = retriever.retrieve(demo_queries[0], k=5)
    assert result.outcome == "failed"
    assert [h.id for h in result.hits] == [h.id for h in local_index.search(demo_queries[0], k=5)]
    assert retriever.stats.failed == 1 and "sk-test" not in result.why


async def test_async_against_the_server(local_index, premium, fake_api, demo_queries):
    retriever = TwoStageRetriever(local_index, premium, policy="always", top_n=5)
    result = await retriever.aretrieve(demo_queries[1], k=5)
    candidates = texts_of(local_index.search(demo_queries[1], k=5))
    assert sorted(map(tuple, (r.texts for r in fake_api.requests))) == sorted(
        [(demo_queries[1],), tuple(candidates)])
    expected = expected_scores(demo_queries[1], candidates)
    assert texts_of(result.hits) == [candidates[i] for i in np.argsort(-expected, kind="stable")]


# ------------------------------------------------------------------ reporting
def test_reading_stats_writes_nothing_record_stats_writes_one_corpus_record(local_index,
                                                                            premium, fake_api):
    retriever = TwoStageRetriever(local_index, premium, policy="never", ledger=None)
    assert retriever.stats == retriever.stats
    assert retriever.tracker.events == []
    recorded = retriever.record_stats()
    assert [event["kind"] for event in retriever.tracker.events] == ["corpus"]
    assert recorded == retriever.stats


def test_stats_ledger_and_cost_report(local_index, premium, fake_api, demo_queries, demo_docs):
    budget = Budget(max_usd=1.0)
    retriever = TwoStageRetriever(local_index, premium, policy="always", top_n=5,
                                  budget=budget, name="support-search")
    results = [retriever.retrieve(q, k=5) for q in demo_queries[:4]]
    stats = retriever.record_stats()

    paid = {h.text for q in demo_queries[:4] for h in local_index.search(q, k=5)}
    all_texts = [text for _, text in demo_docs]
    assert stats.queries == 4 and stats.escalated == 4
    assert stats.corpus_documents == len(all_texts) and stats.corpus_paid == len(paid)
    assert stats.paid_share == pytest.approx(len(paid) / len(all_texts))
    assert stats.full_corpus_dollars == pytest.approx(cost(list(dict.fromkeys(all_texts))))
    assert stats.dollars == pytest.approx(sum(r.dollars for r in results))
    assert stats.dollars == pytest.approx(budget.spent) == pytest.approx(premium.stats.dollars)
    assert stats.dollars_saved == pytest.approx(sum(r.dollars_saved for r in results))
    assert stats.documents_sent == len(paid)
    billed = sum(r.tokens for r in fake_api.requests)
    assert stats.tokens == billed

    ledger = premium.cache.directory / "cost-ledger.jsonl"
    summary, = summarize(CostTracker.read(ledger))
    assert (summary.source, summary.queries, summary.escalated) == ("support-search", 4, 4)
    assert summary.dollars == pytest.approx(stats.dollars)
    assert summary.corpus["paid"] == len(paid)

    runner = CliRunner()
    out = runner.invoke(build_app(), ["cost", "report", "--cache-dir",
                                      str(premium.cache.directory), "--json"])
    assert out.exit_code == 0, out.output
    row = json.loads(out.output)
    assert row["dollars"] == pytest.approx(stats.dollars)
    assert row["corpus"]["full_corpus_dollars"] == pytest.approx(stats.full_corpus_dollars)
    assert row["budget"]["spent"] == pytest.approx(budget.spent)
    text = runner.invoke(build_app(), ["cost", "report", "--cache-dir",
                                       str(premium.cache.directory)])
    assert text.exit_code == 0
    assert f"{len(paid)} of {len(all_texts)} documents" in text.output
    assert f"${stats.full_corpus_dollars:.6f}" in text.output
