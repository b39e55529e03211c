"""The hybrid retrievers over real vector stores on msmarco-5k: nDCG@10 and median query latency.

    .venv/bin/python benchmarks/stores.py [--dataset msmarco-5k|cisi|med] [--cache-dir DIR]
                                          [--queries N] [--json PATH]

For each store (LangChain: InMemoryVectorStore, FAISS, Chroma, Qdrant local mode; LlamaIndex:
SimpleVectorStore, Chroma, FAISS, Qdrant local mode) it measures the framework's own dense
retriever and ``EmbedKitHybridRetriever`` over that store, plus each framework's own BM25 +
fusion recipe (LangChain ``EnsembleRetriever(BM25Retriever, FAISS)``, LlamaIndex
``QueryFusionRetriever(vector, BM25Retriever)`` with reciprocal-rank fusion), against the
engine's own ``HybridIndex`` (same model, same fusion). A store returns ids and scores but no
vectors, so the engine's dense pseudo-relevance feedback cannot run over one: every hybrid row
should be within 0.005 nDCG@10 of the engine at ``feedback="none"`` (the default, with
feedback, is shown too). The ``warnings`` column counts warnings raised while querying.

All rows share one embedding model (the bundled all-MiniLM-L6-v2) and its disk cache, and every
query is embedded once before timing, so latency is retrieval, not model time. Store documents
carry no ids (as text-splitter output), so the hybrid retrievers match store results to their
documents by text and metadata. LlamaIndex's ``BM25Retriever`` needs
``pip install --no-deps llama-index-retrievers-bm25`` (its PyStemmer<3 pin would downgrade
the PyStemmer embedkit uses; it runs with PyStemmer 3); without it that row is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass

os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore", message=".*langchain-community.*is being sunset.*")

from _data import DATA_DIR  # noqa: E402
from embedkit import HybridIndex  # noqa: E402
from embedkit.evaluate import evaluate_run, load_beir  # noqa: E402

K = 10


@dataclass
class Row:
    framework: str
    store: str
    retriever: str
    ndcg: float
    median_ms: float
    warnings: int
    delta: float | None = None  # hybrid rows: nDCG@10 minus the engine's own index


def measure(search: Callable[[str], list[str]], queries: dict[str, str],
            qrels: dict[str, dict[str, int]]) -> tuple[float, float, int]:
    """(nDCG@10, median ms per query, warnings raised) for one retriever."""
    search(next(iter(queries.values())))  # warm-up
    ranking, times = {}, []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for qid, text in queries.items():
            start = time.perf_counter()
            ranking[qid] = search(text)
            times.append(time.perf_counter() - start)
    ndcg = evaluate_run(ranking, qrels, metrics=["ndcg@10"]).mean["ndcg@10"]
    return ndcg, 1000 * statistics.median(times), len(caught)


# ---------------------------------------------------------------------- LangChain
def langchain_stores(documents, embeddings):
    import chromadb
    from chromadb.config import Settings
    from langchain_chroma import Chroma
    from langchain_community.vectorstores import FAISS
    from langchain_core.vectorstores import InMemoryVectorStore
    from langchain_qdrant import QdrantVectorStore

    client = chromadb.EphemeralClient(settings=Settings(anonymized_telemetry=False))
    yield "InMemoryVectorStore", lambda: InMemoryVectorStore.from_documents(documents, embeddings)
    yield "FAISS", lambda: FAISS.from_documents(documents, embeddings)
    yield "Chroma", lambda: Chroma.from_documents(documents, embeddings, client=client,
                                                  collection_name=f"msmarco-{uuid.uuid4().hex}")
    yield "Qdrant", lambda: QdrantVectorStore.from_documents(
        documents, embeddings, location=":memory:", collection_name="msmarco")


def langchain_rows(data, queries, qrels, cache_dir) -> list[Row]:
    from langchain_classic.retrievers import EnsembleRetriever
    from langchain_community.retrievers import BM25Retriever
    from langchain_core.documents import Document

    from langchain_embedkit import EmbedKitEmbeddings, EmbedKitHybridRetriever

    embeddings = EmbedKitEmbeddings(cache_dir=cache_dir)
    documents = [Document(text, id=doc_id, metadata={"doc_id": doc_id})
                 for doc_id, text in data.corpus.items()]
    store_documents = [Document(text, metadata={"doc_id": doc_id})
                       for doc_id, text in data.corpus.items()]
    rows = []
    for name, build in langchain_stores(store_documents, embeddings):
        store = build()
        dense = store.as_retriever(search_kwargs={"k": K})
        hybrid = EmbedKitHybridRetriever.from_documents(documents, vectorstore=store, k=K)
        rows.append(Row("LangChain", name, "as_retriever (dense)", *measure(
            lambda q: [d.metadata["doc_id"] for d in dense.invoke(q)], queries, qrels)))
        rows.append(Row("LangChain", name, "EmbedKitHybridRetriever", *measure(
            lambda q: [d.id for d in hybrid.invoke(q)], queries, qrels)))
        if name == "FAISS":
            bm25 = BM25Retriever.from_documents(store_documents, k=K)
            ensemble = EnsembleRetriever(retrievers=[bm25, dense], weights=[0.5, 0.5])
            rows.append(Row("LangChain", name, "EnsembleRetriever(BM25Retriever, FAISS)",
                            *measure(lambda q: [d.metadata["doc_id"]
                                                for d in ensemble.invoke(q)][:K],
                                     queries, qrels)))
    return rows


# ---------------------------------------------------------------------- LlamaIndex
def llamaindex_stores():
    import chromadb
    import faiss
    from chromadb.config import Settings
    from llama_index.vector_stores.chroma import ChromaVectorStore
    from llama_index.vector_stores.faiss import FaissVectorStore
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    client = chromadb.EphemeralClient(settings=Settings(anonymized_telemetry=False))
    yield "SimpleVectorStore", lambda: None
    yield "Chroma", lambda: ChromaVectorStore(chroma_collection=client.get_or_create_collection(
        f"msmarco-{uuid.uuid4().hex}"))
    yield "FAISS", lambda: FaissVectorStore(faiss_index=faiss.IndexFlatL2(384))
    yield "Qdrant", lambda: QdrantVectorStore(client=QdrantClient(location=":memory:"),
                                              collection_name="msmarco")


def llamaindex_bm25_fusion(nodes, vector_retriever):
    try:
        from llama_index.retrievers.bm25 import BM25Retriever
    except ImportError:
        return None
    from llama_index.core.llms import MockLLM
    from llama_index.core.retrievers import QueryFusionRetriever

    bm25 = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=K)
    return QueryFusionRetriever([vector_retriever, bm25], similarity_top_k=K, num_queries=1,
                                mode="reciprocal_rerank", use_async=False, llm=MockLLM())


def llamaindex_rows(data, queries, qrels, cache_dir) -> list[Row]:
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.schema import TextNode

    from llamaindex_embedkit import EmbedKitEmbedding, EmbedKitHybridRetriever

    embed_model = EmbedKitEmbedding(cache_dir=cache_dir)

    def nodes() -> list[TextNode]:  # Qdrant wants UUID ids; the msmarco id rides in metadata
        return [TextNode(id_=str(uuid.uuid5(uuid.NAMESPACE_URL, doc_id)), text=text,
                         metadata={"doc_id": doc_id}, excluded_embed_metadata_keys=["doc_id"],
                         excluded_llm_metadata_keys=["doc_id"])
                for doc_id, text in data.corpus.items()]

    def ids(results) -> list[str]:
        return [r.node.metadata["doc_id"] for r in results]

    rows = []
    for name, build in llamaindex_stores():
        store = build()
        storage = StorageContext.from_defaults(vector_store=store) if store else None
        index = VectorStoreIndex(nodes(), storage_context=storage, embed_model=embed_model)
        dense = index.as_retriever(similarity_top_k=K)
        hybrid = EmbedKitHybridRetriever.from_defaults(index=index, similarity_top_k=K)
        rows.append(Row("LlamaIndex", name, "as_retriever (dense)",
                        *measure(lambda q: ids(dense.retrieve(q)), queries, qrels)))
        rows.append(Row("LlamaIndex", name, "EmbedKitHybridRetriever",
                        *measure(lambda q: ids(hybrid.retrieve(q)), queries, qrels)))
        fusion = llamaindex_bm25_fusion(nodes(), dense) if name == "SimpleVectorStore" else None
        if fusion is not None:
            rows.append(Row("LlamaIndex", name, "QueryFusionRetriever(vector, BM25Retriever)",
                            *measure(lambda q: ids(fusion.retrieve(q)), queries, qrels)))
    return rows


# ---------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="msmarco-5k",
                        help="a BEIR folder under ../shared/data (msmarco-5k, cisi, med)")
    parser.add_argument("--cache-dir", default=None, help="embedkit disk cache folder")
    parser.add_argument("--queries", type=int, default=None, help="only the first N queries")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = parser.parse_args()
    data = load_beir(DATA_DIR / args.dataset)
    judged = data.judged_queries[: args.queries]
    queries = {qid: data.queries[qid] for qid in judged}
    qrels = {qid: data.qrels[qid] for qid in judged}

    from embedkit import Embedder

    embedder = Embedder(cache_dir=args.cache_dir, show_progress=True)
    own = HybridIndex(embedder)
    own.add(list(data.corpus.values()), ids=list(data.corpus))
    embedder.embed_queries(list(queries.values()))  # every row then reads query vectors cached
    default = Row("embedkit", "own index", "HybridIndex (engine, default)", *measure(
        lambda q: [h.id for h in own.search(q, K)], queries, qrels))
    # A vector store returns ids and scores, not vectors: dense feedback cannot run over one,
    # so the store rows are compared with the engine at feedback="none".
    reference = Row("embedkit", "own index", 'HybridIndex (engine, feedback="none")', *measure(
        lambda q: [h.id for h in own.search(q, K, feedback="none")], queries, qrels))
    rows = [default, reference]
    rows += langchain_rows(data, queries, qrels, args.cache_dir)
    rows += llamaindex_rows(data, queries, qrels, args.cache_dir)
    for row in rows:
        if row.retriever.startswith("EmbedKitHybrid"):
            row.delta = row.ndcg - reference.ndcg
    print_table(rows, len(queries), args.dataset)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump([asdict(row) for row in rows], fh, indent=2)


def print_table(rows: list[Row], n_queries: int, dataset: str) -> None:
    print(f"\n{dataset}, {n_queries} judged queries, k={K}, bundled all-MiniLM-L6-v2\n")
    print("| framework | store | retriever | nDCG@10 | vs engine | median ms/query | warnings |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        delta = "" if row.delta is None else f"{row.delta:+.4f}"
        print(f"| {row.framework} | {row.store} | {row.retriever} | {row.ndcg:.3f} | {delta} | "
              f"{row.median_ms:.1f} | {row.warnings} |")


if __name__ == "__main__":
    main()
