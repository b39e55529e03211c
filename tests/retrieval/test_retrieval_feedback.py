"""Pseudo-relevance feedback: the pure parts, and through a real `HybridIndex` on the bundled
model (filters, k beyond the candidates, external dense candidates, the auto gate)."""

from __future__ import annotations

import numpy as np
import pytest

from embedkit import Embedder, HybridIndex
from embedkit.retrieval.bm25 import BM25Index
from embedkit.retrieval.feedback import expansion_terms, mix_scores, rocchio
from embedkit.retrieval.policy import SearchPolicy
from embedkit.retrieval.tokenizer import Tokenizer

DOCS = {
    "tea1": "Green tea is brewed from unoxidized leaves of Camellia sinensis at 80 degrees.",
    "tea2": "Oolong tea leaves are partly oxidized before they are rolled and dried.",
    "tea3": "Black tea is fully oxidized, which gives it a darker color and stronger taste.",
    "tea4": "Matcha is a powdered green tea whisked with hot water in a bowl.",
    "bike1": "Adjust the rear derailleur limit screws so the chain cannot fall off the cassette.",
    "bike2": "Replace worn brake pads when the groove on the pad surface is no longer visible.",
    "code": "Error NMB-4031: the firmware signature check failed; reinstall the firmware.",
    "code2": "Error NMB-4301: the gateway was claimed twice; release it in the console.",
}
META = {doc_id: {"topic": doc_id.rstrip("0123456789")} for doc_id in DOCS}


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> HybridIndex:
    idx = HybridIndex(Embedder(cache_dir=tmp_path_factory.mktemp("fb-cache")), candidates=3)
    idx.add(list(DOCS.values()), ids=list(DOCS), metadatas=list(META.values()))
    return idx


def ids(hits) -> list[str]:
    return [hit.id for hit in hits]


# ---- pure parts -----------------------------------------------------------------------------
def test_rocchio_moves_the_query_toward_the_feedback_documents():
    rng = np.random.default_rng(0)
    query = rng.normal(size=16).astype(np.float32)
    query /= np.linalg.norm(query)
    docs = rng.normal(size=(3, 16)).astype(np.float32)
    centroid = docs.mean(axis=0) / np.linalg.norm(docs.mean(axis=0))
    moved = rocchio(query, docs, beta=1.0)
    assert np.linalg.norm(moved) == pytest.approx(1.0, abs=1e-6)
    assert moved @ centroid > query @ centroid
    assert rocchio(query, docs, beta=2.0) @ centroid > moved @ centroid
    np.testing.assert_array_equal(rocchio(query, np.empty((0, 16)), 1.0), query)
    np.testing.assert_array_equal(rocchio(query, docs, 0.0), query)
    with pytest.raises(ValueError, match="dimension 8"):
        rocchio(query, np.ones((2, 8)), 1.0)


def test_expansion_terms_come_from_the_feedback_documents_and_skip_the_query():
    tokenizer = Tokenizer()
    texts = ["oolong tea leaves oxidized rolled", "black tea leaves oxidized darker",
             "green tea leaves steamed", "brake pads groove", "chain derailleur screws"]
    bm25 = BM25Index()
    bm25.build(tokenizer.tokenize_many(texts))
    terms = expansion_terms(["tea"], bm25.tokens[:2], bm25.idf, n_terms=3)
    assert "tea" not in terms and len(terms) == 3
    assert "oxid" in terms  # in both feedback documents: the strongest shared term
    assert not set(terms) & {"brake", "chain"}
    assert expansion_terms(["tea"], [[], ["tea"]], bm25.idf, 3) == []


def test_mix_scores_scales_each_side_and_ignores_an_empty_side():
    np.testing.assert_allclose(mix_scores(np.array([4.0, 2.0]), np.array([0.0, 3.0]), 0.5),
                               [0.5, 0.75])
    np.testing.assert_allclose(mix_scores(np.array([4.0, 2.0]), np.zeros(2), 0.3), [0.7, 0.35])


# ---- through the index ------------------------------------------------------------------------
def test_dense_feedback_reorders_toward_the_top_documents(index):
    query = "leaves that are oxidized"
    plain = index.search(query, k=8, fusion="dense", feedback="none")
    moved = index.search(query, k=8, fusion="dense", feedback="dense")
    assert set(ids(moved)) <= set(DOCS)
    # Feedback scores are cosines with the moved query: the tea documents the first ranking
    # put on top pull their siblings up, and the score of every tea document rises.
    before = {h.id: h.score for h in plain}
    after = {h.id: h.score for h in moved}
    first = ids(plain)[:index.policy.feedback.depth]
    assert all(after[d] > before[d] for d in first)
    assert [h.dense_score for h in moved if h.id == "tea1"] == [before["tea1"]]  # raw cosine


