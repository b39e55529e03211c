"""msmarco-5k nDCG@10 on the public leaderboard's own metric, beside the standard one.

    .venv/bin/python benchmarks/leaderboard_metric.py [--data ../shared/data/msmarco-5k]

The leaderboard that publishes 0.946 for OpenAI text-embedding-3-small on this subset computes
nDCG@10 differently from trec_eval (see ../shared/data/README.md): its ideal DCG comes only from
the grades of the 10 retrieved passages, and it skips the first qrels line as a header although
this file has none. Its figures can only be compared with ours on that metric, so this prints
both for BM25, the bundled model and the hybrids (embeddings come from embedkit's cache).
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _data import msmarco_dir  # noqa: E402

from embedkit import Embedder, HybridIndex  # noqa: E402
from embedkit.evaluate import evaluate_run, load_beir  # noqa: E402

RUNS = (("bm25", None), ("dense", None), ("rrf", 0.5), ("weighted", 0.5), ("weighted", 0.7),
        ("auto", None))


def leaderboard_ndcg(ranking: list[str], grades: dict[str, int], k: int = 10) -> float:
    """nDCG@k whose ideal is the best order of the retrieved documents' own grades."""
    gains = [grades.get(doc_id, 0) for doc_id in ranking[:k]]
    ideal = sorted(gains, reverse=True)
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    best = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / best if best else 0.0


def without_first_judgment(qrels: dict[str, dict[str, int]], qrels_file: Path) -> dict:
    """The judgments a loader that treats line 1 as a header would keep."""
    query_id, doc_id, _ = qrels_file.read_text(encoding="utf-8").splitlines()[0].split()
    kept = {q: dict(g) for q, g in qrels.items()}
    kept[query_id].pop(doc_id, None)
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args()
    folder = args.data or msmarco_dir()
    data = load_beir(folder)
    theirs = without_first_judgment(data.qrels, folder / "qrels" / "test.tsv")
    embedder = Embedder(cache_dir=args.cache_dir, show_progress=True)
    index = HybridIndex(embedder)
    index.add(list(data.corpus.values()), ids=list(data.corpus))
    queries = data.judged_queries
    vectors = dict(zip(queries, embedder.embed_queries([data.queries[q] for q in queries])))
    print(f"{'run':<16} {'nDCG@10 (trec_eval)':>20} {'nDCG@10 (leaderboard)':>22}")
    for fusion, alpha in RUNS:
        run = {q: [h.id for h in index.search(data.queries[q], k=10, fusion=fusion,
                                               alpha=alpha, query_vector=vectors[q])]
               for q in queries}
        standard = evaluate_run(run, data.qrels, ["ndcg@10"])["ndcg@10"]
        judged = [q for q in queries if any(g > 0 for g in theirs.get(q, {}).values())]
        board = sum(leaderboard_ndcg(run[q], theirs[q]) for q in judged) / len(judged)
        label = fusion if alpha is None else f"{fusion}@{alpha:g}"
        print(f"{label:<16} {standard:>20.3f} {board:>22.3f}")


if __name__ == "__main__":
    main()
