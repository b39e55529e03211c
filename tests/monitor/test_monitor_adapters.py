"""A `SimilarityMonitor` passed to either adapter's retriever sees every query's similarities."""

from __future__ import annotations

import numpy as np
import pytest

from embedkit import Embedder, SimilarityMonitor

TEXTS = {
    "e4031": "Error NMB-4031 means the firmware signature check failed.",
    "pw": "To reset your password, open Settings > Security and send a reset link.",
    "bill": "Invoices are issued on the first business day of every month.",
}
QUERIES = ["NMB-4031", "I forgot my login credentials", "when do invoices arrive"]


def best_cosines(cache_dir) -> list[float]:
    embedder = Embedder(cache_dir=cache_dir)
    docs = embedder.embed_documents(list(TEXTS.values()))
    return [float(np.max(docs @ embedder.embed_query(q))) for q in QUERIES]


def test_langchain_retriever_passes_the_monitor_to_the_engine(cache_dir):
    from langchain_core.documents import Document

    from langchain_embedkit import EmbedKitEmbeddings, EmbedKitHybridRetriever

    monitor = SimilarityMonitor()
    retriever = EmbedKitHybridRetriever.from_documents(
        [Document(page_content=text, id=doc_id) for doc_id, text in TEXTS.items()],
        embeddings=EmbedKitEmbeddings(cache_dir=cache_dir), k=2, monitor=monitor)
    for query in QUERIES:
        retriever.invoke(query)
    assert monitor.observations == len(QUERIES)
    assert monitor.baseline.tolist() == pytest.approx(best_cosines(cache_dir), abs=1e-5)


def test_llamaindex_retriever_passes_the_monitor_to_the_engine(cache_dir):
    adapter = pytest.importorskip("llamaindex_embedkit")
    if not hasattr(adapter, "EmbedKitHybridRetriever"):
        pytest.skip("the LlamaIndex adapter is not on this branch yet")
    from llama_index.core.schema import TextNode

    monitor = SimilarityMonitor()
    retriever = adapter.EmbedKitHybridRetriever.from_defaults(
        nodes=[TextNode(id_=doc_id, text=text) for doc_id, text in TEXTS.items()],
        embed_model=adapter.EmbedKitEmbedding(cache_dir=str(cache_dir)), similarity_top_k=2,
        monitor=monitor)
    for query in QUERIES:
        retriever.retrieve(query)
    assert monitor.observations == len(QUERIES)
    assert monitor.baseline.tolist() == pytest.approx(best_cosines(cache_dir), abs=1e-5)
