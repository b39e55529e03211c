"""Throughput of the API providers at different `max_concurrency`, against the local fake API.

Every request to the fake server waits a fixed latency (50 ms by default, a fast real API), so
the figure shows what bounded concurrency buys: with one request in flight the run takes about
batches x latency; with N in flight, about 1/N of that until the CPU becomes the limit.

    python benchmarks/api.py                          # 10,000 texts, openai, concurrency 1 and 8
    python benchmarks/api.py --provider cohere --texts 2000 --concurrency 1 2 4 8

Texts come from ../shared/data/msmarco-5k when it is there (repeated with a suffix to reach
--texts distinct texts), else they are generated. Results: a table on stdout and JSON in
benchmarks/results/api.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from embedkit import Embedder  # noqa: E402
from tests.fakeapi import FakeEmbeddingServer  # noqa: E402
from tests.fakeapi.process import FakeServerProcess  # noqa: E402

CORPUS = ROOT.parent / "shared" / "data" / "msmarco-5k" / "corpus.jsonl"
MODELS = {"openai": "openai:text-embedding-3-small", "cohere": "cohere:embed-english-v3.0"}


def load_texts(count: int, corpus: Path = CORPUS) -> tuple[list[str], str]:
    """``count`` distinct passages and where they came from."""
    if corpus.is_file():
        with corpus.open(encoding="utf-8") as f:
            base = [json.loads(line)["text"] for line in f if line.strip()]
        source = f"passages from {corpus.parent.name}"
    else:
        base = [f"synthetic passage {i} about topic {i % 97}" for i in range(5000)]
        source = "synthetic passages"
    texts = [base[i % len(base)] + ("" if i < len(base) else f" (copy {i // len(base)})")
             for i in range(count)]
    return texts, source


def run_once(server: FakeServerProcess | FakeEmbeddingServer, provider: str, texts: list[str],
             *, concurrency: int, batch_size: int, dimensions: int | None) -> dict[str, float]:
    """Embed ``texts`` with no cache at one concurrency; wall time and request figures."""
    base_url = server.openai_base_url if provider == "openai" else server.url
    emb = Embedder(MODELS[provider], api_key="sk-benchmark", base_url=base_url, cache=False,
                   batch_size=batch_size, max_concurrency=concurrency, dimensions=dimensions)
    server.reset()
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    vectors = emb.embed_documents(texts)
    seconds = time.perf_counter() - started
    client_cpu = _cpu_seconds() - cpu_before
    assert vectors.shape[0] == len(texts)
    requests, peak = _server_counts(server)
    return {"concurrency": concurrency, "seconds": round(seconds, 3),
            "texts_per_second": round(len(texts) / seconds, 1),
            "requests": requests, "max_in_flight": peak,
            "client_cpu_seconds": round(client_cpu, 2)}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _server_counts(server: FakeServerProcess | FakeEmbeddingServer) -> tuple[int, int]:
    if isinstance(server, FakeServerProcess):
        stats = server.stats()
        return stats["requests"], stats["max_in_flight"]
    return len(server.requests), server.max_in_flight


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--provider", choices=sorted(MODELS), default="openai")
    parser.add_argument("--texts", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--dimensions", type=int, default=None)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="a BEIR corpus.jsonl")
    parser.add_argument("--in-process", action="store_true",
                        help="run the fake server in this process (its CPU work then competes "
                             "with the client's for the interpreter)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "api.json")
    args = parser.parse_args(argv)

    texts, source = load_texts(args.texts, args.corpus)
    server_cls = FakeEmbeddingServer if args.in_process else FakeServerProcess
    with server_cls(latency=args.latency) as server:
        run_once(server, args.provider, texts[:200], concurrency=2, batch_size=args.batch_size,
                 dimensions=args.dimensions)  # warm-up: imports, tokenizer, first connections
        rows = [run_once(server, args.provider, texts, concurrency=c, batch_size=args.batch_size,
                         dimensions=args.dimensions) for c in args.concurrency]
    baseline = rows[0]["seconds"]
    for row in rows:
        row["speedup"] = round(baseline / row["seconds"], 2)

    where = "in-process" if args.in_process else "separate process"
    load = os.getloadavg()[0]
    print(f"{args.provider}: {len(texts)} {source}, batch {args.batch_size}, "
          f"{args.latency * 1000:g} ms per request, fake server in a {where}; "
          f"{os.cpu_count()} CPUs, load average {load:.1f}")
    print("| max_concurrency | seconds | texts/s | requests | peak in flight | client CPU s "
          "| speedup |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['concurrency']} | {row['seconds']} | {row['texts_per_second']} | "
              f"{row['requests']} | {row['max_in_flight']} | {row['client_cpu_seconds']} | "
              f"{row['speedup']}x |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"provider": args.provider, "texts": len(texts),
                                    "source": source, "latency": args.latency, "server": where,
                                    "load_average": load,
                                    "batch_size": args.batch_size, "runs": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
