"""Retrieval quality: standard nDCG@10 for BM25, dense, and their fusions.

For each query, each retriever returns its top ``--candidates`` (100) documents; the fusions
combine those lists (min-max normalization within each list). nDCG@10 uses graded gains, a log2
discount and the ideal ranking from all of the query's judgments; queries without a positive
judgment are skipped.

Query sets:
- ``msmarco-5k`` from ``../shared/data`` (natural-language questions);
- ``benchmarks/keyword_sets/*.jsonl``: keyword-heavy queries we wrote (codes, part numbers,
  product and gene names) over a BEIR corpus, each with its graded judgments.

Dense vectors come from ``embedkit.Embedder()`` (the bundled all-MiniLM-L6-v2), the corpus
vectors cached in /tmp (``benchmarks/dense.py``).

    PYTHONPATH=shared python benchmarks/quality.py
    PYTHONPATH=shared python benchmarks/quality.py --sweep      # alpha curves too
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from beir import BeirSet, load_beir, mean_ndcg  # noqa: E402
from dense import cached_vectors, load_encoder  # noqa: E402

from embedkit.retrieval.bm25 import BM25Index  # noqa: E402
from embedkit.retrieval.fusion import AutoAlpha, rrf, weighted  # noqa: E402
from embedkit.retrieval.tokenizer import Tokenizer  # noqa: E402

KEYWORD_SETS = Path(__file__).resolve().parent / "keyword_sets"


@dataclass
class QueryCandidates:
    """One query's inputs to fusion: both candidate lists and what auto fusion looks at."""

    dense: list[tuple[str, float]]
    bm25: list[tuple[str, float]]
    tokens: list[str]
    idf: np.ndarray
    bm25_complete: bool  # BM25 returned fewer than asked: every positive-score document

    def floors(self, use: bool) -> tuple[float | None, float | None]:
        """min-max floors: BM25's true floor 0 when its list is complete (and ``use``)."""
        return (None, 0.0 if use and self.bm25_complete else None)


def load_keyword_set(path: Path, corpus: BeirSet) -> BeirSet:
    """A keyword query set (``{"id", "text", "relevant": {doc_id: grade}}`` per line) over the
    documents of ``corpus``."""
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
               if line.strip()]
    known = set(corpus.doc_ids)
    for record in records:
        missing = set(record["relevant"]) - known
        if missing:
            raise ValueError(f"{path.name} query {record['id']}: unknown documents {missing}")
    return BeirSet(path.stem, corpus.doc_ids, corpus.doc_texts,
                   [r["id"] for r in records], [r["text"] for r in records],
                   {r["id"]: {d: int(g) for d, g in r["relevant"].items()} for r in records})


def candidates_for(data: BeirSet, doc_vectors: np.ndarray, encoder, bm25: BM25Index,
                   tokenizer: Tokenizer, depth: int) -> dict[str, QueryCandidates]:
    out = {}
    for qid, text in zip(data.query_ids, data.query_texts):
        scores = doc_vectors @ encoder.embed_query(text)
        top = np.argpartition(-scores, depth - 1)[:depth] if len(scores) > depth \
            else np.arange(len(scores))
        top = top[np.lexsort((top, -scores[top]))]
        tokens = tokenizer(text)
        positions, bm25_scores = bm25.search(tokens, depth)
        out[qid] = QueryCandidates(
            dense=[(data.doc_ids[i], float(scores[i])) for i in top],
            bm25=[(data.doc_ids[i], float(s)) for i, s in zip(positions, bm25_scores)],
            tokens=tokens, idf=bm25.idf(tokens), bm25_complete=len(positions) < depth)
    return out


def rankings(cands: dict[str, QueryCandidates], method, k: int = 10) -> dict[str, list[str]]:
    return {qid: method(c)[:k] for qid, c in cands.items()}


def weighted_method(alpha: float | AutoAlpha, n_docs: int, use_floor: bool = True):
    """A ranking function for a fixed alpha or an auto policy."""
    def rank(c: QueryCandidates) -> list[str]:
        a = alpha.alpha(c.tokens, c.idf, n_docs) if isinstance(alpha, AutoAlpha) else alpha
        return [h.id for h in weighted(c.dense, c.bm25, a, floors=c.floors(use_floor))]
    return rank


