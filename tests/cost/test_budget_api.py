"""The budget in front of real SDK calls: the fake server counts what was actually sent."""

from __future__ import annotations

import pytest

from embedkit.cost.budget import Budget
from embedkit.cost import dollars_for
from embedkit.errors import BudgetExceeded, ProviderError
from tests.fakeapi import cohere_token_count, openai_token_count

SMALL_PRICE = 0.02
TEXTS = [f"document number {i} about router firmware and VPN tunnels" for i in range(8)]


def cost_of(texts: list[str], price: float = SMALL_PRICE):
    return dollars_for(sum(openai_token_count(t) for t in texts), price)


def test_the_call_that_would_cross_is_never_sent(api_embedder, fake_api):
    # Four requests of two texts; the budget covers exactly three of them.
    budget = Budget(max_usd=cost_of(TEXTS[:6]))
    emb = api_embedder(batch_size=2, max_concurrency=1, budget=budget)
    with pytest.raises(BudgetExceeded, match="was not made") as info:
        emb.embed_documents(TEXTS)
    assert [r.texts for r in fake_api.requests] == [TEXTS[0:2], TEXTS[2:4], TEXTS[4:6]]
    assert budget.spent == float(cost_of(TEXTS[:6]))  # exactly, never above
    assert budget.remaining == 0 and budget.refused == 1
    assert info.value.needed == pytest.approx(float(cost_of(TEXTS[6:])))
    assert emb.stats.dollars == pytest.approx(budget.spent)

    # What was paid for is cached: a bigger budget pays only for the refused batch.
    fake_api.reset()
    emb.budget = Budget(max_usd=1.0)
    emb.embed_documents(TEXTS)
    assert [r.texts for r in fake_api.requests] == [TEXTS[6:8]]
    assert emb.budget.spent == float(cost_of(TEXTS[6:]))


def test_concurrent_batches_never_cross(api_embedder, fake_api):
    fake_api.latency = 0.02  # keep several requests in flight at once
    texts = [f"same length text {i:03d}" for i in range(24)]
    per_text = cost_of(texts[:1])
    assert all(cost_of([t]) == per_text for t in texts)
    budget = Budget(max_usd=per_text * 7 + per_text / 2)  # 7.5 texts' worth
    emb = api_embedder(batch_size=1, max_concurrency=6, budget=budget)
    with pytest.raises(BudgetExceeded):
        emb.embed_documents(texts)
    assert len(fake_api.requests) == 7
    assert fake_api.max_in_flight > 1
    assert budget.spent == float(per_text * 7) and budget.spent <= budget.max_usd


def test_a_failed_call_gives_its_reservation_back(api_embedder, fake_api):
    budget = Budget(max_usd=1.0)
    emb = api_embedder(budget=budget)
    fake_api.fail_on("poison", status=400)
    with pytest.raises(ProviderError):
        emb.embed_documents(["a poison text"])
    assert budget.spent == 0 and budget.reserved == 0 and budget.remaining == 1.0


def test_one_budget_shared_by_two_embedders(api_embedder, fake_api, tmp_path):
    budget = Budget(max_usd=cost_of(TEXTS[:2]) + cost_of(TEXTS[2:4], 0.13))
    small = api_embedder(budget=budget, cache_dir=tmp_path / "a")
    large = api_embedder("openai:text-embedding-3-large", budget=budget,
                         cache_dir=tmp_path / "b")
    small.embed_documents(TEXTS[:2])
    large.embed_documents(TEXTS[2:4])
    with pytest.raises(BudgetExceeded):
        small.embed_documents(TEXTS[4:5])
    assert len(fake_api.requests) == 2 and budget.remaining == 0


def test_cohere_commits_what_it_billed(api_embedder, fake_api):
    budget = Budget(max_usd=1.0)
    emb = api_embedder("cohere:embed-english-v3.0", budget=budget)
    emb.embed_documents(TEXTS[:3])
    billed = sum(cohere_token_count(t) for t in TEXTS[:3])  # the fake bills words
    assert fake_api.requests[0].tokens == billed
    assert budget.spent == float(dollars_for(billed, 0.10))
    assert budget.reserved == 0
