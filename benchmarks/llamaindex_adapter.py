"""The LlamaIndex adapter on msmarco-5k: same quality as the engine, and what it costs per query.

    .venv/bin/python benchmarks/llamaindex_adapter.py [--cache-dir DIR] [--queries N]

Builds a ``VectorStoreIndex`` (SimpleVectorStore) with ``EmbedKitEmbedding`` and measures
nDCG@10 and median latency per query for: LlamaIndex's dense retriever, the engine's
``HybridIndex`` with the same fusion (to show the adapter adds nothing and loses nothing), and
``EmbedKitHybridRetriever`` over the vector index and over embedkit's own index.
Documents are embedded once; the disk cache makes a second run fast.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _data import msmarco_dir
from embedkit import HybridIndex
from embedkit.evaluate import evaluate_run, load_beir
from llama_index.core import VectorStoreIndex
from llama_index.core.schema import TextNode

from llamaindex_embedkit import EmbedKitEmbedding, EmbedKitHybridRetriever

K = 10


def run(name: str, search: Callable[[str], list[str]], queries: dict[str, str],
        qrels: dict[str, dict[str, int]]) -> None:
    search(next(iter(queries.values())))  # warm-up
    ranking, times = {}, []
    for qid, text in queries.items():
        start = time.perf_counter()
        ranking[qid] = search(text)
        times.append(time.perf_counter() - start)
    ndcg = evaluate_run(ranking, qrels, metrics=["ndcg@10"]).mean["ndcg@10"]
    print(f"{name:<58} nDCG@10 {ndcg:.3f}   median {1000 * statistics.median(times):6.1f} ms")


def ids_of(results) -> list[str]:
    return [r.node.node_id for r in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", default=None, help="embedkit disk cache folder")
    parser.add_argument("--queries", type=int, default=None, help="only the first N queries")
    args = parser.parse_args()
    data = load_beir(msmarco_dir())
    judged = data.judged_queries[: args.queries]
    queries = {qid: data.queries[qid] for qid in judged}
    qrels = {qid: data.qrels[qid] for qid in judged}

    embed_model = EmbedKitEmbedding(cache_dir=args.cache_dir)
    nodes = [TextNode(id_=doc_id, text=text) for doc_id, text in data.corpus.items()]
    start = time.perf_counter()
    index = VectorStoreIndex(nodes, embed_model=embed_model)
    print(f"{len(nodes)} passages indexed in {time.perf_counter() - start:.0f} s "
          f"(cache: {embed_model.embedder.stats.hits} hits, "
          f"{embed_model.embedder.stats.misses} misses); {len(queries)} judged queries")

    dense = index.as_retriever(similarity_top_k=K)
    run("LlamaIndex VectorIndexRetriever (dense)", lambda q: ids_of(dense.retrieve(q)),
        queries, qrels)
    engine = HybridIndex(embed_model.embedder)
    engine.add(list(data.corpus.values()), ids=list(data.corpus))
    for fusion in ("dense", "auto", "rrf"):
        run(f"engine HybridIndex.search, fusion={fusion}",
            lambda q, f=fusion: [h.id for h in engine.search(q, k=K, fusion=f)], queries, qrels)
        over_index = EmbedKitHybridRetriever.from_defaults(index=index, similarity_top_k=K,
                                                           fusion=fusion)
        run(f"EmbedKitHybridRetriever(VectorStoreIndex), fusion={fusion}",
            lambda q, r=over_index: ids_of(r.retrieve(q)), queries, qrels)
    own = EmbedKitHybridRetriever.from_defaults(index=engine, similarity_top_k=K)
    run("EmbedKitHybridRetriever(own HybridIndex), fusion=auto",
        lambda q: ids_of(own.retrieve(q)), queries, qrels)


if __name__ == "__main__":
    main()
