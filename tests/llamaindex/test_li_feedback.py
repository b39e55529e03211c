"""``feedback`` passed through the LlamaIndex `EmbedKitHybridRetriever`."""

from __future__ import annotations

import pytest
from llama_index.core.schema import TextNode
from llamaindex_embedkit import EmbedKitHybridRetriever


@pytest.fixture
def nodes(support_docs) -> list[TextNode]:
    return [TextNode(id_=key, text=text) for key, text in support_docs.items()]


def test_feedback_reaches_the_engine_and_changes_the_scores(nodes, embed_model):
    query = "I forgot my login credentials"
    on = EmbedKitHybridRetriever.from_defaults(nodes=nodes, embed_model=embed_model,
                                               similarity_top_k=4, fusion="dense",
                                               feedback="dense")
    off = EmbedKitHybridRetriever.from_defaults(nodes=nodes, embed_model=embed_model,
                                                similarity_top_k=4, fusion="dense",
                                                feedback="none")
    assert on.hybrid_index.feedback == "dense" and off.hybrid_index.feedback == "none"
    moved, plain = on.retrieve(query), off.retrieve(query)
    assert moved[0].node.node_id == plain[0].node.node_id == "password"
    assert [r.score for r in moved] != [r.score for r in plain]
    with pytest.raises(ValueError, match="unknown feedback"):
        EmbedKitHybridRetriever.from_defaults(nodes=nodes, embed_model=embed_model,
                                              feedback="sometimes")
