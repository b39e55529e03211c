"""nDCG@10 of each local backend (torch, onnx, onnx-int8), dense and hybrid, on every data set.

The bundled all-MiniLM-L6-v2 through `embedkit.evaluate.compare` (the same search path as
``embedkit bench``) on msmarco-5k, cisi and med from ``../shared/data``; prints each backend's
scores and its difference to torch. The default backend must stay within 0.005 of torch on
every set and mode.

    PYTHONPATH=shared python benchmarks/backend_quality.py
    PYTHONPATH=shared python benchmarks/backend_quality.py --json /tmp/backend_quality.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import DATA_DIR  # noqa: E402

from embedkit.evaluate import compare, load_beir  # noqa: E402

BACKENDS = ("torch", "onnx", "onnx-int8")
SETS = ("msmarco-5k", "cisi", "med")
MODES = "dense,hybrid"
TOLERANCE = 0.005


def measure(sets: tuple[str, ...], backends: tuple[str, ...],
            cache_dir: Path) -> dict[str, dict[str, dict[str, float]]]:
    """``{set: {backend: {mode: ndcg@10}}}``."""
    scores: dict[str, dict[str, dict[str, float]]] = {}
    for name in sets:
        data = load_beir(DATA_DIR / name)
        scores[name] = {}
        for backend in backends:
            table = compare(data, models=[None], modes=MODES, metrics=("ndcg@10",),
                            cache_dir=cache_dir, embedder_options={"backend": backend})
            scores[name][backend] = {run.mode: run.result.mean["ndcg@10"] for run in table.runs}
            print(f"{name:11s} {backend:9s} " + "  ".join(
                f"{mode}={value:.4f}" for mode, value in scores[name][backend].items()),
                flush=True)
    return scores


def report(scores: dict[str, dict[str, dict[str, float]]], backends: tuple[str, ...]) -> None:
    others = [b for b in backends if b != "torch"]
    modes = list(next(iter(next(iter(scores.values())).values())))
    print("\n| set | mode | " + " | ".join(backends) + " | "
          + " | ".join(f"{b} Δ" for b in others) + " |")
    print("|---|---|" + "---|" * (len(backends) + len(others)))
    worst = {b: 0.0 for b in others}
    for name, by_backend in scores.items():
        for mode in modes:
            base = by_backend["torch"][mode]
            deltas = {b: by_backend[b][mode] - base for b in others}
            for b, d in deltas.items():
                worst[b] = min(worst[b], d)
            print(f"| {name} | {mode} | " + " | ".join(f"{by_backend[b][mode]:.4f}"
                                                      for b in backends)
                  + " | " + " | ".join(f"{deltas[b]:+.4f}" for b in others) + " |")
    for backend, drop in worst.items():
        verdict = "within" if drop >= -TOLERANCE else "NOT within"
        print(f"{backend}: worst difference to torch {drop:+.4f} ({verdict} {TOLERANCE})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--backends", default=",".join(BACKENDS),
                        help="torch first; e.g. torch,onnx-int8 (onnx fp32 gives torch's vectors "
                             "to ~1e-7, so its scores repeat torch's)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="embedding cache to reuse between runs (default: a temp dir)")
    parser.add_argument("--json", type=Path, default=None, help="also write the scores here")
    args = parser.parse_args()
    backends = tuple(args.backends.split(","))
    if backends[0] != "torch":
        parser.error("--backends must start with torch (the reference)")
    with tempfile.TemporaryDirectory() as tmp:
        scores = measure(tuple(args.sets.split(",")), backends, args.cache_dir or Path(tmp))
    report(scores, backends)
    if args.json:
        args.json.write_text(json.dumps(scores, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
