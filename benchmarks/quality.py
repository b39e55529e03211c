"""Retrieval quality of every search mode on every development set, with paired intervals.

Development sets: ``msmarco-5k``, ``cisi``, ``med`` (``../shared/data``), the demo knowledge
base (``embedkit.demo_data``, without its glossary) and the keyword set
(``benchmarks/keyword_sets/msmarco-5k-codes.jsonl``: code and name queries over msmarco-5k).
Every run goes through ``HybridIndex.search`` (the engine's own path, candidates 100), with
the bundled all-MiniLM-L6-v2 (vectors from embedkit's disk cache after the first run).

For each method: standard nDCG@10 (graded gains, ideal from all judgments) and recall@100, and
the mean per-query change in nDCG@10 against dense alone with its 95% paired-bootstrap
interval (``bootstrap.py``). For msmarco-5k, nDCG@10 on the public leaderboard's own metric
too (``leaderboard_metric.py``), beside its published figure.

``--lodo``: leave-one-dataset-out check of the default's settings. For each set, a small grid
of `SearchPolicy` settings is scored on the other sets, the one with the best mean gain over
dense (minus a penalty for any set more than 0.005 below dense) is chosen, and its score on
the held-out set is printed beside the shipped default's.

    PYTHONPATH=shared python benchmarks/quality.py
    PYTHONPATH=shared python benchmarks/quality.py --sets cisi,med --lodo
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from beir import data_dir  # noqa: E402
from bootstrap import paired_change  # noqa: E402
from leaderboard_metric import leaderboard_ndcg, without_first_judgment  # noqa: E402

from embedkit import Embedder, HybridIndex, demo_data  # noqa: E402
from embedkit.evaluate import RetrievalDataset, evaluate_run, load_beir  # noqa: E402
from embedkit.retrieval.feedback import Feedback  # noqa: E402
from embedkit.retrieval.policy import SearchPolicy  # noqa: E402

KEYWORD_SET = Path(__file__).resolve().parent / "keyword_sets" / "msmarco-5k-codes.jsonl"
SETS = ("msmarco-5k", "cisi", "med", "demo", "keyword")
METRICS = ("ndcg@10", "recall@100")
PUBLISHED = "OpenAI text-embedding-3-small, published on the leaderboard's metric: 0.946"


@dataclass(frozen=True)
class Method:
    """One search configuration: ``HybridIndex.search`` arguments."""

    name: str
    fusion: str
    feedback: str | None = None
    alpha: float | None = None


METHODS = (
    Method("bm25", "bm25", "none"),
    Method("bm25 +rm3", "bm25", "bm25"),
    Method("dense", "dense", "none"),
    Method("dense +prf", "dense", "dense"),
    Method("rrf", "rrf", "none", 0.5),
    Method("weighted a=0.5", "weighted", "none", 0.5),
    Method("weighted a=0.7", "weighted", "none", 0.7),
    Method("weighted a=0.7 +prf", "weighted", "dense", 0.7),
    Method("auto-v1 (old default)", "auto-v1", "none"),
    Method("auto-v1 +prf", "auto-v1", "dense"),
    Method("auto, no feedback", "auto", "none"),
    Method("auto +prf+rm3", "auto", "both"),
    Method("auto (new default)", "auto", None),
)

#: Claimed gains beyond "vs dense": (after, before) method names.
PAIRS = (("auto (new default)", "auto-v1 (old default)"),
         ("auto (new default)", "auto, no feedback"),
         ("auto +prf+rm3", "auto (new default)"),
         ("bm25 +rm3", "bm25"))


@dataclass
class Bench:
    """One development set ready to search: its data, index and query vectors."""

    name: str
    data: RetrievalDataset
    index: HybridIndex
    vectors: dict[str, np.ndarray]

    @property
    def queries(self) -> list[str]:
        return self.data.judged_queries


def keyword_set(corpus: dict[str, str]) -> RetrievalDataset:
    """The keyword queries (``{"id", "text", "relevant": {doc: grade}}`` lines) over msmarco."""
    records = [json.loads(line) for line in KEYWORD_SET.read_text(encoding="utf-8").splitlines()
               if line.strip()]
    return RetrievalDataset(corpus, {r["id"]: r["text"] for r in records},
                            {r["id"]: {d: int(g) for d, g in r["relevant"].items()}
                             for r in records})


def load_sets(names: list[str], embedder: Embedder) -> list[Bench]:
    """Index each corpus once (msmarco-5k serves the keyword set too)."""
    indexes: dict[str, HybridIndex] = {}

    def index_for(key: str, corpus: dict[str, str]) -> HybridIndex:
        if key not in indexes:
            started = time.perf_counter()
            indexes[key] = HybridIndex(embedder)
            indexes[key].add(list(corpus.values()), ids=list(corpus))
            print(f"indexed {key}: {len(corpus)} documents in "
                  f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
        return indexes[key]

    benches = []
    for name in names:
        if name == "demo":
            data, key = demo_data.load(), "demo"
        elif name == "keyword":
            data, key = keyword_set(load_beir(data_dir("msmarco-5k")).corpus), "msmarco-5k"
        else:
            data, key = load_beir(data_dir(name)), name
        index = index_for(key, data.corpus)
        queries = data.judged_queries
        vectors = dict(zip(queries, embedder.embed_queries([data.queries[q] for q in queries])))
        benches.append(Bench(name, data, index, vectors))
    return benches


def run_method(bench: Bench, method: Method, policy: SearchPolicy | None = None,
               k: int = 100) -> dict[str, list[str]]:
    """Ranked ids per judged query."""
    index = bench.index
    saved = index.policy
    if policy is not None:
        index.policy = policy
    try:
        return {q: [h.id for h in index.search(
            bench.data.queries[q], k=k, fusion=method.fusion, feedback=method.feedback,
            alpha=method.alpha, query_vector=bench.vectors[q])] for q in bench.queries}
    finally:
        index.policy = saved


def score(bench: Bench, run: dict[str, list[str]]) -> dict[str, dict[str, float]]:
    """Per metric, per query."""
    result = evaluate_run(run, bench.data.qrels, METRICS)
    return {m: {q: scores[m] for q, scores in result.per_query.items()} for m in METRICS}


def leaderboard_score(run: dict[str, list[str]]) -> float:
    """msmarco-5k nDCG@10 on the leaderboard's metric (see leaderboard_metric.py)."""
    folder = data_dir("msmarco-5k")
    qrels = without_first_judgment(load_beir(folder).qrels, folder / "qrels" / "test.tsv")
    judged = [q for q in run if any(g > 0 for g in qrels.get(q, {}).values())]
    return sum(leaderboard_ndcg(run[q], qrels[q]) for q in judged) / len(judged)


