"""Two-stage retrieval on msmarco-5k: who escalates under ``uncertain``, and what it costs.

Stage 1 is the bundled all-MiniLM-L6-v2 + BM25 `HybridIndex` (fusion "auto"). The premium model
is OpenAI text-embedding-3-small served by the local fake API (tests/fakeapi): its vectors are
random, so this measures *cost* (token counts, dollars, share of the corpus paid for) and
*which* queries escalate, not re-ranking quality (no real API is reachable here).

    python benchmarks/two_stage.py                       # ../shared/data/msmarco-5k
    python benchmarks/two_stage.py --data demo           # the bundled demo knowledge base
    python benchmarks/two_stage.py --top-n 20 --margins 0.01 0.02 0.05 0.1

The local vectors are cached in --cache-dir (default /tmp/embedkit-two-stage), so reruns do
not re-embed the corpus. Results: tables on stdout, JSON in benchmarks/results/two_stage.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from embedkit import Embedder, HybridIndex  # noqa: E402
from embedkit.evaluate import (  # noqa: E402
    RetrievalDataset, evaluate_run, load_beir, load_qrels,
)
from embedkit.retrieval.two_stage import DEFAULT_MARGIN, TwoStageRetriever, stage1_margin  # noqa: E402
from tests.fakeapi import FakeEmbeddingServer  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "msmarco-5k"


def main() -> None:
    args = _parse_args()
    data = _load_demo() if str(args.data) == "demo" else load_beir(args.data)
    judged = data.judged_queries
    index = _stage1_index(data, args.cache_dir)
    stage1 = {qid: index.search(data.queries[qid], k=args.top_n) for qid in judged}
    ndcg = evaluate_run({q: [h.id for h in hits] for q, hits in stage1.items()}, data.qrels,
                        metrics=["ndcg@10"]).per_query
    margins = {qid: stage1_margin(hits) for qid, hits in stage1.items()}
    escalation = [_escalation_row(m, margins, ndcg) for m in args.margins]
    _print_escalation(escalation, len(judged), statistics.mean(n["ndcg@10"] for n in ndcg.values()))
    costs = [_cost_run(index, [data.queries[q] for q in judged], args.top_n, policy, margin)
             for policy, margin in (("uncertain", DEFAULT_MARGIN), ("always", DEFAULT_MARGIN))]
    _print_costs(costs)
    name = Path(args.data).name
    out = ROOT / "benchmarks" / "results" / f"two_stage-{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"data": name, "top_n": args.top_n,
                               "queries": len(judged), "escalation": escalation,
                               "costs": costs}, indent=2))
    print(f"\nwrote {out.relative_to(ROOT)}")


def _load_demo() -> RetrievalDataset:
    """The demo knowledge base shipped in embedkit.demo_data, as a dataset."""
    from importlib import resources

    root = resources.files("embedkit.demo_data")

    def rows(name: str) -> list[dict]:
        lines = root.joinpath(name).read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    corpus = {r["_id"]: f"{r['title']}. {r['text']}" if r.get("title") else r["text"]
              for r in rows("corpus.jsonl")}
    queries = {r["_id"]: r["text"] for r in rows("queries.jsonl")}
    return RetrievalDataset(corpus, queries, load_qrels(str(root.joinpath("qrels.tsv"))))


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA),
                        help='a BEIR folder, or "demo" for the bundled demo knowledge base')
    parser.add_argument("--top-n", type=int, default=20)
    parser.add_argument("--margins", type=float, nargs="+",
                        default=[0.0, 0.01, 0.02, 0.05, 0.1, 1.0])
    parser.add_argument("--cache-dir", type=Path,
                        default=Path(tempfile.gettempdir()) / "embedkit-two-stage")
    return parser.parse_args()


def _stage1_index(data, cache_dir: Path) -> HybridIndex:
    start = time.perf_counter()
    index = HybridIndex(Embedder(cache_dir=cache_dir / "local"))
    index.add(list(data.corpus.values()), ids=list(data.corpus))
    print(f"stage 1 index: {len(index)} documents in {time.perf_counter() - start:.1f} s")
    return index


def _escalation_row(margin: float, margins: dict, ndcg: dict) -> dict:
    """Queries that ``uncertain`` with this threshold escalates, and how well stage 1 did on
    them versus on the queries it keeps."""
    up = [q for q, m in margins.items() if m is not None and m < margin]
    kept = [q for q in margins if q not in up]
    mean = lambda qs: statistics.mean(ndcg[q]["ndcg@10"] for q in qs) if qs else None  # noqa: E731
    return {"margin": margin, "escalated": len(up), "share": len(up) / len(margins),
            "stage1_ndcg10_escalated": mean(up), "stage1_ndcg10_kept": mean(kept)}


def _print_escalation(rows: list[dict], total: int, overall: float) -> None:
    print(f"\n'uncertain' policy on {total} judged queries (stage-1 nDCG@10 overall {overall:.3f})")
    print(f"{'margin <':>9} {'escalated':>10} {'share':>6}  {'nDCG@10 escalated':>18}  "
          f"{'nDCG@10 kept':>12}")
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    for r in rows:
        print(f"{r['margin']:>9.2f} {r['escalated']:>10} {r['share']:>6.0%}  "
              f"{fmt(r['stage1_ndcg10_escalated']):>18}  {fmt(r['stage1_ndcg10_kept']):>12}")


def _cost_run(index: HybridIndex, queries: list[str], top_n: int, policy: str,
              margin: float) -> dict:
    """Run every query through two stages with a fresh premium cache: first pass, then again."""
    with FakeEmbeddingServer() as server, tempfile.TemporaryDirectory() as cache:
        premium = Embedder("openai:text-embedding-3-small", base_url=server.openai_base_url,
                           api_key="sk-benchmark-not-a-key", cache_dir=cache)
        retriever = TwoStageRetriever(index, premium, top_n=top_n, policy=policy,
                                      margin=margin, ledger=None)
        for query in queries:
            retriever.retrieve(query, k=10)
        first = retriever.stats
        requests_first = len(server.requests)
        retriever.reset_stats()
        for query in queries:
            retriever.retrieve(query, k=10)
        second = retriever.stats
    return {"policy": policy, "margin": margin, "queries": first.queries,
            "escalated": first.escalated, "documents_paid": first.documents_sent,
            "dollars": first.dollars, "full_corpus_dollars": first.full_corpus_dollars,
            "paid_share": first.paid_share, "requests": requests_first,
            "second_pass_dollars": second.dollars,
            "second_pass_requests": len(server.requests) - requests_first}


def _print_costs(rows: list[dict]) -> None:
    print("\npremium stage 2 (text-embedding-3-small prices, fake server)")
    print(f"{'policy':>10} {'escalated':>10} {'docs paid':>10} {'paid share':>11} "
          f"{'spent':>11} {'whole corpus':>13} {'2nd pass':>9}")
    for r in rows:
        label = f"{r['policy']}" + (f"<{r['margin']}" if r["policy"] == "uncertain" else "")
        print(f"{label:>10} {r['escalated']:>4}/{r['queries']:<5} {r['documents_paid']:>10} "
              f"{r['paid_share']:>11.1%} ${r['dollars']:>10.6f} ${r['full_corpus_dollars']:>12.6f}"
              f" ${r['second_pass_dollars']:>8.6f}")


if __name__ == "__main__":
    main()
