"""Query latency of the default search against the previous default, at 5k and 100k documents.

    PYTHONPATH=shared python benchmarks/search_latency.py [--copies 20] [--rounds 5]

The corpus is msmarco-5k, and for the large size the same passages repeated ``--copies`` times
under new ids (100k documents: BM25 statistics and the dense matrix have the real size; the
vectors come from embedkit's cache, so nothing new is embedded). Queries are msmarco-5k's 50,
embedded once beforehand: the figures are the search itself (BM25, dense product, signals,
fusion, feedback), not the model call, which is the same for every mode.

Modes: ``auto-v1`` (the previous default), ``auto`` without feedback, and the new default
(``auto`` with its per-query dense feedback). Rounds alternate the modes so machine noise hits
each alike; each figure is the median over queries of the best round. Prints each mode's
ms/query and the new default's difference and ratio against the previous one (target: at most
1 ms more).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from beir import data_dir  # noqa: E402

from embedkit import Embedder, HybridIndex  # noqa: E402
from embedkit.evaluate import load_beir  # noqa: E402

MODES = (("auto-v1 (previous default)", "auto-v1", "none"),
         ("auto, no feedback", "auto", "none"),
         ("auto (new default)", "auto", None))


def build(embedder: Embedder, texts: list[str], copies: int) -> HybridIndex:
    index = HybridIndex(embedder)
    ids = [f"{copy}-{i}" for copy in range(copies) for i in range(len(texts))]
    index.add(texts * copies, ids=ids)
    index.search("warm up", k=10)  # first search builds the BM25 matrix and joins blocks
    return index


def per_query_ms(index: HybridIndex, queries: list[str], vectors, fusion: str,
                 feedback: str | None) -> list[float]:
    times = []
    for text, vector in zip(queries, vectors):
        start = time.perf_counter()
        index.search(text, k=10, fusion=fusion, feedback=feedback, query_vector=vector)
        times.append(1000 * (time.perf_counter() - start))
    return times


def measure(index: HybridIndex, queries: list[str], vectors, rounds: int) -> dict[str, float]:
    best: dict[str, float] = {}
    for _ in range(rounds):
        for label, fusion, feedback in MODES:
            median = statistics.median(per_query_ms(index, queries, vectors, fusion, feedback))
            best[label] = min(best.get(label, float("inf")), median)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20, help="corpus copies for the large size")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    data = load_beir(data_dir("msmarco-5k"))
    texts = list(data.corpus.values())
    queries = list(data.queries.values())
    embedder = Embedder()
    vectors = embedder.embed_queries(queries)
    for copies in (1, args.copies):
        index = build(embedder, texts, copies)
        figures = measure(index, queries, vectors, args.rounds)
        old, new = figures[MODES[0][0]], figures[MODES[-1][0]]
        print(f"\n{len(index):,} documents, {len(queries)} queries, median ms/query "
              f"(best of {args.rounds} rounds)")
        for label, value in figures.items():
            print(f"  {label:<28} {value:7.3f} ms")
        print(f"  new default - previous: {new - old:+.3f} ms ({new / old:.2f}x; target <= +1 ms)")


if __name__ == "__main__":
    main()
