"""Engine overhead and cache speed-up, measured as ratios in one run.

    .venv/bin/python benchmarks/engine.py --docs 1000 --repeats 2

Prints: the engine's cold-cache throughput over raw ``SentenceTransformer.encode`` on the same
texts (target overhead <= 5%), and a warm-cache re-embed over a cold one (target >= 50x).
Raw and engine runs alternate so machine noise hits both; each figure is the best of the runs.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _data import msmarco_passages  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

from embedkit import Embedder  # noqa: E402
from embedkit.providers.local import bundled_model_path  # noqa: E402


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    texts = msmarco_passages(args.docs)
    raw = SentenceTransformer(str(bundled_model_path()))
    raw.encode(texts[:64], batch_size=32)  # warm-up: first call pays one-off allocations

    raw_times, cold_times, warm_times = [], [], []
    for _ in range(args.repeats):
        raw_times.append(timed(lambda: raw.encode(texts, batch_size=32,
                                                  normalize_embeddings=True)))
        with tempfile.TemporaryDirectory() as cache_dir:
            cold = Embedder(cache_dir=cache_dir)
            cold_times.append(timed(lambda: cold.embed_documents(texts)))
            warm = Embedder(cache_dir=cache_dir)
            warm_times.append(timed(lambda: warm.embed_documents(texts)))
            assert warm.stats.hits == len(set(texts)) and warm.stats.misses == 0

    best_raw, best_cold, best_warm = min(raw_times), min(cold_times), min(warm_times)
    print(f"texts: {len(texts)} msmarco-5k passages, batch 32, best of {args.repeats}")
    print(f"raw SentenceTransformer.encode : {len(texts) / best_raw:8.1f} texts/s")
    print(f"engine, cold cache             : {len(texts) / best_cold:8.1f} texts/s")
    print(f"engine, warm cache             : {len(texts) / best_warm:8.1f} texts/s")
    print(f"engine overhead over raw encode: {100 * (best_cold / best_raw - 1):+.1f}% "
          "(target <= +5%)")
    print(f"warm / cold speed-up           : {best_cold / best_warm:.0f}x (target >= 50x)")


if __name__ == "__main__":
    main()
