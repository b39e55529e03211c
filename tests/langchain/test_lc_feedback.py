"""``feedback`` and the default search passed through `EmbedKitHybridRetriever`."""

from __future__ import annotations

from langchain_core.vectorstores import InMemoryVectorStore
from langchain_embedkit import EmbedKitHybridRetriever

from lc_corpus import PARAPHRASE_QUERY


def _ranked(documents) -> list[tuple[str | None, float]]:
    return [(d.id, d.metadata["score"]) for d in documents]


def test_feedback_reaches_the_engine_and_changes_the_ranking(support_docs, lc_embeddings):
    on = EmbedKitHybridRetriever.from_documents(support_docs, embeddings=lc_embeddings, k=5,
                                                fusion="dense", feedback="dense")
    off = EmbedKitHybridRetriever.from_documents(support_docs, embeddings=lc_embeddings, k=5,
                                                 fusion="dense", feedback="none")
    assert on.index.feedback == "dense" and off.index.feedback == "none"
    moved, plain = on.invoke(PARAPHRASE_QUERY), off.invoke(PARAPHRASE_QUERY)
    assert moved[0].id == plain[0].id == "password"
    assert _ranked(moved) != _ranked(plain)  # scores are cosines with the moved query


def test_dense_feedback_over_a_vectorstore_is_skipped_without_error(support_docs,
                                                                    lc_embeddings):
    store = InMemoryVectorStore.from_documents(support_docs, lc_embeddings)
    with_fb = EmbedKitHybridRetriever.from_documents(support_docs, vectorstore=store, k=4,
                                                     feedback="dense")
    without = EmbedKitHybridRetriever.from_documents(support_docs, vectorstore=store, k=4,
                                                     feedback="none")
    assert _ranked(with_fb.invoke(PARAPHRASE_QUERY)) == _ranked(without.invoke(PARAPHRASE_QUERY))
    assert EmbedKitHybridRetriever.from_documents(support_docs, vectorstore=store,
                                                  feedback="bm25").invoke(PARAPHRASE_QUERY)


def test_compact_vectors_and_hnsw_pass_through_and_rank_like_float32(support_docs,
                                                                     lc_embeddings):
    """Scale options reach the engine; on a small corpus they return the exact ranking."""
    exact = EmbedKitHybridRetriever.from_documents(support_docs, embeddings=lc_embeddings, k=4)
    binary = EmbedKitHybridRetriever.from_documents(support_docs, embeddings=lc_embeddings, k=4,
                                                    vectors="binary", rescore=50)
    graph = EmbedKitHybridRetriever.from_documents(support_docs, embeddings=lc_embeddings, k=4,
                                                   ann="hnsw", ann_min_rows=1, ef_search=64)
    assert binary.index.vectors_mode == "binary" and binary.index.rescore == 50
    assert graph.index.ann == "hnsw" and graph.index.ann_min_rows == 1
    expected = _ranked(exact.invoke(PARAPHRASE_QUERY))
    assert _ranked(binary.invoke(PARAPHRASE_QUERY)) == expected
    assert _ranked(graph.invoke(PARAPHRASE_QUERY)) == expected
