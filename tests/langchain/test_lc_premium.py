"""`EmbedKitHybridRetriever(premium=...)`: the engine's two-stage re-ranking through LangChain,
against the local fake OpenAI server (real SDK, real LangChain objects, the bundled model).

What the server received is the ground truth; premium scores are predicted independently with
`expected_vector`, so a score made from a local-model vector would show.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from lc_corpus import KEYWORD_QUERY, PARAPHRASE_QUERY

from embedkit import Budget
from embedkit.atomic_dir import current_version
from embedkit.retrieval.two_stage import BudgetWarning
from tests.fakeapi import expected_vector

SMALL = "text-embedding-3-small"
DIM = 256
TOP_N = 5
PREMIUM_KEYS = ("premium_score", "premium_rank", "stage1_score", "stage1_rank")


@pytest.fixture
def premium(fake_api, tmp_path):  # noqa: F811
    from langchain_embedkit import EmbedKitEmbeddings

    return EmbedKitEmbeddings(model=f"openai:{SMALL}", dimensions=DIM, api_key="sk-test-lc",
                              base_url=fake_api.openai_base_url,
                              cache_dir=tmp_path / "premium-cache")


def build(support_docs, lc_embeddings, **kwargs):
    from langchain_embedkit import EmbedKitHybridRetriever

    return EmbedKitHybridRetriever.from_documents(support_docs, embeddings=lc_embeddings,
                                                  k=TOP_N, **kwargs)


def stage1_texts(retriever, query: str) -> list[str]:
    """The hybrid ranking, from a retriever over the same index without a premium model."""
    from langchain_embedkit import EmbedKitHybridRetriever

    plain = EmbedKitHybridRetriever(index=retriever.index, k=TOP_N)
    return [d.page_content for d in plain.invoke(query)]


def premium_scores(query: str, texts: list[str]) -> np.ndarray:
    q = expected_vector(SMALL, query, DIM)
    return np.array([expected_vector(SMALL, t, DIM) @ q for t in texts])


def test_always_sends_the_query_and_top_n_and_returns_premium_scores(
        support_docs, lc_embeddings, premium, fake_api):
    retriever = build(support_docs, lc_embeddings, premium=premium, premium_policy="always",
                      premium_top_n=TOP_N)
    candidates = stage1_texts(retriever, KEYWORD_QUERY)
    fake_api.reset()

    docs = retriever.invoke(KEYWORD_QUERY)

    assert [r.texts for r in fake_api.requests] == [[KEYWORD_QUERY], candidates]
    expected = premium_scores(KEYWORD_QUERY, candidates)
    order = np.argsort(-expected, kind="stable")
    assert [d.page_content for d in docs] == [candidates[i] for i in order]
    for rank, doc in enumerate(docs, 1):
        assert doc.metadata["premium_rank"] == rank
        assert doc.metadata["premium_score"] == pytest.approx(doc.metadata["score"])
        stage1_rank = doc.metadata["stage1_rank"]
        assert candidates[stage1_rank - 1] == doc.page_content
        assert {"dense_score", "bm25_score", "stage1_score"} <= set(doc.metadata)
    np.testing.assert_allclose([d.metadata["premium_score"] for d in docs],
                               expected[order], atol=1e-5)

    fake_api.reset()
    again = retriever.invoke(KEYWORD_QUERY)  # query and candidates are cached: free
    assert fake_api.requests == []
    assert [d.id for d in again] == [d.id for d in docs]
    assert retriever.two_stage.stats.escalated == 2


async def test_async_path_reranks_and_filter_is_passed_through(
        support_docs, lc_embeddings, premium, fake_api):
    retriever = build(support_docs, lc_embeddings, premium=premium, premium_policy="always",
                      premium_top_n=TOP_N, filter={"topic": "printer"})
    plain = [d.page_content for d in build(support_docs, lc_embeddings,
                                           filter={"topic": "printer"}).invoke(KEYWORD_QUERY)]
    fake_api.reset()

    docs = await retriever.ainvoke(KEYWORD_QUERY)

    assert {d.metadata["topic"] for d in docs} == {"printer"}
    sent = sorted(text for r in fake_api.requests for text in r.texts)
    assert sent == sorted([KEYWORD_QUERY, *plain])
    expected = premium_scores(KEYWORD_QUERY, plain)
    assert [d.page_content for d in docs] == [plain[i] for i in np.argsort(-expected,
                                                                            kind="stable")]


def test_too_small_budget_sends_nothing_and_warns_once(support_docs, lc_embeddings, premium,
                                                       fake_api):
    budget = Budget(max_usd=1e-9)
    retriever = build(support_docs, lc_embeddings, premium=premium, premium_policy="always",
                      premium_top_n=TOP_N, budget=budget)
    expected = {q: stage1_texts(retriever, q) for q in (KEYWORD_QUERY, PARAPHRASE_QUERY)}
    fake_api.reset()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = {q: retriever.invoke(q) for q in expected}

    assert fake_api.requests == [] and budget.spent == 0
    assert len([w for w in caught if issubclass(w.category, BudgetWarning)]) == 1
    for query, docs in results.items():
        assert [d.page_content for d in docs] == expected[query]
        assert all(d.metadata["premium_score"] is None for d in docs)
        assert [d.metadata["stage1_rank"] for d in docs] == list(range(1, len(docs) + 1))
    assert retriever.two_stage.stats.skipped_budget == 2


def test_never_sends_nothing_unless_a_call_forces_it(support_docs, lc_embeddings, premium,
                                                      fake_api):
    retriever = build(support_docs, lc_embeddings, premium=premium, premium_policy="never",
                      premium_top_n=TOP_N)
    candidates = stage1_texts(retriever, PARAPHRASE_QUERY)
    fake_api.reset()

    docs = retriever.invoke(PARAPHRASE_QUERY)
    assert fake_api.requests == []
    assert [d.page_content for d in docs] == candidates
    assert all(d.metadata["premium_rank"] is None for d in docs)

    forced = retriever.invoke(PARAPHRASE_QUERY, escalate=True)
    assert [r.texts for r in fake_api.requests] == [[PARAPHRASE_QUERY], candidates]
    assert all(d.metadata["premium_rank"] is not None for d in forced)


def test_plain_retriever_rejects_premium_only_options(support_docs, lc_embeddings):
    retriever = build(support_docs, lc_embeddings)
    assert retriever.two_stage is None
    with pytest.raises(ValueError, match="escalate=True needs a premium model"):
        retriever.invoke(KEYWORD_QUERY, escalate=True)
    with pytest.raises(ValueError, match="needs premium="):
        build(support_docs, lc_embeddings, budget=Budget(max_usd=1))
    assert not set(PREMIUM_KEYS) & set(retriever.invoke(KEYWORD_QUERY)[0].metadata)


def test_premium_is_not_saved_and_is_passed_at_load(support_docs, lc_embeddings, premium,
                                                    fake_api, tmp_path):
    from langchain_embedkit import EmbedKitHybridRetriever

    build(support_docs, lc_embeddings, premium=premium, premium_policy="always").save(
        tmp_path / "saved")
    manifest = (current_version(tmp_path / "saved") / "manifest.json").read_text()
    assert "premium" not in manifest
    plain = EmbedKitHybridRetriever.load(tmp_path / "saved", lc_embeddings)
    assert plain.two_stage is None
    fake_api.reset()
    loaded = EmbedKitHybridRetriever.load(tmp_path / "saved", lc_embeddings, premium=premium,
                                          premium_policy="always", premium_top_n=3)
    docs = loaded.invoke(KEYWORD_QUERY)
    assert [len(r.texts) for r in fake_api.requests] == [1, 3]
    assert [d.metadata["premium_rank"] for d in docs[:3]] == [1, 2, 3]
