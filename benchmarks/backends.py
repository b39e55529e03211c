"""Local backends side by side: torch, onnx (fp32) and onnx-int8, in one run, same texts.

For each backend, in its own process (so peak memory is its own), on msmarco-5k passages:
- export time (ONNX backends, into an empty export folder) and load time;
- passages/s through `Embedder.embed_documents` (cache off) at batch 16, 32 and 64; the best;
- one query end to end through `Embedder.embed_query`, p50/p99 over distinct queries (cache
  off, so every call runs the model);
- peak memory (max RSS) after those;
- hybrid search latency (every backend), query text to hits, on a `HybridIndex` of all
  5,000 passages
  (documents embedded once into a temp cache; the queries are distinct and uncached);
- mean/min cosine of its passage vectors to torch's.
Prints a table and ratios to torch. Targets: onnx-int8 >= 1.8x torch passages/s, one query
<= 4 ms, mean cosine >= 0.99. Backends run one after another, ``--rounds`` times in turn; each
figure is the best round (machine noise hits every backend alike).

    PYTHONPATH=shared python benchmarks/backends.py
    PYTHONPATH=shared python benchmarks/backends.py --docs 512 --rounds 2 --no-hybrid
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import msmarco_dir, msmarco_passages  # noqa: E402

BACKENDS = ("torch", "onnx", "onnx-int8")
BATCH_SIZES = (16, 32, 64)
HYBRID_BACKENDS = ("torch", "onnx", "onnx-int8")


# ----------------------------------------------------------------------------- worker
def distinct_queries(count: int) -> list[str]:
    """msmarco-5k's queries, then more distinct ones cut from passages (6-10 words each)."""
    queries = [json.loads(line)["text"] for line in
               (msmarco_dir() / "queries.jsonl").read_text(encoding="utf-8").splitlines()
               if line.strip()]
    for i, passage in enumerate(msmarco_passages(count)):
        words = passage.split()
        queries.append(" ".join(words[i % 7: i % 7 + 6 + i % 5]))
    return list(dict.fromkeys(q for q in queries if q.strip()))[:count]


def percentile_ms(seconds: list[float], q: float) -> float:
    return float(np.percentile(np.array(seconds) * 1000, q))


def worker(backend: str, docs: int, queries: int, hybrid: bool, out: Path,
           cache_dir: Path) -> None:
    from embedkit import Embedder, HybridIndex
    from embedkit.providers import onnx_export

    texts = msmarco_passages(docs)
    started = time.perf_counter()
    embedder = Embedder(backend=backend, cache=False)
    load_s = time.perf_counter() - started
    export_s = None
    if backend != "torch":
        export_s = onnx_export.read_manifest(embedder.provider._onnx.folder)["export_seconds"]
    embedder.embed_documents(texts[:64])  # warm-up: first calls pay one-off allocations
    per_batch = {}
    for batch in BATCH_SIZES:
        embedder.batch_size = batch
        t0 = time.perf_counter()
        vectors = embedder.embed_documents(texts)
        per_batch[batch] = len(texts) / (time.perf_counter() - t0)
    np.save(out / f"{backend}.npy", vectors, allow_pickle=False)
    query_texts = distinct_queries(queries + 10)
    for q in query_texts[:10]:
        embedder.embed_query(q)  # warm-up
    latencies = []
    for q in query_texts[10:]:
        t0 = time.perf_counter()
        embedder.embed_query(q)
        latencies.append(time.perf_counter() - t0)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"backend": backend, "load_s": load_s, "export_s": export_s,
              "per_batch": per_batch, "query_p50_ms": percentile_ms(latencies, 50),
              "query_p99_ms": percentile_ms(latencies, 99), "peak_mb": peak_mb,
              "docs": len(texts), "queries": len(latencies)}
    if hybrid and backend in HYBRID_BACKENDS:
        result.update(hybrid_latency(backend, query_texts[10:], Embedder, HybridIndex,
                                     cache_dir))
    (out / f"{backend}.json").write_text(json.dumps(result), encoding="utf-8")


