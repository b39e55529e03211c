"""BM25 speed: embedkit's BM25Index (bm25s backend) vs rank-bm25's BM25Okapi.

msmarco-5k passages, tokenized once with embedkit's Tokenizer, replicated to 100k and 500k
documents. Per size: index build time and per-query latency (top 10) of ours; at the
comparison size also rank-bm25 (slow: only a few queries are timed) and bm25s's own
``retrieve()`` (the top-k path we avoid). Every figure in one run; ratios are computed from
figures of this run only.

    PYTHONPATH=shared python benchmarks/bm25.py
    PYTHONPATH=shared python benchmarks/bm25.py --sizes 5000,100000 --oracle-queries 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from beir import load_beir  # noqa: E402

from embedkit.retrieval.bm25 import BM25Index  # noqa: E402
from embedkit.retrieval.tokenizer import Tokenizer  # noqa: E402


def replicate(docs: list[list[str]], size: int) -> list[list[str]]:
    """``size`` documents cycling through ``docs`` (copies share their token lists)."""
    return [docs[i % len(docs)] for i in range(size)]


def build_seconds(index: BM25Index, corpus: list[list[str]]) -> float:
    start = time.perf_counter()
    index.build(corpus)
    return time.perf_counter() - start


def query_ms(search, queries: list[list[str]], repeat: int) -> float:
    """Median over ``repeat`` passes of the mean per-query latency, in milliseconds."""
    search(queries[0])  # warm caches
    passes = []
    for _ in range(repeat):
        start = time.perf_counter()
        for query in queries:
            search(query)
        passes.append((time.perf_counter() - start) / len(queries) * 1000)
    return statistics.median(passes)


def paired_ms(searches: dict[str, object], queries: list[list[str]]) -> dict[str, float]:
    """Mean per-query latency of several engines timed query by query, interleaved, so load
    from other processes on the machine hits all of them alike; ms."""
    totals = dict.fromkeys(searches, 0.0)
    for search in searches.values():
        search(queries[0])  # warm caches
    for query in queries:
        for name, search in searches.items():
            start = time.perf_counter()
            search(query)
            totals[name] += time.perf_counter() - start
    return {name: total / len(queries) * 1000 for name, total in totals.items()}


def bm25s_retrieve(corpus: list[list[str]]):
    """bm25s's own index and top-k (``retrieve``) on the same tokens, for comparison."""
    import bm25s

    model = bm25s.BM25(method="lucene")
    model.index(corpus, show_progress=False)
    return lambda q: model.retrieve([q], k=10, show_progress=False, n_threads=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="msmarco-5k")
    parser.add_argument("--sizes", default="5000,100000,500000")
    parser.add_argument("--compare-at", type=int, default=100_000,
                        help="size at which rank-bm25 and bm25s.retrieve are timed too")
    parser.add_argument("--oracle-queries", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    data = load_beir(args.data)
    tokenizer = Tokenizer()
    start = time.perf_counter()
    docs = tokenizer.tokenize_many(data.doc_texts)
    queries = [q for q in tokenizer.tokenize_many(data.query_texts) if q]
    print(f"tokenized {len(docs)} passages + {len(queries)} queries in "
          f"{time.perf_counter() - start:.2f}s ({tokenizer!r})")

    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        corpus = replicate(docs, size)
        ours = BM25Index()
        row = {"size": size, "build_s": build_seconds(ours, corpus),
               "query_ms": query_ms(lambda q: ours.search(q, 10), queries, args.repeat)}
        if size == args.compare_at:
            oracle = BM25Index(backend="rank_bm25")
            row["oracle_build_s"] = build_seconds(oracle, corpus)
            row["paired"] = paired_ms({
                "ours": lambda q: ours.search(q, 10),
                "retrieve": bm25s_retrieve(corpus),
                "oracle": lambda q: oracle.search(q, 10),
            }, queries[: args.oracle_queries])
            del oracle
        rows.append(row)
        print(f"  {size:>7} docs: built in {row['build_s']:.2f}s, "
              f"{row['query_ms']:.3f} ms/query", flush=True)
    report(rows, args)


def report(rows: list[dict], args: argparse.Namespace) -> None:
    base = rows[0]
    print("\n| docs | build s | query ms | query ms / first size |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['size']:,} | {row['build_s']:.2f} | {row['query_ms']:.3f} | "
              f"{row['query_ms'] / base['query_ms']:.1f}x |")
    compared = [r for r in rows if "paired" in r]
    for row in compared:
        paired = row["paired"]
        print(f"\nAt {row['size']:,} docs, top 10, same tokens; the first {args.oracle_queries} "
              "queries timed one by one, engines interleaved:")
        print("| engine | build s | query ms | ours is faster by |")
        print("| --- | --- | --- | --- |")
        print(f"| embedkit BM25Index (bm25s scores + positive-only top-k) | {row['build_s']:.2f} | "
              f"{paired['ours']:.3f} | - |")
        print(f"| bm25s BM25.retrieve (same index) | - | {paired['retrieve']:.3f} | "
              f"{paired['retrieve'] / paired['ours']:.1f}x |")
        print(f"| rank-bm25 BM25Okapi | {row['oracle_build_s']:.2f} | {paired['oracle']:.1f} | "
              f"{paired['oracle'] / paired['ours']:.0f}x |")

if __name__ == "__main__":
    main()
