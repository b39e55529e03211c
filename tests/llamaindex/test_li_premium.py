"""`EmbedKitHybridRetriever.from_defaults(premium=...)`: the engine's two-stage re-ranking
through LlamaIndex, against the local fake OpenAI server (real SDK, real llama-index objects).

What the server received is the ground truth; premium scores are predicted independently with
`expected_vector`, so a score made from a local-model vector would show.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from llama_index.core.schema import MetadataMode, TextNode
from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters

from embedkit import Budget
from embedkit.retrieval.two_stage import BudgetWarning
from tests.fakeapi import expected_vector

SMALL = "text-embedding-3-small"
DIM = 256
TOP_N = 4
QUERY = "I forgot my password and cannot log in"
OTHER = "when do refunds arrive"


@pytest.fixture
def premium(fake_api, tmp_path):  # noqa: F811
    from llamaindex_embedkit import EmbedKitEmbedding

    return EmbedKitEmbedding(model=f"openai:{SMALL}", dimensions=DIM, api_key="sk-test-li",
                             base_url=fake_api.openai_base_url,
                             cache_dir=str(tmp_path / "premium-cache"))


@pytest.fixture
def nodes(support_docs):
    group = {"password": "it", "wifi": "it", "printer": "it"}
    return [TextNode(id_=key, text=text, metadata={"team": group.get(key, "office")})
            for key, text in support_docs.items()]


def build(nodes, embed_model, **kwargs):
    from llamaindex_embedkit import EmbedKitHybridRetriever

    return EmbedKitHybridRetriever.from_defaults(nodes=nodes, embed_model=embed_model,
                                                 similarity_top_k=TOP_N, **kwargs)


def stage1(retriever, query: str, nodes) -> list[str]:
    """The hybrid ranking's texts (as the index holds them) from the same index, no premium."""
    from llamaindex_embedkit import EmbedKitHybridRetriever

    plain = EmbedKitHybridRetriever(retriever.hybrid_index, nodes, similarity_top_k=TOP_N,
                                    filters=retriever._filters)
    return [text_of(r) for r in plain.retrieve(query)]


def text_of(result) -> str:
    return result.node.get_content(metadata_mode=MetadataMode.EMBED)


def premium_scores(query: str, texts: list[str]) -> np.ndarray:
    q = expected_vector(SMALL, query, DIM)
    return np.array([expected_vector(SMALL, t, DIM) @ q for t in texts])


def test_always_sends_the_query_and_top_n_and_returns_premium_scores(nodes, embed_model,
                                                                     premium, fake_api):
    retriever = build(nodes, embed_model, premium=premium, premium_policy="always",
                      premium_top_n=TOP_N)
    candidates = stage1(retriever, QUERY, nodes)
    fake_api.reset()

    results = retriever.retrieve(QUERY)

    assert [r.texts for r in fake_api.requests] == [[QUERY], candidates]
    expected = premium_scores(QUERY, candidates)
    order = np.argsort(-expected, kind="stable")
    assert [text_of(r) for r in results] == [candidates[i] for i in order]
    np.testing.assert_allclose([r.score for r in results], expected[order], atol=1e-5)
    for rank, result in enumerate(results, 1):
        meta = result.node.metadata
        assert meta["premium_rank"] == rank
        assert meta["premium_score"] == pytest.approx(result.score)
        assert candidates[meta["stage1_rank"] - 1] == text_of(result)
        # Scores stay out of what the LLM sees.
        assert "premium_score" not in result.node.get_content(metadata_mode=MetadataMode.LLM)

    fake_api.reset()
    again = retriever.retrieve(QUERY)  # query and candidates are cached: free
    assert fake_api.requests == []
    assert [r.node.node_id for r in again] == [r.node.node_id for r in results]


async def test_async_path_reranks_with_filters(nodes, embed_model, premium, fake_api):
    filters = MetadataFilters(filters=[MetadataFilter(key="team", value="it")])
    retriever = build(nodes, embed_model, premium=premium, premium_policy="always",
                      premium_top_n=TOP_N, filters=filters)
    candidates = stage1(retriever, QUERY, nodes)
    fake_api.reset()

    results = await retriever.aretrieve(QUERY)

    assert {r.node.metadata["team"] for r in results} == {"it"}
    sent = sorted(text for r in fake_api.requests for text in r.texts)
    assert sent == sorted([QUERY, *candidates])
    expected = premium_scores(QUERY, candidates)
    assert [text_of(r) for r in results] == [candidates[i] for i in
                                             np.argsort(-expected, kind="stable")]


def test_too_small_budget_sends_nothing_and_warns_once(nodes, embed_model, premium, fake_api):
    budget = Budget(max_usd=1e-9)
    retriever = build(nodes, embed_model, premium=premium, premium_policy="always",
                      premium_top_n=TOP_N, budget=budget)
    expected = {q: stage1(retriever, q, nodes) for q in (QUERY, OTHER)}
    fake_api.reset()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = {q: retriever.retrieve(q) for q in expected}

    assert fake_api.requests == [] and budget.spent == 0
    assert len([w for w in caught if issubclass(w.category, BudgetWarning)]) == 1
    for query, found in results.items():
        assert [text_of(r) for r in found] == expected[query]
        assert all(r.node.metadata["premium_score"] is None for r in found)
    assert retriever.two_stage.stats.skipped_budget == 2


def test_never_sends_nothing(nodes, embed_model, premium, fake_api):
    retriever = build(nodes, embed_model, premium=premium, premium_policy="never")
    candidates = stage1(retriever, QUERY, nodes)
    fake_api.reset()

    results = retriever.retrieve(QUERY)

    assert fake_api.requests == []
    assert [text_of(r) for r in results] == candidates
    assert all(r.node.metadata["premium_rank"] is None for r in results)


def test_premium_is_passed_again_at_load(nodes, embed_model, premium, fake_api, tmp_path):
    from llamaindex_embedkit import EmbedKitHybridRetriever

    build(nodes, embed_model, premium=premium).persist(tmp_path / "saved")
    assert EmbedKitHybridRetriever.from_persist_dir(tmp_path / "saved",
                                                    embed_model).two_stage is None
    loaded = EmbedKitHybridRetriever.from_persist_dir(
        tmp_path / "saved", embed_model, premium=premium, premium_policy="always",
        premium_top_n=2)
    fake_api.reset()
    results = loaded.retrieve(QUERY)
    assert [len(r.texts) for r in fake_api.requests] == [1, 2]
    assert [r.node.metadata["premium_rank"] for r in results[:2]] == [1, 2]
    with pytest.raises(TypeError, match="premium must be an EmbedKitEmbedding"):
        build(nodes, embed_model, premium=object())
