"""The live index: incremental BM25 equals a rebuild, tombstones and compaction, compact
vectors, precomputed vectors, memory-mapped load and incremental saves."""

from __future__ import annotations

import mmap
import os

import numpy as np
import pytest

from embedkit import Embedder, FingerprintMismatchError, HybridIndex
from embedkit.retrieval.bm25 import BM25Index

def memory_mapped(array: np.ndarray) -> bool:
    """True when the array's memory is a read-only file mapping."""
    while array is not None:
        if isinstance(array, np.memmap | mmap.mmap):
            return True
        array = array.obj if isinstance(array, memoryview) else getattr(array, "base", None)
    return False


faiss = pytest.importorskip("faiss", reason="faiss-cpu is not installed (embedkit[compact])")
MODES = ["float32", "int8", "binary"]


# ---- BM25: incremental equals rebuild ---------------------------------------------------------
@pytest.mark.parametrize("method", ["lucene", "robertson", "atire"])
def test_random_adds_and_deletes_score_like_a_fresh_build(msmarco_tokens, method):
    rng = np.random.default_rng(7)
    pool = msmarco_tokens["docs"][:900]
    queries = [q for q in msmarco_tokens["queries"][:40] if q][:12]
    live = BM25Index(method=method, merge_factor=3, compact_ratio=0.3)
    docs: list[list[str]] = []  # the live documents, by position
    for step in range(14):
        batch = [pool[i] for i in rng.integers(0, len(pool), int(rng.integers(1, 60)))]
        live.add(batch)
        docs += batch
        if step % 2 and docs:
            doomed = rng.choice(len(docs), size=min(len(docs), int(rng.integers(1, 25))),
                                replace=False)
            live.delete(doomed.tolist())
            gone = set(doomed.tolist())
            docs = [d for i, d in enumerate(docs) if i not in gone]
        fresh = BM25Index(method=method)
        fresh.build(docs)
        assert len(live) == len(docs)
        for query in queries:
            np.testing.assert_array_equal(live.get_scores(query), fresh.get_scores(query))
            assert live.search(query, 10)[0].tolist() == fresh.search(query, 10)[0].tolist()
        np.testing.assert_array_equal(live.idf(queries[0]), fresh.idf(queries[0]))
    assert len(live.engine.segments) < 14  # merges happened


def test_rank_bm25_backend_follows_deletes_and_adds(msmarco_tokens):
    docs = msmarco_tokens["docs"][:300]
    index = BM25Index(backend="rank_bm25", compact_ratio=1.0)
    index.add(docs[:200])
    index.delete(list(range(0, 200, 3)))
    index.add(docs[200:])
    kept = [d for i, d in enumerate(docs[:200]) if i % 3] + docs[200:]
    fresh = BM25Index(backend="rank_bm25")
    fresh.build(kept)
    for query in msmarco_tokens["queries"][:10]:
        np.testing.assert_allclose(index.get_scores(query), fresh.get_scores(query), rtol=1e-12)


def test_add_cost_does_not_grow_with_the_corpus():
    """One small segment per add; size-tiered merges keep the segment count logarithmic."""
    index = BM25Index(merge_factor=4)
    index.add([[f"w{i % 97}", f"v{i % 13}"] for i in range(20_000)])
    big = index.engine.segments[0]
    for i in range(300):
        index.add([[f"new{i}", "w1"]])
    assert index.engine.segments[0] is big  # never rewritten by the small adds
    assert len(index.engine.segments) <= 1 + 3 * 4  # at most merge_factor-1 per size class
    assert index.search(["new299"], 1)[0].tolist() == [20_299]


def test_segment_files_are_reused_by_the_next_save(tmp_path):
    index = BM25Index()
    index.add([["alpha", "beta"], ["beta", "gamma"]] * 50)
    index.save(tmp_path / "v1")
    index.add([["delta"]])
    index.save(tmp_path / "v2", previous=tmp_path / "v1")
    first = index.engine.segments[0].name
    old = tmp_path / "v1" / "segments" / first / "rows.npy"
    new = tmp_path / "v2" / "segments" / first / "rows.npy"
    assert os.stat(old).st_ino == os.stat(new).st_ino  # a hard link, not a new write
    loaded = BM25Index.load(tmp_path / "v2")
    assert memory_mapped(loaded.engine.segments[0].rows)
    np.testing.assert_array_equal(loaded.get_scores(["beta", "delta"]),
                                  index.get_scores(["beta", "delta"]))


# ---- HybridIndex with precomputed vectors ----------------------------------------------------
@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    return Embedder(cache_dir=tmp_path_factory.mktemp("cache"))


