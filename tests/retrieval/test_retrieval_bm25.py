"""BM25Index: parity with rank-bm25, positive-only hits, deletes, persistence, top-k."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embedkit.retrieval.bm25 import BM25Index, top_k_positive
from embedkit.retrieval.tokenizer import Tokenizer

K1, B = 1.5, 0.75

DOCS = [
    "Replace the NMB-4031 bearing every 2000 hours.",
    "The NMB-4032 bearing is the heavy-duty variant.",
    "Error E1127 means the spindle overheated.",
    "Our service level agreement promises 99.9% uptime.",
    "The SLA covers support hours only.",
    "Bearings wear out faster when the spindle runs hot.",
]


def build(texts, **kwargs):
    tokenizer = Tokenizer(glossary={"SLA": "service level agreement"})
    index = BM25Index(**kwargs)
    index.build(tokenizer.tokenize_many(texts))
    return index, tokenizer


# ---- parity with rank-bm25 on a real corpus -------------------------------------------------
@pytest.fixture(scope="module")
def parity_indexes(msmarco_tokens):
    ours = BM25Index(method="robertson", k1=K1, b=B)
    ours.build(msmarco_tokens["docs"])
    oracle = BM25Index(backend="rank_bm25", k1=K1, b=B)
    oracle.build(msmarco_tokens["docs"])
    return ours, oracle


def test_same_top10_as_rank_bm25_on_msmarco(parity_indexes, msmarco_tokens):
    ours, oracle = parity_indexes
    queries = msmarco_tokens["queries"][:20]
    for query in queries:
        ours_pos, ours_scores = ours.search(query, k=10)
        oracle_pos, oracle_scores = oracle.search(query, k=10)
        assert len(ours_pos) == 10
        assert ours_pos.tolist() == oracle_pos.tolist(), query
        # bm25s leaves out BM25Okapi's constant (k1 + 1) factor; otherwise the same formula.
        np.testing.assert_allclose(ours_scores * (K1 + 1), oracle_scores, rtol=1e-5)


def test_default_lucene_idf_stays_close_to_okapi(msmarco_tokens, parity_indexes):
    """The default differs from Okapi only in its IDF curve: top-10 lists overlap heavily."""
    _, oracle = parity_indexes
    default = BM25Index()
    default.build(msmarco_tokens["docs"])
    overlaps = [len(set(default.search(q, 10)[0]) & set(oracle.search(q, 10)[0])) / 10
                for q in msmarco_tokens["queries"][:20]]
    assert np.mean(overlaps) >= 0.9


@pytest.mark.parametrize("method", ["lucene", "robertson", "atire"])
def test_vectorized_build_equals_bm25s_own_index(msmarco_tokens, method):
    bm25s = pytest.importorskip("bm25s")
    docs = msmarco_tokens["docs"][:1500]
    ours = BM25Index(method=method)
    ours.build(docs)
    reference = bm25s.BM25(method=method)
    reference.index(docs, show_progress=False)
    for query in msmarco_tokens["queries"]:
        if query:
            np.testing.assert_array_equal(ours.get_scores(query), reference.get_scores(query))


# ---- hits -----------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["bm25s", "rank_bm25"])
def test_zero_score_documents_are_never_returned(backend):
    index, tok = build(DOCS, backend=backend)
    positions, scores = index.search(tok("spindle"), k=10)
    assert sorted(positions.tolist()) == [2, 5]
    assert np.all(scores > 0)
    assert index.search(tok("zebra"), k=10)[0].size == 0
    assert index.search([], k=10)[0].size == 0
    assert index.search(tok("spindle"), k=0)[0].size == 0


def test_term_in_most_documents_still_scores_with_lucene_idf():
    """Why "lucene" is the default: Okapi/Robertson IDF is 0 for a term in half of the
    documents (and <= 0 beyond, Okapi's floor aside), so a small corpus returns nothing."""
    texts = ["pump seal", "pump motor", "valve", "gasket"]
    lucene, tok = build(texts)
    okapi, _ = build(texts, backend="rank_bm25")
    robertson, _ = build(texts, method="robertson")
    assert sorted(lucene.search(tok("pump"), 5)[0].tolist()) == [0, 1]
    assert okapi.search(tok("pump"), 5)[0].size == 0
    assert robertson.search(tok("pump"), 5)[0].size == 0


def test_exact_code_ranks_first_and_its_neighbour_far_below():
    index, tok = build(DOCS)
    scores = index.get_scores(tok("NMB-4031"))
    positions, _ = index.search(tok("NMB-4031"), k=10)
    assert positions[0] == 0
    assert scores[1] < 0.5 * scores[0]  # NMB-4032 shares only the "nmb" part


def test_glossary_aware_search_both_directions():
    index, tok = build(DOCS)
    assert sorted(index.search(tok("SLA"), k=10)[0].tolist()) == [3, 4]
    assert sorted(index.search(tok("service level agreement"), k=10)[0].tolist()) == [3, 4]


@pytest.mark.parametrize("tombstone", [False, True])
def test_mask_filters_before_the_top_k(tombstone):
    index, tok = build(DOCS, compact_ratio=0.5)
    if tombstone:
        index.delete([2])  # "Error E1127 ..." leaves; positions after it move up
    mask = np.zeros(len(index), dtype=bool)
    mask[-1] = True  # only the last document ("Bearings wear out ... spindle runs hot")
    positions, _ = index.search(tok("bearing spindle"), k=1, mask=mask)
    assert positions.tolist() == [len(index) - 1]
    assert index.search(tok("NMB-4031"), k=5, mask=mask)[0].size == 0
    with pytest.raises(ValueError, match=rf"shape \({len(index)},\)"):
        index.search(tok("bearing"), k=1, mask=np.ones(3, dtype=bool))


def test_get_scores_matches_search():
    index, tok = build(DOCS)
    scores = index.get_scores(tok("bearing spindle"))
    positions, top = index.search(tok("bearing spindle"), k=3)
    np.testing.assert_allclose(scores[positions], top)
    assert top[0] == scores.max()


# ---- mutations ------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["bm25s", "rank_bm25"])
def test_delete_hides_documents_and_shifts_positions(backend):
    index, tok = build(DOCS, backend=backend, compact_ratio=0.5)
    index.delete([0])
    assert len(index) == len(DOCS) - 1
    assert index.search(tok("nmb"), k=10)[0].tolist() == [0]  # old 1 (NMB-4032) is now 0
    assert sorted(index.tokens[0]) == sorted(tok(DOCS[1]))
    assert index.search(tok("2000"), k=10)[0].size == 0  # only the deleted doc had it
    assert index.num_built == len(DOCS) - 1  # statistics count live documents only
    assert index.num_rows == len(DOCS)  # a tombstone until compaction


@pytest.mark.parametrize("backend", ["bm25s", "rank_bm25"])
def test_compaction_equals_a_fresh_build(backend):
    index, tok = build(DOCS, backend=backend)
    index.delete([0, 3])
    index.compact()
    fresh, _ = build([d for i, d in enumerate(DOCS) if i not in (0, 3)], backend=backend)
    query = tok("bearing spindle SLA hours")
    np.testing.assert_array_equal(index.get_scores(query), fresh.get_scores(query))
    assert index.num_built == len(DOCS) - 2


def test_deleting_past_the_ratio_compacts():
    index, _ = build(DOCS, compact_ratio=0.2)
    index.delete([0])  # 1/6 < 0.2: tombstone
    assert (index.num_rows, index.num_built) == (6, 5)
    index.delete([0])  # 2/6 > 0.2: rows compacted
    assert (index.num_rows, index.num_built) == (4, 4)


def test_add_after_build_is_searchable():
    index, tok = build(DOCS)
    index.add([tok("A brand new gearbox manual")])
    positions, _ = index.search(tok("gearbox"), k=5)
    assert positions.tolist() == [len(DOCS)]


def test_bad_input_is_named():
    index, tok = build(DOCS)
    with pytest.raises(IndexError, match=r"\[6, -1\] out of range for 6 documents"):
        index.delete([6, -1])
    with pytest.raises(TypeError, match="tokenize it first"):
        index.search("spindle", k=3)
    with pytest.raises(TypeError, match="document 1: tokens must be non-empty str"):
        BM25Index().build([["ok"], ["fine", 3]])
    with pytest.raises(ValueError, match="unknown BM25 backend"):
        BM25Index(backend="whoosh")


# ---- persistence ----------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["bm25s", "rank_bm25"])
def test_save_load_round_trip_scores_identically(tmp_path, backend):
    index, tok = build(DOCS, backend=backend)
    index.delete([2])  # a tombstone: save compacts it away first
    index.save(tmp_path / "bm25")
    loaded = BM25Index.load(tmp_path / "bm25")
    assert loaded.to_dict() == index.to_dict()
    assert loaded.tokens == index.tokens
    for query in ["bearing", "SLA", "spindle hot", "NMB-4031"]:
        np.testing.assert_array_equal(loaded.get_scores(tok(query)), index.get_scores(tok(query)))
        assert loaded.search(tok(query), 3)[0].tolist() == index.search(tok(query), 3)[0].tolist()


def test_saved_files_are_json_and_plain_numpy(tmp_path):
    index, _ = build(DOCS)
    index.save(tmp_path / "bm25")
    files = sorted(p.relative_to(tmp_path / "bm25").as_posix()
                   for p in (tmp_path / "bm25").rglob("*") if p.is_file())
    assert all(f.endswith((".json", ".npy")) for f in files), files
    for path in (tmp_path / "bm25").rglob("*.npy"):
        assert np.load(path, allow_pickle=False).dtype != object
    for path in (tmp_path / "bm25").rglob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))
    with pytest.raises(FileExistsError, match="not empty"):
        index.save(tmp_path / "bm25")