def test_feedback_with_k_larger_than_the_candidates_returns_everything_once(index):
    for feedback in ("dense", "bm25", "both", "auto"):
        hits = index.search("green tea", k=50, feedback=feedback)
        assert sorted(ids(hits)) == sorted(DOCS)  # candidates=3, but k=50 widens both lists


def test_feedback_respects_filters(index):
    for feedback in ("dense", "bm25", "both"):
        hits = index.search("oxidized tea leaves", k=8, filter={"topic": "bike"},
                            feedback=feedback)
        assert ids(hits) and set(ids(hits)) <= {"bike1", "bike2"}
        pool = index.search("oxidized tea leaves", k=8, ids=["tea2", "bike1"],
                            feedback=feedback)
        assert set(ids(pool)) <= {"tea2", "bike1"}


def test_auto_feedback_is_gated_off_for_a_code_lookup(index):
    query = "NMB-4031"
    auto = index.search(query, k=8)  # fusion="auto", feedback decided per query
    off = index.search(query, k=8, feedback="none")
    on = index.search(query, k=8, feedback="dense")
    assert [(h.id, h.score) for h in auto] == [(h.id, h.score) for h in off]
    assert [(h.id, h.score) for h in on] != [(h.id, h.score) for h in off]
    assert auto[0].id == "code"


def test_auto_feedback_runs_for_a_natural_language_query(index):
    query = "how do I stop my bicycle chain from dropping"
    auto = index.search(query, k=8)
    on = index.search(query, k=8, feedback="dense")
    off = index.search(query, k=8, feedback="none")
    assert [(h.id, h.score) for h in auto] == [(h.id, h.score) for h in on]
    assert [h.score for h in auto] != [h.score for h in off]


def test_feedback_with_external_dense_candidates(index, tmp_path):
    query = "oxidized tea leaves"
    vector = index.embedder.embed_query(query)
    chosen = ("tea2", "tea3", "bike1")
    cosines = index.embedder.embed_documents([DOCS[d] for d in chosen]) @ vector
    external = [*zip(chosen, cosines.tolist()), ("not-in-index", 0.9)]  # a shared store
    # With stored vectors and the query vector: feedback uses them, over the external list.
    hits = index.search(query, k=8, dense_candidates=external, query_vector=vector,
                        feedback="dense", fusion="dense")
    assert set(ids(hits)) <= {"tea2", "tea3", "bike1"}
    # A vector-store-backed index has no vectors: dense feedback is skipped, nothing fails.
    bare = HybridIndex(index.embedder, store_vectors=False)
    bare.add(list(DOCS.values()), ids=list(DOCS))
    plain = bare.search(query, k=8, dense_candidates=external, feedback="none")
    skipped = bare.search(query, k=8, dense_candidates=external, feedback="dense")
    assert [(h.id, h.score) for h in skipped] == [(h.id, h.score) for h in plain]
    assert bare.search(query, k=8, dense_candidates=external, feedback="bm25")


def test_feedback_option_is_checked_kept_and_saved(index, tmp_path):
    with pytest.raises(ValueError, match="unknown feedback 'rocchio'"):
        index.search("tea", feedback="rocchio")
    with pytest.raises(ValueError, match="unknown feedback"):
        HybridIndex(index.embedder, feedback="yes")
    custom = HybridIndex(index.embedder, feedback="both",
                         policy=SearchPolicy(dense_alpha=0.9))
    custom.add(["green tea", "black tea"], ids=["g", "b"])
    custom.save(tmp_path / "idx")
    loaded = HybridIndex.load(tmp_path / "idx", index.embedder)
    assert loaded.feedback == "both" and loaded.policy == custom.policy
    assert ids(loaded.search("green tea", k=2)) == ids(custom.search("green tea", k=2))


def test_old_auto_stays_reachable(index):
    v1 = index.search("NMB-4031 firmware", k=8, fusion="auto-v1")
    assert v1[0].id == "code"
    assert [h.score for h in v1] != [h.score for h in index.search("NMB-4031 firmware", k=8)]


def test_feedback_tokens_from_the_text_equal_the_segment_scan(msmarco):
    """BM25 feedback re-tokenizes a hit's stored text (O(document)) instead of scanning its
    segment's postings: both must give the same bag of words, in the same order."""
    tokenizer = Tokenizer()
    docs = msmarco["docs"][:400] + ["alpha alpha beta alpha", msmarco["docs"][3]]
    bm25 = BM25Index()
    bm25.build(tokenizer.tokenize_many(docs[:200]))
    bm25.add(tokenizer.tokenize_many(docs[200:]))  # more than one segment
    for row in range(len(docs)):
        fresh = tokenizer.tokenize(docs[row])
        assert bm25.row_tokens(row, fresh) == bm25.row_tokens(row), row