def clustered_vectors(n: int, dimension: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around 40 centres: neighbours are close, as in real embeddings."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, dimension))
    vectors = centres[rng.integers(0, 40, n)] + 0.6 * rng.standard_normal((n, dimension))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def corpus(msmarco, embedder):
    n = 1500
    texts = msmarco["docs"][:n]
    vectors = clustered_vectors(n, embedder.dimension)
    return texts, [f"d{i}" for i in range(n)], vectors


def same_hits(one, other, query, vector, fusion):
    """Same ids in the same order; scores equal to float32 rounding (BLAS sums a matrix
    product in an order that depends on the block layout)."""
    a = one.search(query, k=10, fusion=fusion, query_vector=vector)
    b = other.search(query, k=10, fusion=fusion, query_vector=vector)
    assert [h.id for h in a] == [h.id for h in b], fusion
    for x, y in zip(a, b):
        for field in ("score", "dense_score", "bm25_score"):
            mine, theirs = getattr(x, field), getattr(y, field)
            assert (mine is None) == (theirs is None)
            if mine is not None:
                assert mine == pytest.approx(theirs, rel=1e-5, abs=1e-6), field
        assert (x.dense_rank, x.bm25_rank) == (y.dense_rank, y.bm25_rank)


def test_random_updates_search_like_a_fresh_index(embedder, corpus):
    texts, ids, vectors = corpus
    rng = np.random.default_rng(3)
    live = HybridIndex(embedder, fusion="rrf", bm25=BM25Index(merge_factor=3))
    order: list[int] = []  # corpus indices of the live documents, in insertion order
    for step in range(10):
        new = [int(i) for i in rng.choice(len(texts), 40, replace=False) if int(i) not in order]
        live.add([texts[i] for i in new], [ids[i] for i in new], vectors=vectors[new])
        order += new
        if step % 2:
            doomed = [order[int(j)] for j in rng.choice(len(order), 25, replace=False)]
            live.delete([ids[i] for i in doomed])
            order = [i for i in order if i not in doomed]
    replaced = order[0]  # re-adding an id moves it to the end, in both indexes
    live.add([texts[replaced]], [ids[replaced]], vectors=vectors[[replaced]])
    order = order[1:] + [replaced]
    fresh = HybridIndex(embedder, fusion="rrf")
    fresh.add([texts[i] for i in order], [ids[i] for i in order], vectors=vectors[order])
    assert live.ids == fresh.ids
    for q in range(5):
        query, vector = texts[order[q * 7]][:60], clustered_vectors(1, embedder.dimension, q)[0]
        for fusion in ("rrf", "auto", "weighted", "bm25", "dense"):
            same_hits(live, fresh, query, vector, fusion)


def test_deletes_are_tombstones_until_compaction(embedder, corpus):
    texts, ids, vectors = corpus
    index = HybridIndex(embedder, bm25=BM25Index(compact_ratio=0.25))
    index.add(texts[:100], ids[:100], vectors=vectors[:100])
    index.delete(ids[:20])
    assert (len(index), index.bm25.num_rows, len(index._dense)) == (80, 100, 100)
    hits = index.search(texts[5], k=5, query_vector=vectors[5])
    assert ids[5] not in [h.id for h in hits]
    index.delete(ids[20:30])  # 30 of 100 rows dead > 25%: every part compacts
    assert (len(index), index.bm25.num_rows, len(index._dense)) == (70, 70, 70)
    assert index.ids == ids[30:100]
    assert index.search(texts[40], k=1, fusion="dense", query_vector=vectors[40])[0].id == ids[40]
    assert index.get(ids[99])[0] == texts[99]


def test_precomputed_vectors_are_checked(embedder, corpus):
    texts, ids, vectors = corpus
    index = HybridIndex(embedder)
    with pytest.raises(ValueError, match=r"shape \(2, 10\), expected \(2, 384\)"):
        index.add(texts[:2], ids[:2], vectors=np.zeros((2, 10), dtype=np.float32))
    bad = vectors[:3].copy()
    bad[1, 4] = np.nan
    with pytest.raises(ValueError, match=r"indices \[1\] are not finite"):
        index.add(texts[:3], ids[:3], vectors=bad)
    with pytest.raises(ValueError, match="stores no vectors"):
        HybridIndex(embedder, store_vectors=False).add(texts[:2], vectors=vectors[:2])
    assert len(index) == 0
    index.add(texts[:2], ids[:2], vectors=vectors[:2].astype(np.float64))
    assert embedder.stats.misses == 0  # nothing was embedded


# ---- compact vectors -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_corpus(msmarco, embedder):
    """300 msmarco passages and 30 queries embedded by the bundled model (~6 s)."""
    texts = msmarco["docs"][:300]
    return (texts, [f"d{i}" for i in range(len(texts))], embedder.embed_documents(texts),
            embedder.embed_queries(msmarco["queries"][:30]))


@pytest.mark.parametrize("mode,floor", [("int8", 0.99), ("binary", 0.95)])
def test_compact_modes_keep_recall_and_return_exact_scores(embedder, real_corpus, mode, floor):
    texts, ids, vectors, queries = real_corpus
    exact = HybridIndex(embedder, fusion="dense", candidates=10)
    compact = HybridIndex(embedder, fusion="dense", candidates=10, vectors=mode)
    for index in (exact, compact):
        for start in range(0, len(texts), 100):  # several adds: int8 ranges are re-fitted
            index.add(texts[start:start + 100], ids[start:start + 100],
                      vectors=vectors[start:start + 100])
    recall = []
    for vector in queries:
        truth = {h.id for h in exact.search("q", k=10, query_vector=vector)}
        found = compact.search("q", k=10, query_vector=vector)
        recall.append(len(truth & {h.id for h in found}) / 10)
        for hit in found:
            assert hit.score == pytest.approx(float(vectors[ids.index(hit.id)] @ vector),
                                              abs=1e-6)
    assert np.mean(recall) >= floor
    assert compact._dense.resident_bytes <= 0.3 * exact._dense.resident_bytes


@pytest.mark.parametrize("mode", ["int8", "binary"])
def test_compact_modes_respect_filters_and_deletes(embedder, corpus, mode):
    texts, ids, vectors = corpus
    index = HybridIndex(embedder, fusion="dense", vectors=mode)
    index.add(texts[:200], ids[:200], [{"half": i % 2} for i in range(200)],
              vectors=vectors[:200])
    index.delete([ids[0], ids[2]])
    hits = index.search("q", k=20, filter={"half": 0}, query_vector=vectors[0])
    assert hits and all(h.metadata == {"half": 0} for h in hits)
    assert ids[0] not in [h.id for h in hits] and ids[2] not in [h.id for h in hits]
    with pytest.raises(ValueError, match="unknown vectors mode"):
        HybridIndex(embedder, vectors="float16")


# ---- persistence -----------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_save_load_every_mode_memory_maps_and_matches(embedder, corpus, tmp_path, mode):
    texts, ids, vectors = corpus
    index = HybridIndex(embedder, vectors=mode)
    index.add(texts[:300], ids[:300], vectors=vectors[:300])
    index.delete(ids[:10])  # tombstones are saved as they are
    index.save(tmp_path / "idx")
    loaded = HybridIndex.load(tmp_path / "idx", embedder)
    assert loaded.vectors_mode == mode and loaded.ids == index.ids
    assert all(memory_mapped(c.data) for c in loaded._dense.full.chunks)
    for q in (20, 50, 299):
        for fusion in ("auto", "dense", "bm25"):
            same_hits(loaded, index, texts[q][:50], vectors[q], fusion)
    with pytest.raises(FingerprintMismatchError):
        HybridIndex.load(tmp_path / "idx", Embedder(cache=False, glossary={"A": "b"}))


@pytest.mark.parametrize("mode", MODES)
def test_a_second_save_links_unchanged_files(embedder, corpus, tmp_path, mode):
    texts, ids, vectors = corpus
    index = HybridIndex(embedder, vectors=mode)
    index.add(texts[:200], ids[:200], vectors=vectors[:200])
    index.save(tmp_path / "idx")
    loaded = HybridIndex.load(tmp_path / "idx", embedder)
    first = {p.name: os.stat(p).st_ino
             for p in (tmp_path / "idx").rglob("*.npy") if "vectors-" in p.name
             or "segments" in p.parts}
    loaded.add(texts[200:210], ids[200:210], vectors=vectors[200:210])
    loaded.save(tmp_path / "idx")
    current = tmp_path / "idx" / (tmp_path / "idx" / "CURRENT").read_text().strip()
    second = {p.name: os.stat(p).st_ino for p in current.rglob("*.npy")}
    assert any(name in second and second[name] == ino for name, ino in first.items())
    again = HybridIndex.load(tmp_path / "idx", embedder)
    assert len(again) == 210
    assert again.search(texts[205][:50], k=1, fusion="dense",
                        query_vector=vectors[205])[0].id == ids[205]


@pytest.mark.parametrize("ids", [["a", "b", "c", "d"], ["café", "文档-1", "naïve", "b"]],
                         ids=["ascii", "non-ascii"])
def test_ids_are_looked_up_after_load_whatever_their_characters(embedder, tmp_path, ids):
    """Saved ids are decoded in one pass when ASCII, row by row otherwise; both must give
    the same map, built on the first lookup after a load."""
    texts = ["reset a password", "gateway uplink lost", "monthly invoices", "uptime promise"]
    index = HybridIndex(embedder)
    index.add(texts, ids)
    index.delete([ids[1]])
    index.save(tmp_path / "idx")
    loaded = HybridIndex.load(tmp_path / "idx", embedder)
    assert loaded.ids == [ids[0], ids[2], ids[3]]
    assert ids[2] in loaded and ids[1] not in loaded
    loaded.add(["invoices are sent yearly"], [ids[2]])  # replaces, never duplicates
    loaded.add(["the gateway is back"], [ids[1]])  # a deleted id may come back
    assert sorted(loaded.ids) == sorted(ids)
    assert loaded.get(ids[2])[0] == "invoices are sent yearly"
    assert loaded.search("invoices", k=1, fusion="bm25")[0].id == ids[2]