def test_empty_index_saves_and_loads(tmp_path):
    index = BM25Index()
    index.save(tmp_path / "empty")
    loaded = BM25Index.load(tmp_path / "empty")
    assert len(loaded) == 0 and loaded.search(["x"], 5)[0].size == 0


# ---- top-k selection ------------------------------------------------------------------------
def test_top_k_matches_a_full_sort_with_ties_and_zeros():
    rng = np.random.default_rng(0)
    for _ in range(50):
        scores = rng.integers(0, 4, size=200).astype(np.float64)  # many ties, many zeros
        k = int(rng.integers(1, 30))
        positions, values = top_k_positive(scores, k)
        positive = np.flatnonzero(scores > 0)
        expected = positive[np.lexsort((positive, -scores[positive]))][:k]
        assert positions.tolist() == expected.tolist()
        np.testing.assert_array_equal(values, scores[expected])


def test_a_loaded_vocabulary_takes_new_tokens_without_unpacking():
    """After a load, new tokens go beside the packed vocabulary: ids stay those a vocabulary
    built in one go gives, lookups find both parts, and a second pack sorts them together."""
    from embedkit.retrieval.segments import Vocabulary

    first = [["the", "gateway", "uplink"], ["zeta", "alpha", "the", "élan"]]
    later = [["alpha", "new", "a"], ["zz", "gateway", "ω", "aa"]]
    whole = Vocabulary()
    whole.encode(first)
    expected = whole.encode(later)[1]
    vocab = Vocabulary()
    vocab.encode(first)
    loaded = Vocabulary.from_packed(*vocab.pack())
    assert np.array_equal(loaded.encode(later)[1], expected)
    assert loaded.tokens == whole.tokens and len(loaded) == len(whole)
    assert [loaded.token(i) for i in range(len(loaded))] == whole.tokens
    blob, offsets, order = loaded.pack()
    words = [bytes(blob[offsets[i]:offsets[i + 1]]) for i in order.tolist()]
    assert words == sorted(t.encode("utf-8") for t in whole.tokens)
    again = Vocabulary.from_packed(blob, offsets, order)
    probe = ["zz", "the", "missing", "ω", "a", "élan"]
    assert again.lookup(probe).tolist() == whole.lookup(probe).tolist()
    assert again.lookup(["missing"]).tolist() == [-1]
