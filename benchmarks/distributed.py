"""Bulk embedding on Ray: 1 vs 2 actors on cold caches, then the warm-Redis rerun.

    .venv/bin/python benchmarks/distributed.py --docs 2000

Embeds the first ``--docs`` msmarco-5k passages (../shared/data) with `embed_dataset` on a
local Ray of ``--cpus`` logical CPUs, each actor reserving ``--cpus-per-actor`` (Ray sets each
actor's torch threads to that), all caching in one Redis: a redis-server the script starts on a free
port unless ``--redis URL`` is given. Each cold run has its own key prefix, so it starts empty;
the warm run re-embeds the 2-actor run's data into a fresh output and must send nothing to the
model. Wall times include actor start-up and model loading, as a user sees them. A single-process
`Embedder` (no cache, torch's default threads) on the same texts is the reference.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from _data import msmarco_passages  # noqa: E402

from embedkit import Embedder  # noqa: E402
from embedkit.cache_redis import RedisVectorCache  # noqa: E402
from embedkit.distributed import embed_dataset  # noqa: E402


def start_redis(workdir: Path) -> tuple[str, subprocess.Popen]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found: apt-get install -y redis-server, or --redis URL")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--dir",
                                str(workdir), "--save", "", "--appendonly", "no"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(200):
        try:
            RedisVectorCache(url).close()
            return url, process
        except ConnectionError:
            time.sleep(0.05)
    process.terminate()
    raise SystemExit("redis-server did not start")


def run(label: str, dataset, output: Path, cache_url: str, actors: int, cpus: float) -> dict:
    result = embed_dataset(dataset, output, embedder={"cache": cache_url}, actors=actors,
                           num_cpus=cpus, batch_size=128)
    stats = result.stats
    row = {"run": label, "actors": actors, "rows": result.rows_written,
           "seconds": round(result.seconds, 1),
           "rows_per_s": round(result.rows_written / result.seconds, 1),
           "model_texts": stats.misses, "cache_hits": stats.hits}
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--cpus", type=int, default=3,
                        help="logical CPUs of the local Ray: one more than 2 actors reserve, "
                             "for Ray Data's own tasks (the machine may have fewer cores)")
    parser.add_argument("--cpus-per-actor", type=float, default=1.0)
    parser.add_argument("--redis", help="use this Redis instead of starting one")
    args = parser.parse_args()

    import ray

    texts = msmarco_passages(args.docs)
    rows = [{"id": str(i), "text": text} for i, text in enumerate(texts)]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        url, server = (args.redis, None) if args.redis else start_redis(work)
        ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False,
                 logging_level="warning")
        ray.data.DataContext.get_current().enable_progress_bars = False
        prefixes = ("bench-1:", "bench-2:")
        try:
            start = time.perf_counter()
            Embedder(cache=False).embed_documents(texts)
            single = time.perf_counter() - start
            print(json.dumps({"run": "single process, no Ray", "rows": len(texts),
                              "seconds": round(single, 1),
                              "rows_per_s": round(len(texts) / single, 1)}), flush=True)
            dataset = ray.data.from_items(rows)
            cpus = args.cpus_per_actor
            run("cold, 1 actor", dataset, work / "out-1", f"{url}?prefix={prefixes[0]}", 1, cpus)
            run("cold, 2 actors", dataset, work / "out-2", f"{url}?prefix={prefixes[1]}", 2, cpus)
            warm = run("warm Redis rerun, 2 actors", dataset, work / "out-warm",
                       f"{url}?prefix={prefixes[1]}", 2, cpus)
            assert warm["model_texts"] == 0, "the warm rerun sent texts to the model"
        finally:
            for prefix in prefixes:
                RedisVectorCache(url, prefix=prefix).clear()
            ray.shutdown()
            if server is not None:
                server.terminate()
                server.wait(timeout=10)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
