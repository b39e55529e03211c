"""Approximate dense search (``ann="hnsw"``): recall, exact scores, live updates, filters,
compaction, save/load and hostile saved graphs."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from embedkit import Embedder, HybridIndex
from embedkit.atomic_dir import current_version
from embedkit.errors import IndexFormatError
from embedkit.retrieval.hnsw import DEFAULT_M

pytest.importorskip("faiss", reason="faiss-cpu is not installed (embedkit[compact])")

BASE, SIZE = 300, 3000


@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    return Embedder(cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def data(msmarco, embedder):
    """3000 real-ish vectors (300 embedded msmarco passages, each 10 times with noise, as in
    benchmarks/scale.py) and 30 real query vectors."""
    base = embedder.embed_documents(msmarco["docs"][:BASE])
    rng = np.random.default_rng(0)
    vectors = base[np.arange(SIZE) % BASE] + rng.standard_normal(
        (SIZE, base.shape[1]), dtype=np.float32) * (0.3 / np.sqrt(base.shape[1]))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    texts = [f"{msmarco['docs'][i % BASE]} ref{i}" for i in range(SIZE)]
    ids = [f"d{i}" for i in range(SIZE)]
    metas = [{"half": i % 2, "rare": i % 100 == 0} for i in range(SIZE)]
    return texts, ids, metas, vectors.astype(np.float32), embedder.embed_queries(
        msmarco["queries"][:30])


def build(embedder, data, chunk=500, **options) -> HybridIndex:
    texts, ids, metas, vectors, _ = data
    index = HybridIndex(embedder, fusion="dense", **options)
    for lo in range(0, SIZE, chunk):  # several adds: the graph is built, then inserted into
        index.add(texts[lo:lo + chunk], ids[lo:lo + chunk], metas[lo:lo + chunk],
                  vectors=vectors[lo:lo + chunk])
    return index


@pytest.fixture(scope="module")
def exact(embedder, data):
    return build(embedder, data)


@pytest.fixture(scope="module")
def ann(embedder, data):
    return build(embedder, data, ann="hnsw", ann_min_rows=0)


def recall(one, other, queries, k=10, **search) -> float:
    found = []
    for vector in queries:
        truth = {h.id for h in one.search("q", k=k, query_vector=vector, **search)}
        hits = {h.id for h in other.search("q", k=k, query_vector=vector, **search)}
        found.append(len(truth & hits) / max(1, len(truth)))
    return float(np.mean(found))


def test_recall_is_high_and_scores_are_exact_cosines(ann, exact, data):
    _, ids, _, vectors, queries = data
    assert ann._dense.ann.graph is not None and len(ann._dense.ann.graph) == SIZE
    assert recall(exact, ann, queries) >= 0.95
    for vector in queries[:10]:
        for hit in ann.search("q", k=10, query_vector=vector):
            row = ids.index(hit.id)
            assert hit.score == pytest.approx(float(vectors[row] @ vector), abs=1e-6)
    assert ann._dense.resident_bytes < 0.7 * exact._dense.resident_bytes  # float16 + links


def test_below_the_threshold_search_is_exact(embedder, data, exact):
    queries = data[4]
    index = build(embedder, data, ann="hnsw", ann_min_rows=SIZE + 1)
    assert index._dense.ann.graph is None
    for vector in queries[:10]:
        a = index.search("q", k=10, query_vector=vector)
        b = exact.search("q", k=10, query_vector=vector)
        assert [(h.id, h.score) for h in a] == [(h.id, h.score) for h in b]


def test_crossing_the_threshold_builds_once_then_inserts(embedder, data):
    texts, ids, metas, vectors, queries = data
    index = HybridIndex(embedder, fusion="dense", ann="hnsw", ann_min_rows=1000)
    index.add(texts[:600], ids[:600], vectors=vectors[:600])
    assert index._dense.ann.graph is None
    index.add(texts[600:1100], ids[600:1100], vectors=vectors[600:1100])
    graph = index._dense.ann.graph
    assert graph is not None and len(graph) == 1100
    index.add(["a brand new document"], ["new"], vectors=queries[:1])
    assert index._dense.ann.graph is graph and len(graph) == 1101  # inserted, not rebuilt
    assert index.search("q", k=1, query_vector=queries[0])[0].id == "new"


def test_deleted_and_filtered_rows_are_never_returned(embedder, data, exact):
    _, ids, _, vectors, queries = data
    index = build(embedder, data, ann="hnsw", ann_min_rows=0)
    index.bm25.compact_ratio = 1.0  # keep the tombstones
    doomed = [h.id for h in exact.search("q", k=5, query_vector=queries[0])]
    index.delete(doomed)
    hits = index.search("q", k=10, query_vector=queries[0])
    assert len(hits) == 10 and not set(doomed) & {h.id for h in hits}
    for flt in ({"half": 0}, {"rare": True}):  # 50% of rows; 1% (exact over allowed rows)
        found = []
        for vector in queries:
            hits = index.search("q", k=10, filter=flt, query_vector=vector)
            assert hits and all(h.metadata[key] == v for h in hits for key, v in flt.items())
            truth = exact.search("q", k=10, filter=flt, query_vector=vector)
            found.append(len({h.id for h in hits} & {h.id for h in truth}) / len(truth))
        assert np.mean(found) >= (0.95 if "half" in flt else 1.0), flt


def test_compaction_rebuilds_the_graph(embedder, data):
    texts, ids, metas, vectors, queries = data
    index = build(embedder, data, ann="hnsw", ann_min_rows=0)
    index.bm25.compact_ratio = 1.0
    index.delete(ids[::3])
    index.compact()
    kept = [i for i in range(SIZE) if i % 3]
    assert len(index._dense.ann.graph) == len(kept) == index.bm25.num_rows
    fresh = HybridIndex(embedder, fusion="dense")
    fresh.add([texts[i] for i in kept], [ids[i] for i in kept], vectors=vectors[kept])
    assert recall(fresh, index, queries) >= 0.95
    for vector in queries[:5]:
        for hit in index.search("q", k=10, query_vector=vector):
            assert hit.score == pytest.approx(float(vectors[ids.index(hit.id)] @ vector),
                                              abs=1e-6)


def test_save_load_restores_the_graph_and_its_settings(ann, embedder, data, tmp_path):
    queries = data[4]
    ann.save(tmp_path / "idx")
    loaded = HybridIndex.load(tmp_path / "idx", embedder)
    assert (loaded.ann, loaded.ann_min_rows, loaded.ef_search) == ("hnsw", 0, 512)
    assert len(loaded._dense.ann.graph) == SIZE
    for vector in queries:
        a = loaded.search("q", k=10, query_vector=vector)
        b = ann.search("q", k=10, query_vector=vector)
        assert [h.id for h in a] == [h.id for h in b]
        assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-6)
    loaded.add(["added after the load"], ["late"], vectors=queries[:1])
    assert loaded.search("q", k=1, query_vector=queries[0])[0].id == "late"
    exact = HybridIndex.load(tmp_path / "idx", embedder, ann=None)  # the override wins
    assert exact._dense.ann is None


def test_an_exact_save_loaded_with_ann_builds_the_graph(exact, embedder, data, tmp_path):
    exact.save(tmp_path / "idx")
    loaded = HybridIndex.load(tmp_path / "idx", embedder, ann="hnsw", ann_min_rows=0)
    assert len(loaded._dense.ann.graph) == SIZE
    assert recall(exact, loaded, data[4]) >= 0.95


# ---- hostile saved graphs ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved(ann, tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "idx"
    ann.save(path)
    return path


def tamper(saved, tmp_path, change) -> tuple:
    """A copy of the save with ``change(vectors_folder, manifest)`` applied."""
    import shutil

    target = tmp_path / "idx"
    shutil.copytree(saved, target, symlinks=True)
    version = current_version(target)
    manifest = json.loads((version / "manifest.json").read_text())
    change(version / "vectors", manifest)
    (version / "manifest.json").write_text(json.dumps(manifest))
    return target


def _edit(name, fn):
    def change(folder, manifest):
        array = np.load(folder / name)
        (folder / name).unlink()  # hard-linked from the saved copy: never write through
        np.save(folder / name, fn(array.copy()))
    return change


def _out_of_range(neighbors):
    neighbors[7] = SIZE + 5
    return neighbors


def _upper_link_to_a_ground_node(folder, manifest):
    levels = np.load(folder / "hnsw_levels.npy")
    offsets = np.load(folder / "hnsw_offsets.npy")
    upper, ground = int(np.flatnonzero(levels > 1)[0]), int(np.flatnonzero(levels == 1)[0])
    _edit("hnsw_neighbors.npy", lambda n: _set(n, int(offsets[upper]) + 2 * DEFAULT_M, ground))(
        folder, manifest)


def _set(array, position, value):
    array[position] = value
    return array


def _truncate(folder, manifest):
    data = (folder / "hnsw_codes.npy").read_bytes()
    (folder / "hnsw_codes.npy").unlink()
    (folder / "hnsw_codes.npy").write_bytes(data[:-100])


def _entry(folder, manifest):
    manifest["vectors"]["ann"]["entry_point"] = SIZE + 1


@pytest.mark.parametrize("change,file", [
    (_edit("hnsw_neighbors.npy", _out_of_range), "hnsw_neighbors.npy"),
    (_edit("hnsw_neighbors.npy", lambda n: n[:-3]), "hnsw_neighbors.npy"),
    (_upper_link_to_a_ground_node, "hnsw_neighbors.npy"),
    (_edit("hnsw_offsets.npy", lambda o: o[:-1]), "hnsw_offsets.npy"),
    (_edit("hnsw_offsets.npy", lambda o: _set(o, 5, o[5] + 1)), "hnsw_offsets.npy"),
    (_edit("hnsw_levels.npy", lambda v: _set(v, 3, 99)), "hnsw_levels.npy"),
    (_edit("hnsw_levels.npy", lambda v: v.astype(np.int64)), "hnsw_levels.npy"),
    (_edit("hnsw_codes.npy", lambda c: c[:, :-2]), "hnsw_codes.npy"),
    (_truncate, "hnsw_codes.npy"),
    (_entry, "manifest.json"),
])
def test_hostile_graph_files_raise_index_format_error(saved, embedder, tmp_path, change, file):
    target = tamper(saved, tmp_path, change)
    with pytest.raises(IndexFormatError, match=file):
        HybridIndex.load(target, embedder)


# ---- settings --------------------------------------------------------------------------------
def test_bad_settings_and_missing_faiss_are_clear(embedder, monkeypatch):
    with pytest.raises(ValueError, match="vectors='float32' only"):
        HybridIndex(embedder, vectors="int8", ann="hnsw")
    with pytest.raises(ValueError, match="unknown ann"):
        HybridIndex(embedder, ann="ivf")
    with pytest.raises(ValueError, match="ef_search"):
        HybridIndex(embedder, ann="hnsw", ef_search=0)
    monkeypatch.setitem(sys.modules, "faiss", None)  # as if faiss-cpu were not installed
    with pytest.raises(ImportError, match=r"embedkit\[compact\]"):
        HybridIndex(embedder, ann="hnsw")
    HybridIndex(embedder)  # exact search needs no faiss