def hybrid_latency(backend: str, queries: list[str], embedder_cls, index_cls,
                   cache_dir: Path) -> dict:
    """Query text to hits on all 5,000 passages, with the embedder's disk cache on as users run
    it: the documents come from a warm cache, every timed query is new (a miss)."""
    from embedkit.evaluate import load_beir

    corpus = list(load_beir(msmarco_dir()).corpus.values())  # as benchmarks/backend_quality.py
    index = index_cls(embedder_cls(backend=backend, cache_dir=cache_dir))
    index.add(corpus)
    run_id = f"{time.time_ns()} "  # distinct from any earlier run's queries in that cache
    for q in queries[:10]:
        index.search("warm-up " + run_id + q, k=10)
    latencies = []
    for q in queries:
        t0 = time.perf_counter()
        index.search(run_id + q, k=10)
        latencies.append(time.perf_counter() - t0)
    return {"hybrid_p50_ms": percentile_ms(latencies, 50),
            "hybrid_p99_ms": percentile_ms(latencies, 99), "hybrid_docs": len(corpus)}


# ----------------------------------------------------------------------------- driver
def run_round(args: argparse.Namespace, out: Path) -> dict[str, dict]:
    results = {}
    with tempfile.TemporaryDirectory() as exports:
        env = {**os.environ, "EMBEDKIT_ONNX_DIR": exports}  # a cold export every round
        for backend in args.backends:
            cmd = [sys.executable, __file__, "--worker", backend, "--docs", str(args.docs),
                   "--queries", str(args.queries), "--out", str(out),
                   "--cache-dir", str(args.cache_dir), "--exports", exports]
            if not args.hybrid:
                cmd.append("--no-hybrid")
            subprocess.run(cmd, env=env, check=True)
            results[backend] = json.loads((out / f"{backend}.json").read_text(encoding="utf-8"))
            results[backend]["vectors"] = np.load(out / f"{backend}.npy", allow_pickle=False)
            print(f"  {backend}: done", flush=True)
    return results


def fastembed_worker(backend: str, docs: int, queries: int, out: Path, exports: Path) -> None:
    """fastembed's TextEmbedding on the file our ``backend`` exported, loaded from a local folder
    (``specific_model_path``: no hub), with the bundled model's tokenizer files."""
    import shutil

    from fastembed import TextEmbedding

    from embedkit.providers.local import bundled_model_path

    from embedkit.providers.onnx_export import read_manifest

    onnx_file = next(folder / "model.onnx" for folder in exports.glob(f"{backend}-*")
                     if folder.is_dir() and read_manifest(folder)["backend"] == backend)
    folder = exports / f"fastembed-{backend}"
    folder.mkdir(exist_ok=True)
    for name in ("tokenizer.json", "config.json", "special_tokens_map.json",
                 "tokenizer_config.json", "vocab.txt"):
        shutil.copy(bundled_model_path() / name, folder / name)
    shutil.copy(onnx_file, folder / "model.onnx")
    texts = msmarco_passages(docs)
    started = time.perf_counter()
    model = TextEmbedding("sentence-transformers/all-MiniLM-L6-v2", specific_model_path=str(folder),
                          local_files_only=True, threads=_threads())
    load_s = time.perf_counter() - started
    list(model.embed(texts[:64], batch_size=32))
    per_batch = {}
    for batch in BATCH_SIZES:
        t0 = time.perf_counter()
        vectors = np.array(list(model.embed(texts, batch_size=batch)), dtype=np.float32)
        per_batch[batch] = len(texts) / (time.perf_counter() - t0)
    np.save(out / f"fastembed-{backend}.npy", vectors, allow_pickle=False)
    query_texts = distinct_queries(queries + 10)
    for q in query_texts[:10]:
        list(model.query_embed(q))
    latencies = []
    for q in query_texts[10:]:
        t0 = time.perf_counter()
        list(model.query_embed(q))
        latencies.append(time.perf_counter() - t0)
    result = {"backend": f"fastembed-{backend}", "load_s": load_s, "export_s": None,
              "per_batch": per_batch, "query_p50_ms": percentile_ms(latencies, 50),
              "query_p99_ms": percentile_ms(latencies, 99),
              "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
              "docs": len(texts), "queries": len(latencies)}
    (out / f"fastembed-{backend}.json").write_text(json.dumps(result), encoding="utf-8")


