"""Which HNSW library for `HybridIndex`'s approximate dense search: usearch, faiss or hnswlib.

Vectors: `scale.py`'s synthetic corpus (real msmarco passage vectors + noise, re-normalized;
real msmarco query vectors). Every library gets the same graph settings (M / connectivity 16,
ef construction 100, inner product) and is asked for the top ``--k`` (100: what `HybridIndex`
asks the dense side for) with ``ef = max(ef_search, k)``; the candidates are re-scored exactly
in float32 (as `HybridIndex` does) and recall@10 is measured against exact float32 search.

Each library runs in its own process with one thread (OMP_NUM_THREADS=1), so its resident
memory (RSS growth during the build, vectors excluded) is its own; one build per library is
searched at every ``--ef``. Figures: build time, RSS,
recall@10, p50 single-query latency, add-one latency (one more vector into the built graph),
filtered search (half the rows allowed, at random: tombstones and metadata filters) -- its
latency and whether every result was allowed -- and persistence: save and load time, bytes
on disk, whether the file can be memory-mapped, and what the format is.

    PYTHONPATH=shared python benchmarks/ann_choice.py --size 100000
    PYTHONPATH=shared python benchmarks/ann_choice.py --size 1000000 --libs faiss-fp16 --ef 256,512,1024,2048
    PYTHONPATH=shared python benchmarks/ann_choice.py --size 300000 --libs faiss-fp16 --ef 256,512 \
        --batches 10 --m 32
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared"))

from scale import base_vectors, report, rss_mb, run_child, vectors_for  # noqa: E402

M, EF_CONSTRUCTION = 16, 100  # --m sets M
BATCHES = 1  # --batches: the faiss graphs grow by this many adds (as a live index does)
ADDS = 30


class Faiss:
    """faiss ``IndexHNSWFlat`` (``storage="flat"``) or ``IndexHNSWSQ`` with 8-bit (``"sq8"``)
    or float16 (``"fp16"``) codes."""

    def __init__(self, dim: int, storage: str = "flat") -> None:
        import faiss
        self.faiss = faiss
        if storage == "flat":
            self.index = faiss.IndexHNSWFlat(dim, M, faiss.METRIC_INNER_PRODUCT)
        else:
            kind = {"sq8": faiss.ScalarQuantizer.QT_8bit,
                    "fp16": faiss.ScalarQuantizer.QT_fp16}[storage]
            self.index = faiss.IndexHNSWSQ(dim, kind, M, faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = EF_CONSTRUCTION
        self.storage = storage
        self.format = ("faiss binary (write_index), or its graph arrays as .npy; "
                       "no pickle")

    def build(self, vectors: np.ndarray) -> None:
        if self.storage != "flat":
            self.index.train(vectors[:: max(1, len(vectors) // 100_000)])
        for part in np.array_split(vectors, BATCHES):
            self.index.add(part)

    def add(self, vector: np.ndarray, key: int) -> None:
        self.index.add(vector[None, :])

    def search(self, query: np.ndarray, k: int, ef: int, allowed=None) -> np.ndarray:
        sel = None
        if allowed is not None:
            bits = np.packbits(allowed, bitorder="little")
            sel = self.faiss.IDSelectorBitmap(len(allowed), self.faiss.swig_ptr(bits))
        params = self.faiss.SearchParametersHNSW(efSearch=ef, sel=sel)
        _, rows = self.index.search(query[None, :], k, params=params)
        return rows[0][rows[0] >= 0]

    def save(self, path: Path) -> None:
        self.faiss.write_index(self.index, str(path))

    def load(self, path: Path):
        # IO_FLAG_MMAP maps only the codes of some index types; HNSW reads everything.
        return self.faiss.read_index(str(path))


class Hnswlib:
    def __init__(self, dim: int) -> None:
        import hnswlib
        self.index = hnswlib.Index(space="ip", dim=dim)
        self.dim = dim
        self.format = "hnswlib binary (save_index); no pickle; no mmap"

    def build(self, vectors: np.ndarray) -> None:
        self.index.init_index(max_elements=len(vectors) + ADDS + 1, M=M,
                              ef_construction=EF_CONSTRUCTION)
        self.index.set_num_threads(1)
        self.index.add_items(vectors, np.arange(len(vectors)))

    def add(self, vector: np.ndarray, key: int) -> None:
        self.index.add_items(vector[None, :], [key])

    def search(self, query: np.ndarray, k: int, ef: int, allowed=None) -> np.ndarray:
        self.index.set_ef(ef)
        flt = None if allowed is None else (lambda label: bool(allowed[label]))
        labels, _ = self.index.knn_query(query[None, :], k=k, num_threads=1, filter=flt)
        return labels[0].astype(np.int64)

    def save(self, path: Path) -> None:
        self.index.save_index(str(path))

    def load(self, path: Path):
        import hnswlib
        index = hnswlib.Index(space="ip", dim=self.dim)
        index.load_index(str(path))
        return index


class Usearch:
    def __init__(self, dim: int) -> None:
        from usearch.index import Index
        self.index = Index(ndim=dim, metric="ip", dtype="f32", connectivity=M,
                           expansion_add=EF_CONSTRUCTION)
        self.format = "usearch binary (save); no pickle; view=True memory-maps"

    def build(self, vectors: np.ndarray) -> None:
        self.index.add(np.arange(len(vectors)), vectors, threads=1)

    def add(self, vector: np.ndarray, key: int) -> None:
        self.index.add(key, vector, threads=1)

    def search(self, query: np.ndarray, k: int, ef: int, allowed=None) -> np.ndarray:
        self.index.expansion_search = ef
        if allowed is None:
            return self.index.search(query, k, threads=1).keys.astype(np.int64)
        # No filter callback in the Python API: over-fetch, then drop what is not allowed.
        keys = self.index.search(query, 4 * k, threads=1).keys.astype(np.int64)
        return keys[allowed[keys]][:k]

    def save(self, path: Path) -> None:
        self.index.save(str(path))

    def load(self, path: Path):
        from usearch.index import Index
        return Index.restore(str(path), view=True)


LIBS = {"faiss": lambda d: Faiss(d), "faiss-sq8": lambda d: Faiss(d, "sq8"),
        "faiss-fp16": lambda d: Faiss(d, "fp16"),
        "hnswlib": Hnswlib, "usearch": Usearch}


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int,
              allowed: np.ndarray | None = None) -> list[set[int]]:
    out = []
    for query in queries:
        scores = vectors @ query
        if allowed is not None:
            scores = np.where(allowed, scores, -np.inf)
        out.append(set(np.argpartition(-scores, k)[:k].tolist()))
    return out


def rescored_top(vectors: np.ndarray, query: np.ndarray, rows: np.ndarray, k: int) -> set[int]:
    scores = vectors[rows] @ query
    return set(rows[np.argsort(-scores)[:k]].tolist())


def recall(found: list[set[int]], truth: list[set[int]]) -> float:
    return float(np.mean([len(a & b) / len(b) for a, b in zip(found, truth)]))


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return (time.perf_counter() - start) * 1000, out


def run(lib: str, size: int, k: int, efs: list[int], data: Path) -> list[dict]:
    """One build of ``lib``, then searches at each ef (one row per ef)."""
    base, queries = np.load(data / "base.npy"), np.load(data / "queries.npy")
    vectors = np.concatenate([vectors_for(range(lo, min(size, lo + 100_000)), base)
                              for lo in range(0, size, 100_000)])
    truth = exact_top(vectors, queries, 10)
    allowed = np.random.default_rng(3).random(size) < 0.5
    truth_f = exact_top(vectors, queries, 10, allowed)
    ann = LIBS[lib](vectors.shape[1])
    rss0 = rss_mb()
    start = time.perf_counter()
    ann.build(vectors)
    out = {"lib": lib, "size": size, "build_s": time.perf_counter() - start,
           "rss_mb": rss_mb() - rss0, "format": ann.format}
    rows = [{**out, "ef": ef, **searches(ann, vectors, queries, k, max(ef, k), truth, allowed,
                                         truth_f)} for ef in efs]
    extra = vectors_for(range(size, size + ADDS), base, seed=9)
    out["add_p50_ms"] = float(np.median([timed(lambda i=i: ann.add(extra[i], size + i))[0]
                                         for i in range(ADDS)]))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "graph.bin"
        ms, _ = timed(lambda: ann.save(path))
        out["save_s"], out["disk_mb"] = ms / 1000, path.stat().st_size / 2**20
        rss1 = rss_mb()
        ms, loaded = timed(lambda: ann.load(path))
        out["load_s"], out["rss_load_mb"] = ms / 1000, rss_mb() - rss1
        del loaded
    return [{**row, **out} for row in rows]


def searches(ann, vectors, queries, k, ef, truth, allowed, truth_f) -> dict:
    """p50 latency and recall@10 (after exact re-scoring), unfiltered and half filtered."""
    out = {}
    for name, mask, want in (("", None, truth), ("filtered_", allowed, truth_f)):
        times, found, leaked = [], [], 0
        for query in queries:
            ms, rows = timed(lambda q=query: ann.search(q, k, ef, mask))
            times.append(ms)
            leaked += 0 if mask is None else int((~mask[rows]).sum())
            found.append(rescored_top(vectors, query, rows, 10))
        out[f"{name}p50_ms"], out[f"{name}recall10"] = float(np.median(times)), recall(found,
                                                                                      want)
    out["filter_leaks"] = leaked
    return out


def spawn(lib: str, size: int, k: int, efs: str, data: Path) -> list[dict]:
    return run_child(__file__, "--child", lib, "--size", str(size), "--k", str(k), "--ef", efs,
                     "--data", str(data), "--m", str(M), "--batches", str(BATCHES))


def main() -> None:
    global M, BATCHES
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--libs", default="faiss,faiss-fp16,faiss-sq8,hnswlib,usearch")
    parser.add_argument("--k", type=int, default=100, help="candidates asked of the graph")
    parser.add_argument("--ef", default="100,256", help="ef search values (at least k)")
    parser.add_argument("--m", type=int, default=M, help="links per node (M, connectivity)")
    parser.add_argument("--batches", type=int, default=1,
                        help="build the faiss graphs by this many adds")
    parser.add_argument("--child")
    parser.add_argument("--data", help="(child) folder of base.npy and queries.npy")
    args = parser.parse_args()
    M, BATCHES = args.m, args.batches
    if args.child:
        efs = [int(e) for e in args.ef.split(",")]
        out = run(args.child, args.size, args.k, efs, Path(args.data))
        report(out)
        return
    print(f"{args.size:,} synthetic msmarco vectors (384-d), M={M}, faiss built in {BATCHES} "
          f"add(s), ef_construction="
          f"{EF_CONSTRUCTION}, top {args.k} asked with ef=max(ef, k), re-scored "
          "exactly; one thread; recall@10 vs exact float32.")
    from embedkit import Embedder

    rows = []
    with tempfile.TemporaryDirectory() as tmp:  # the base vectors, embedded once
        base, queries, _ = base_vectors(Embedder())
        np.save(Path(tmp) / "base.npy", base)
        np.save(Path(tmp) / "queries.npy", queries)
        for lib in args.libs.split(","):
            rows += spawn(lib, args.size, args.k, args.ef, Path(tmp))
            print(json.dumps(rows[-len(args.ef.split(",")):]), flush=True)
    print("\n| library | ef | build s | RSS MB | recall@10 | p50 ms | add-1 ms | filtered p50 ms | "
          "filtered recall@10 | filter leaks | save s | disk MB | load s | RSS after load MB "
          "| format |")
    print("|" + " --- |" * 15)
    for r in rows:
        print(f"| {r['lib']} | {r['ef']} | {r['build_s']:.1f} | {r['rss_mb']:.0f} | {r['recall10']:.3f} | "
              f"{r['p50_ms']:.2f} | {r['add_p50_ms']:.2f} | {r['filtered_p50_ms']:.2f} | "
              f"{r['filtered_recall10']:.3f} | {r['filter_leaks']} | {r['save_s']:.2f} | "
              f"{r['disk_mb']:.0f} | {r['load_s']:.3f} | {r['rss_load_mb']:.0f} | "
              f"{r['format']} |")


if __name__ == "__main__":
    main()
