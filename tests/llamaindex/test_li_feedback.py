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


def test_compact_vectors_and_hnsw_pass_through_and_rank_like_float32(nodes, embed_model):
    query = "I forgot my login credentials"
    ranked = {}
    for name, options in {"exact": {}, "int8": {"vectors": "int8"},
                          "hnsw": {"ann": "hnsw", "ann_min_rows": 1}}.items():
        retriever = EmbedKitHybridRetriever.from_defaults(nodes=nodes, embed_model=embed_model,
                                                          similarity_top_k=4, **options)
        ranked[name] = [(r.node.node_id, r.score) for r in retriever.retrieve(query)]
        if name == "int8":
            assert retriever.hybrid_index.vectors_mode == "int8"
        if name == "hnsw":
            assert retriever.hybrid_index.ann == "hnsw"
    assert ranked["int8"] == ranked["exact"] and ranked["hnsw"] == ranked["exact"]