def _threads() -> int:
    from embedkit.providers.onnx_model import default_threads

    return default_threads()


def best_of(rounds: list[dict[str, dict]]) -> dict[str, dict]:
    best = {}
    for backend in rounds[0]:
        runs = [r[backend] for r in rounds]
        merged = dict(runs[0])
        merged["per_batch"] = {b: max(r["per_batch"][b] for r in runs) for b in runs[0]["per_batch"]}
        for key in ("query_p50_ms", "query_p99_ms", "hybrid_p50_ms", "hybrid_p99_ms",
                    "load_s", "peak_mb"):
            if key in merged:
                merged[key] = min(r[key] for r in runs)
        if merged.get("export_s") is not None:
            merged["export_s"] = min(r["export_s"] for r in runs)
        best[backend] = merged
    return best


def report(best: dict[str, dict]) -> None:
    torch = best["torch"]
    torch_rate = max(torch["per_batch"].values())
    print(f"\n{torch['docs']} msmarco-5k passages, {torch['queries']} distinct queries\n")
    print("| backend | passages/s (batch) | vs torch | 16 / 32 / 64 | query p50 / p99 ms | "
          "vs torch p50 | hybrid 5k p50 / p99 ms | peak MB | export s | mean / min cos |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for backend, r in best.items():
        rate = max(r["per_batch"].values())
        batch = max(r["per_batch"], key=r["per_batch"].get)
        cos = (r["vectors"] * torch["vectors"]).sum(axis=1)
        hybrid = (f"{r['hybrid_p50_ms']:.1f} / {r['hybrid_p99_ms']:.1f}"
                  if "hybrid_p50_ms" in r else "-")
        export = f"{r['export_s']:.1f}" if r.get("export_s") is not None else "-"
        print(f"| {backend} | {rate:.1f} ({batch}) | {rate / torch_rate:.2f}x | "
              + " / ".join(f"{r['per_batch'][b]:.0f}" for b in r["per_batch"])
              + f" | {r['query_p50_ms']:.2f} / {r['query_p99_ms']:.2f} | "
              f"{torch['query_p50_ms'] / r['query_p50_ms']:.2f}x | {hybrid} | "
              f"{r['peak_mb']:.0f} | {export} | {cos.mean():.4f} / {cos.min():.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000, help="passages for throughput")
    parser.add_argument("--queries", type=int, default=200, help="distinct timed queries")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--no-hybrid", dest="hybrid", action="store_false")
    parser.add_argument("--cache-dir", type=Path,
                        default=Path(tempfile.gettempdir()) / "embedkit-bench-backends-cache",
                        help="embedding cache for the 5k hybrid corpus (reused between runs; "
                             "backend_quality.py's --cache-dir fills it too)")
    parser.add_argument("--fastembed", action="store_true",
                        help="also run fastembed on our exported onnx and onnx-int8 files "
                             "(needs fastembed importable)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--exports", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker and args.worker.startswith("fastembed-"):
        fastembed_worker(args.worker.removeprefix("fastembed-"), args.docs, args.queries,
                         args.out, args.exports)
        return
    if args.worker:
        worker(args.worker, args.docs, args.queries, args.hybrid, args.out, args.cache_dir)
        return
    args.backends = list(BACKENDS) + (["fastembed-onnx", "fastembed-onnx-int8"]
                                      if args.fastembed else [])
    with tempfile.TemporaryDirectory() as out:
        rounds = []
        for number in range(args.rounds):
            print(f"round {number + 1}/{args.rounds}", flush=True)
            rounds.append(run_round(args, Path(out)))
    report(best_of(rounds))


if __name__ == "__main__":
    main()