def headline_methods(n_docs: int, policy: AutoAlpha) -> dict[str, object]:
    table = {
        "bm25": lambda c: [d for d, _ in c.bm25],
        "dense": lambda c: [d for d, _ in c.dense],
        "rrf k=60": lambda c: [h.id for h in rrf([c.dense, c.bm25], k=60)],
    }
    for alpha in (0.5, 0.7, 0.8):
        table[f"weighted a={alpha:g}"] = weighted_method(alpha, n_docs)
    table["auto"] = weighted_method(policy, n_docs)
    return table


def sweep_methods(n_docs: int) -> dict[str, object]:
    """Fixed alpha 0..1 with and without BM25's floor 0, and a grid over the auto policy."""
    table = {}
    for use_floor in (True, False):
        for a in np.round(np.arange(0, 1.01, 0.1), 1):
            name = f"weighted a={a:g}" + ("" if use_floor else " plain min-max")
            table[name] = weighted_method(float(a), n_docs, use_floor)
    table["auto plain min-max"] = weighted_method(AutoAlpha(), n_docs, use_floor=False)
    for dense_alpha in (0.7, 0.75, 0.8):
        for lexical_alpha in (0.2, 0.3, 0.4):
            for word_weight in (0.0, 0.25, 0.5, 0.75):
                policy = AutoAlpha(dense_alpha, lexical_alpha, word_weight)
                name = f"auto {dense_alpha:g}/{lexical_alpha:g}/w{word_weight:g}"
                table[name] = weighted_method(policy, n_docs)
    return table


def evaluate(data: BeirSet, cands: dict[str, QueryCandidates],
             table: dict[str, object]) -> dict[str, float]:
    return {name: mean_ndcg(data, rankings(cands, method)) for name, method in table.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="msmarco-5k",
                        help="a data set name under ../shared/data, or a BEIR folder path")
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--encoder", choices=("embedkit", "st"), default="embedkit",
                        help="embedkit.Embedder, or sentence-transformers directly")
    parser.add_argument("--sweep", action="store_true", help="alpha in 0, 0.1, ..., 1 too")
    args = parser.parse_args()

    data = load_beir(args.data)
    sets = [data] + [load_keyword_set(p, data) for p in sorted(KEYWORD_SETS.glob(
        f"{data.name}-*.jsonl"))]
    tokenizer, bm25, encoder = Tokenizer(), BM25Index(), load_encoder(args.encoder)
    start = time.perf_counter()
    bm25.build(tokenizer.tokenize_many(data.doc_texts))
    print(f"BM25 index of {len(bm25)} docs in {time.perf_counter() - start:.1f}s")
    doc_vectors = cached_vectors(encoder, data.doc_texts, f"{data.name}-docs")
    policy = AutoAlpha()
    table = headline_methods(len(bm25), policy)
    if args.sweep:
        table.update(sweep_methods(len(bm25)))
    results = {}
    for qset in sets:
        cands = candidates_for(qset, doc_vectors, encoder, bm25, tokenizer, args.candidates)
        results[qset.name] = evaluate(qset, cands, table)
        chosen = [policy.alpha(c.tokens, c.idf, len(bm25)) for c in cands.values()]
        print(f"{qset.name}: {len(qset.judged_queries)} judged queries; auto alpha "
              f"median {statistics.median(chosen):.2f}, range {min(chosen):.2f}-"
              f"{max(chosen):.2f}")
    print_table(results, policy, args)


def print_table(results: dict[str, dict[str, float]], policy: AutoAlpha,
                args: argparse.Namespace) -> None:
    names = list(results)
    print(f"\nnDCG@10 (fusion over each retriever's top {args.candidates}; weighted and auto "
          f"min-max with BM25's floor 0 when its list is complete; auto = {policy})")
    print("| method | " + " | ".join(names) + " | mean |")
    print("| --- |" + " --- |" * (len(names) + 1))
    for method in results[names[0]]:
        values = [results[n][method] for n in names]
        print(f"| {method} | " + " | ".join(f"{v:.4f}" for v in values)
              + f" | {statistics.mean(values):.4f} |")


if __name__ == "__main__":
    main()
