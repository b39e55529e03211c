"""The live index at 100k and 1M documents, for each vector mode.

Corpus: msmarco-5k passages replicated with variations: document i is passage ``i % 5000``
followed by two tokens of its own (``ref<i>`` and a random ``tq<r>``), so every document is
distinct to BM25. Vectors are NOT embedded (that would take hours on this CPU): document i gets
the bundled model's real vector of passage ``i % 5000`` plus Gaussian noise (norm ~0.3),
re-normalized; queries are the real msmarco query vectors. The passages are tokenized once and
the two extra tokens appended (a `Tokenizer` gives the same tokens; checked on a sample).

Each (size, mode) runs in its own process so its resident memory is its own; loading runs in
another fresh process. Figures: build time, resident memory (RSS growth during the build, and
after load + searches), size on disk, load time (open + first search), p50/p99 latency of
dense and hybrid (``fusion="auto"``) searches with precomputed query vectors, add-one-then-
search and delete-one-then-search, recall@10 of dense search against exact float32. After the
load: the time to open, to open and search once, and of the first add (which builds the id
map), and memory after 20 searches split into private pages and mapped file pages (the page
cache of the saved files, shared between processes). Mode ``hnsw`` is float32 with the HNSW
graph forced on (``ann="hnsw", ann_min_rows=0``; its "vector MB" is the graph: float16
vectors and links).

    PYTHONPATH=shared python benchmarks/scale.py --sizes 100000
    PYTHONPATH=shared python benchmarks/scale.py --sizes 1000000 --modes float32,int8,binary
    PYTHONPATH=shared python benchmarks/scale.py --sizes 100000 --modes float32,hnsw
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared"))

from _data import msmarco_dir, msmarco_passages  # noqa: E402

BASE = 5000
NOISE = 0.3
QUERIES = 100
UPDATES = 30


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def rss_parts_mb() -> dict[str, float]:
    """Resident memory split into private (anonymous) pages and mapped file pages. Mapped
    pages of a saved index are the page cache, shared between processes and reclaimable:
    each row a search reads maps its neighbours too (the kernel's fault-around)."""
    parts = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("RssAnon", "RssFile"):
                parts[key] = int(value.split()[0]) / 1024
    return parts


def base_vectors(embedder) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Real msmarco passage and query vectors (cached on disk by the embedder)."""
    passages = msmarco_passages(BASE)
    with (msmarco_dir() / "queries.jsonl").open(encoding="utf-8") as fh:
        queries = [json.loads(line)["text"] for line in fh][:QUERIES]
    return embedder.embed_documents(passages), embedder.embed_queries(queries), queries


class VariantTokenizer:
    """The index's tokenizer, with the base passage's tokens computed once per passage."""

    def __init__(self, tokenizer, passages: list[str]) -> None:
        self.inner = tokenizer
        self.base = {p: tokenizer.tokenize(p) for p in passages}

    def tokenize(self, text: str) -> list[str]:
        return self.inner.tokenize(text)

    def tokenize_many(self, texts: list[str]) -> list[list[str]]:
        out = []
        for text in texts:
            head, ref, tag = text.rsplit(" ", 2)
            base = self.base.get(head)
            out.append(self.inner.tokenize(text) if base is None else [*base, ref, tag])
        return out

    def to_dict(self):
        return self.inner.to_dict()


def corpus(size: int, passages: list[str], base: np.ndarray, seed: int = 0):
    rng = np.random.default_rng(seed)
    tags = rng.integers(0, 50_000, size)
    texts = [f"{passages[i % BASE]} ref{i} tq{tags[i]}" for i in range(size)]
    ids = [f"doc{i}" for i in range(size)]
    return texts, ids, tags


def vectors_for(rows: range, base: np.ndarray, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed + rows.start)
    v = base[np.arange(rows.start, rows.stop) % BASE].copy()
    v += rng.standard_normal(v.shape, dtype=np.float32) * (NOISE / np.sqrt(v.shape[1]))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def latency(fn, repeats: list) -> tuple[float, float]:
    times = []
    for item in repeats:
        start = time.perf_counter()
        fn(item)
        times.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def run_build(size: int, mode: str, folder: Path) -> dict:
    from embedkit import Embedder, HybridIndex

    embedder = Embedder()
    base, query_vectors, queries = base_vectors(embedder)
    passages = msmarco_passages(BASE)
    texts, ids, _ = corpus(size, passages, base)
    options = {"vectors": "float32", "ann": "hnsw", "ann_min_rows": 0} if mode == "hnsw" \
        else {"vectors": mode}
    index = HybridIndex(embedder, **options)
    index.tokenizer = VariantTokenizer(index.tokenizer, passages)
    sample = texts[:200]
    assert index.tokenizer.tokenize_many(sample) == index.tokenizer.inner.tokenize_many(sample)
    rss0 = rss_mb()
    start = time.perf_counter()
    step = 100_000
    for lo in range(0, size, step):
        rows = range(lo, min(size, lo + step))
        index.add(texts[lo:rows.stop], ids[lo:rows.stop], vectors=vectors_for(rows, base))
    build_s = time.perf_counter() - start
    del texts
    rss_build = rss_mb() - rss0
    result = {"size": size, "mode": mode, "build_s": build_s, "rss_build_mb": rss_build,
              "vector_mb": index._dense.resident_bytes / 2**20}
    result["dense_p50"], result["dense_p99"] = latency(
        lambda qv: index.search("x", k=10, fusion="dense", query_vector=qv), list(query_vectors))
    result["hybrid_p50"], result["hybrid_p99"] = latency(
        lambda i: index.search(queries[i], k=10, query_vector=query_vectors[i]),
        list(range(len(queries))))
    result["top10"] = [[h.id for h in index.search("x", k=10, fusion="dense", query_vector=qv)]
                       for qv in query_vectors]
    new_vectors = vectors_for(range(size, size + UPDATES), base, seed=9)

    def add_then_search(i: int) -> None:
        index.add([f"{passages[i]} ref{size + i} tq1"], [f"new{i}"], vectors=new_vectors[i:i + 1])
        index.search(queries[i], k=10, query_vector=query_vectors[i])

    def delete_then_search(i: int) -> None:
        index.delete([f"doc{1000 + i}"])
        index.search(queries[i], k=10, query_vector=query_vectors[i])

    def add_then_bm25_search(i: int) -> None:  # the BM25 side alone (the 809 ms)
        j = UPDATES + i
        index.add([f"{passages[j]} ref{size + j} tq1"], [f"new{j}"],
                  vectors=new_vectors[i:i + 1])
        index.search(queries[i], k=10, fusion="bm25")

    result["add_p50"], result["add_p99"] = latency(add_then_search, list(range(UPDATES)))
    result["add_bm25_p50"], result["add_bm25_p99"] = latency(add_then_bm25_search,
                                                             list(range(UPDATES)))
    result["delete_p50"], result["delete_p99"] = latency(delete_then_search, list(range(UPDATES)))
    start = time.perf_counter()
    index.save(folder)
    result["save_s"] = time.perf_counter() - start
    result["disk_mb"] = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20
    start = time.perf_counter()
    index.add([f"{passages[0]} ref-x tq2"], ["after-save"], vectors=new_vectors[:1])
    index.save(folder)
    result["resave_s"] = time.perf_counter() - start
    return result


def run_load(folder: Path) -> dict:
    from embedkit import Embedder, HybridIndex

    embedder = Embedder()
    query = embedder.embed_query("what is the definition of a live index")
    start = time.perf_counter()
    try:  # a one-time library import, not part of opening the index
        import faiss  # noqa: F401
    except ImportError:
        pass
    faiss_import_s = time.perf_counter() - start
    rss0, parts0 = rss_mb(), rss_parts_mb()
    start = time.perf_counter()
    index = HybridIndex.load(folder, embedder)
    open_s = time.perf_counter() - start
    index.search("definition of a live index", k=10, query_vector=query)
    load_s = time.perf_counter() - start
    rss_open = rss_mb() - rss0
    rng = np.random.default_rng(5)
    for _ in range(20):
        index.search("definition index", k=10, fusion="dense",
                     query_vector=query + 0.05 * rng.standard_normal(query.shape).astype("f4"))
    parts = rss_parts_mb()
    result = {"open_s": open_s, "load_s": load_s, "rss_load_mb": rss_open,
              "rss_after_search_mb": rss_mb() - rss0,
              "anon_after_search_mb": parts["RssAnon"] - parts0["RssAnon"],
              "file_after_search_mb": parts["RssFile"] - parts0["RssFile"],
              "faiss_import_s": faiss_import_s}
    start = time.perf_counter()  # the id -> row map is built on the first lookup
    index.add(["a document added after the load"], ["after-load"], vectors=query[None, :])
    result["first_add_after_load_s"] = time.perf_counter() - start
    return result


def child(args: argparse.Namespace) -> None:
    folder = Path(args.folder)
    out = run_build(args.size, args.mode, folder) if args.role == "build" else run_load(folder)
    report(out)


# One thread for BLAS and faiss's OpenMP: latencies on a shared 2-core machine are stable
# only without thread oversubscription; stated in the output.
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def report(result) -> None:
    """A child's result, for `run_child` (one ``RESULT`` line of JSON)."""
    print("RESULT " + json.dumps(result), flush=True)


def run_child(script: str, *argv: str):
    """Run ``script`` with ``argv`` in a fresh single-threaded process (its memory is its
    own); returns the result it `report`-ed."""
    proc = subprocess.run([sys.executable, script, *argv], capture_output=True, text=True,
                          check=False, env={**os.environ, **SINGLE_THREAD})
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise SystemExit(f"child {argv} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def spawn(*argv: str) -> dict:
    return run_child(__file__, *argv)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--modes", default="float32,int8,binary")
    parser.add_argument("--role", choices=["build", "load"])
    parser.add_argument("--size", type=int)
    parser.add_argument("--mode")
    parser.add_argument("--folder")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if args.role:
        child(args)
        return
    print("Synthetic scale run: msmarco-5k passages replicated with 2 extra tokens each; "
          "vectors = real passage vectors + noise (not embedded); real query vectors; "
          "one BLAS/OpenMP thread; latencies exclude query embedding.")
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        exact = None
        for mode in args.modes.split(","):
            work = Path(tempfile.mkdtemp(prefix="embedkit-scale-"))
            try:
                built = spawn("--role", "build", "--size", str(size), "--mode", mode,
                              "--folder", str(work / "idx"))
                loaded = spawn("--role", "load", "--folder", str(work / "idx"))
            finally:
                shutil.rmtree(work, ignore_errors=True)
            row = {**built, **loaded}
            if mode == "float32":
                exact = row["top10"]
            if exact is not None:
                row["recall10"] = float(np.mean([len(set(a) & set(b)) / 10
                                                 for a, b in zip(exact, row["top10"])]))
            row.pop("top10")
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("\n| docs | vectors | build s | RSS build MB | vector MB | disk MB | open s | "
          "open+1st search s | 1st add after load s | after load+20 searches: private / "
          "mapped file MB | dense p50/p99 ms | hybrid p50/p99 ms | add-1+search "
          "p50/p99 ms | add-1+BM25 search p50/p99 ms | delete-1+search p50/p99 ms | save s | "
          "re-save s | recall@10 |")
    print("|" + " --- |" * 18)
    for r in rows:
        print(f"| {r['size']:,} | {r['mode']} | {r['build_s']:.1f} | {r['rss_build_mb']:.0f} | "
              f"{r['vector_mb']:.0f} | {r['disk_mb']:.0f} | {r['open_s']:.2f} | "
              f"{r['load_s']:.2f} | {r['first_add_after_load_s']:.2f} | "
              f"{r['anon_after_search_mb']:.0f} / {r['file_after_search_mb']:.0f} | "
              f"{r['dense_p50']:.1f}/{r['dense_p99']:.1f} | "
              f"{r['hybrid_p50']:.1f}/{r['hybrid_p99']:.1f} | "
              f"{r['add_p50']:.1f}/{r['add_p99']:.1f} | "
              f"{r.get('add_bm25_p50', float('nan')):.1f}/"
              f"{r.get('add_bm25_p99', float('nan')):.1f} | "
              f"{r['delete_p50']:.1f}/{r['delete_p99']:.1f} | {r['save_s']:.1f} | "
              f"{r['resave_s']:.1f} | {r.get('recall10', float('nan')):.3f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
