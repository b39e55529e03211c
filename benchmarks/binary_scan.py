"""Binary codes at 1M x 384: faiss's IndexBinaryFlat scan against the numpy fallback.

Both `BinaryCodes` paths hold the same codes (clustered: 5,000 random centres plus noise, as
the scale benchmark's corpus) and propose 2,000 candidates per query (depth 100 x rescore 20),
one thread, in alternation, three rounds; prints each round's p50 and the ratio.

    OMP_NUM_THREADS=1 PYTHONPATH=shared python benchmarks/binary_scan.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared"))

from embedkit.retrieval.quantize import BinaryCodes  # noqa: E402

ROWS, DIM, DEPTH, QUERIES = 1_000_000, 384, 2000, 30


def main() -> None:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((5000, DIM)).astype(np.float32)
    fast, plain = BinaryCodes(DIM), BinaryCodes(DIM, use_faiss=False)
    for lo in range(0, ROWS, 100_000):
        block = centres[np.arange(lo, lo + 100_000) % len(centres)]
        block = block + 0.015 * rng.standard_normal(block.shape).astype(np.float32)
        fast.add(block)
        plain.add(block)
    queries = centres[:QUERIES] + 0.1 * rng.standard_normal((QUERIES, DIM)).astype(np.float32)
    for round_ in range(3):
        times: dict[str, list[float]] = {"faiss": [], "numpy": []}
        for query in queries:
            for name, codes in (("faiss", fast), ("numpy", plain)):
                start = time.perf_counter()
                codes.candidates(query, DEPTH, None)
                times[name].append(time.perf_counter() - start)
        f, n = np.median(times["faiss"]), np.median(times["numpy"])
        print(f"round {round_}: faiss {1000 * f:.1f} ms, numpy {1000 * n:.1f} ms per query "
              f"({ROWS:,} x {DIM}, {DEPTH} candidates): {n / f:.2f}x")


if __name__ == "__main__":
    main()
