"""nDCG@10 of each dense vector mode (float32, int8, binary + float32 re-scoring) on every
BEIR set in ../shared/data, with the bundled model, for dense-only and the default fusion.

Vectors are embedded once per set (disk cache ~/.cache/embedkit) and handed to each index
with ``add(..., vectors=...)``, so the modes differ only in how the dense side is searched.

    PYTHONPATH=shared python benchmarks/vector_modes.py
    PYTHONPATH=shared python benchmarks/vector_modes.py --sets cisi,med
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared"))

from embedkit import Embedder, HybridIndex  # noqa: E402
from embedkit.evaluate.datasets import load_beir  # noqa: E402
from embedkit.evaluate.metrics import ndcg_at_k  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MODES = ("float32", "int8", "binary")
FUSIONS = ("dense", "auto")


def evaluate(name: str, embedder: Embedder) -> dict[tuple[str, str], float]:
    data = load_beir(DATA / name)
    ids = list(data.corpus)
    texts = [data.corpus[i] for i in ids]
    judged = data.judged_queries
    started = time.perf_counter()
    doc_vectors = embedder.embed_documents(texts)
    query_vectors = embedder.embed_queries([data.queries[q] for q in judged])
    print(f"{name}: {len(ids)} docs, {len(judged)} judged queries, embedded in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    out = {}
    for mode in MODES:
        index = HybridIndex(embedder, vectors=mode)
        index.add(texts, ids, vectors=doc_vectors)
        for fusion in FUSIONS:
            scores = [ndcg_at_k([h.id for h in index.search(data.queries[q], k=10, fusion=fusion,
                                                             query_vector=v)],
                                data.qrels[q], 10)
                      for q, v in zip(judged, query_vectors)]
            out[(mode, fusion)] = float(np.mean(scores))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="msmarco-5k,cisi,med")
    args = parser.parse_args()
    embedder = Embedder()
    print("| set | fusion | float32 | int8 (Δ) | binary (Δ) |")
    print("| --- | --- | --- | --- | --- |")
    rows = []
    for name in args.sets.split(","):
        result = evaluate(name, embedder)
        for fusion in FUSIONS:
            base = result[("float32", fusion)]
            rows.append(f"| {name} | {fusion} | {base:.4f} | "
                        + " | ".join(f"{result[(m, fusion)]:.4f} "
                                     f"({result[(m, fusion)] - base:+.4f})"
                                     for m in MODES[1:]) + " |")
            print(rows[-1], flush=True)
    print("\n".join(["", "| set | fusion | float32 | int8 (Δ) | binary (Δ) |",
                     "| --- | --- | --- | --- | --- |", *rows]))


if __name__ == "__main__":
    main()
