"""`Budget`: exact, thread-safe reserve/commit/release; its hook in `Embedder`."""

from __future__ import annotations

import logging
import threading
from decimal import Decimal

import pytest

from embedkit import Embedder
from embedkit.cost.budget import Budget
from embedkit.errors import BudgetExceeded


def test_reserve_commit_release_arithmetic_is_exact():
    budget = Budget(max_usd=0.3)
    holds = [budget.reserve(0.1) for _ in range(3)]  # 0.1 + 0.1 + 0.1 > 0.3 in floats
    assert budget.remaining == 0.0 and budget.reserved == pytest.approx(0.3)
    with pytest.raises(BudgetExceeded) as info:
        budget.reserve(0.000001, what="embedding 1 document text(s)")
    assert info.value.needed == pytest.approx(1e-6) and info.value.remaining == 0.0
    assert "embedding 1 document text(s)" in str(info.value) and "not made" in str(info.value)
    holds[0].commit()          # billed as estimated
    holds[1].commit(0.05)      # billed less
    holds[2].release()         # not billed
    assert budget.spent == pytest.approx(0.15) and budget.reserved == 0
    assert budget.remaining == pytest.approx(0.15)
    assert budget.snapshot()["calls"] == 2 and budget.refused == 1


def test_settling_twice_counts_once():
    budget = Budget(1)
    hold = budget.reserve(0.4)
    hold.commit()
    hold.commit()
    hold.release()
    assert budget.spent == pytest.approx(0.4) and budget.reserved == 0


def test_zero_budget_allows_free_calls_only():
    budget = Budget(0)
    budget.reserve(0).commit()
    assert not budget.can_afford(Decimal("1e-12"))
    with pytest.raises(BudgetExceeded):
        budget.reserve(Decimal("1e-12"))


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf")])
def test_bad_cap(bad):
    with pytest.raises(ValueError, match="max_usd"):
        Budget(bad)


def test_threads_never_cross_the_cap():
    budget = Budget(max_usd=1.0)
    granted = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(400):
            try:
                hold = budget.reserve(0.001)
            except BudgetExceeded:
                continue
            hold.commit()
            with lock:
                granted.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 1000          # exactly the cap, 3200 asked
    assert budget.spent == 1.0 and budget.refused == 2200


def test_billing_above_the_estimate_is_recorded_and_logged(caplog):
    budget = Budget(1)
    with caplog.at_level(logging.WARNING, logger="embedkit.cost.budget"):
        budget.reserve(0.1).commit(0.2)
    assert budget.spent == pytest.approx(0.2)
    assert "above its estimate" in caplog.text


def test_embedder_rejects_a_budget_it_cannot_price_or_a_wrong_type(bundled_model_dir):
    with pytest.raises(TypeError, match="Budget"):
        Embedder(cache=False, budget=5.0)
    local = Embedder(cache=False, budget=Budget(0))  # free: a zero budget never blocks it
    assert local.embed_documents(["free text"]).shape == (1, 384)
    assert local.budget.spent == 0 and local.budget.refused == 0


def test_estimate_sends_nothing_and_counts_only_misses(embedder):
    texts = ["alpha beta", "gamma", "alpha beta"]
    before = embedder.estimate(texts)
    assert before.texts == 2 and before.uncached == (0, 1) and before.cached_tokens == 0
    assert embedder.stats.texts == 0  # no side effect
    embedder.embed_documents(["gamma"])
    after = embedder.estimate(texts)
    assert after.uncached == (0,)
    assert after.tokens + after.cached_tokens == before.tokens
    assert embedder.estimate(["gamma"], "query").uncached == (0,)  # roles are separate
    with pytest.raises(ValueError, match="role"):
        embedder.estimate(["x"], "passage")