def main_table(benches: list[Bench]) -> None:
    results: dict[str, dict[str, dict]] = {}
    board: dict[str, float] = {}
    for method in METHODS:
        results[method.name] = {}
        for bench in benches:
            run = run_method(bench, method)
            results[method.name][bench.name] = score(bench, run)
            if bench.name == "msmarco-5k":
                board[method.name] = leaderboard_score(run)
        print(f"scored {method.name}", file=sys.stderr)
    names = [b.name for b in benches]
    dense = results["dense"]
    print("\nnDCG@10 (standard) and, below each, the change vs dense with its 95% paired-"
          "bootstrap interval")
    header = "| method | " + " | ".join(names) + " | mean | min change vs dense |"
    if board:
        header += " msmarco-5k, leaderboard metric |"
    print(header)
    print("| --- |" + " --- |" * (len(names) + 2 + bool(board)))
    for method in METHODS:
        cells, changes = [], []
        for name in names:
            now = results[method.name][name]["ndcg@10"]
            change = paired_change(now, dense[name]["ndcg@10"])
            changes.append(change.mean)
            cells.append(f"{statistics.mean(now.values()):.3f} ({change})")
        mean = statistics.mean(statistics.mean(results[method.name][n]["ndcg@10"].values())
                               for n in names)
        row = f"| {method.name} | " + " | ".join(cells) + f" | {mean:.3f} | {min(changes):+.3f} |"
        if board:
            row += f" {board[method.name]:.3f} |"
        print(row)
    if board:
        print(f"({PUBLISHED})")
    print("\nPaired changes in nDCG@10 (95% bootstrap interval)")
    print("| comparison | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))
    for after, before in PAIRS:
        print(f"| {after} vs {before} | " + " | ".join(
            str(paired_change(results[after][n]["ndcg@10"], results[before][n]["ndcg@10"]))
            for n in names) + " |")
    print("\nrecall@100")
    print("| method | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))
    for method in METHODS:
        print(f"| {method.name} | " + " | ".join(
            f"{statistics.mean(results[method.name][n]['recall@100'].values()):.3f}"
            for n in names) + " |")


def policy_grid() -> list[SearchPolicy]:
    """The settings a leave-one-dataset-out check chooses among."""
    grid = []
    for dense_alpha, agreement_alpha, depth, beta in itertools.product(
            (0.7, 0.8, 0.9), (0.5, 0.7), (0, 3, 5), (0.5, 1.0)):
        # feedback depth 0 stands for "no feedback" (the gate never passes)
        if agreement_alpha > dense_alpha or (depth == 0 and beta != 0.5):
            continue
        feedback = Feedback(depth=max(depth, 1), beta=beta)
        grid.append(SearchPolicy(dense_alpha=dense_alpha, agreement_alpha=agreement_alpha,
                                 feedback=feedback,
                                 feedback_max_code=SearchPolicy().feedback_max_code
                                 if depth else 0.0))
    return grid


def objective(gains: list[float]) -> float:
    """Mean gain over dense, minus twice every shortfall beyond -0.005 on any set."""
    return statistics.mean(gains) + 2 * sum(min(g + 0.005, 0.0) for g in gains)


def lodo(benches: list[Bench]) -> None:
    auto = Method("auto", "auto")
    dense = {b.name: statistics.mean(score(b, run_method(b, Method("dense", "dense")))
                                     ["ndcg@10"].values()) for b in benches}
    grid = [SearchPolicy(), *policy_grid()]
    table = np.array([[statistics.mean(score(b, run_method(b, auto, policy))["ndcg@10"].values())
                       - dense[b.name] for b in benches] for policy in grid])
    print("\nLeave-one-dataset-out: settings chosen on the other sets, scored on the held-out "
          "one (nDCG@10 change vs dense)")
    print("| held out | chosen (dense_alpha / agreement_alpha / feedback depth, beta) | "
          "chosen on held-out | shipped default on held-out |")
    print("| --- | --- | --- | --- |")
    for held, bench in enumerate(benches):
        others = [i for i in range(len(benches)) if i != held]
        best = max(range(len(grid)), key=lambda j: objective(list(table[j, others])))
        p = grid[best]
        fb = f"{p.feedback.depth}, {p.feedback.beta:g}" if p.feedback_max_code > 0 else "off"
        print(f"| {bench.name} | {p.dense_alpha:g} / {p.agreement_alpha:g} / {fb} | "
              f"{table[best, held]:+.3f} | {table[0, held]:+.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS),
                        help=f"comma-separated, from {', '.join(SETS)}")
    parser.add_argument("--lodo", action="store_true",
                        help="also the leave-one-dataset-out check of the default's settings")
    parser.add_argument("--no-table", action="store_true", help="only --lodo")
    args = parser.parse_args()
    names = [n.strip() for n in args.sets.split(",") if n.strip()]
    unknown = sorted(set(names) - set(SETS))
    if unknown:
        parser.error(f"unknown sets {unknown}; choose from {', '.join(SETS)}")
    benches = load_sets(names, Embedder(show_progress=True))
    if not args.no_table:
        main_table(benches)
    if args.lodo:
        lodo(benches)


if __name__ == "__main__":
    main()
