"""Per-search options of `HybridIndex.search`: alpha, ids (candidate pools), query_vector."""

from __future__ import annotations

import numpy as np
import pytest

from embedkit import Embedder, HybridIndex

DOCS = {
    "e4031": "Error NMB-4031 means the firmware signature check failed.",
    "e4301": "Error NMB-4301 appears when a gateway is claimed twice.",
    "pw": "To reset your password, open Settings > Security and send a reset link.",
    "bill": "Invoices are issued on the first business day of every month.",
}


@pytest.fixture
def index(cache_dir) -> HybridIndex:
    idx = HybridIndex(Embedder(cache_dir=cache_dir))
    idx.add(list(DOCS.values()), ids=list(DOCS))
    return idx


def ids(hits) -> list[str]:
    return [hit.id for hit in hits]


def test_ids_restrict_the_search_to_a_pool(index):
    assert ids(index.search("NMB-4031", k=4, ids=["pw", "bill", "e4301"]))[0] == "e4301"
    assert set(ids(index.search("NMB-4031", k=4, ids=["pw", "bill"]))) <= {"pw", "bill"}
    assert index.search("NMB-4031", k=4, ids=[]) == []


def test_unknown_pool_ids_are_named(index):
    with pytest.raises(KeyError, match="nope"):
        index.search("NMB-4031", ids=["pw", "nope"])


def test_alpha_override_changes_only_this_search(index):
    dense_only = index.search("NMB-4301", k=4, fusion="weighted", alpha=1.0)
    assert ids(dense_only) == ids(index.search("NMB-4301", k=4, fusion="dense"))
    assert index.alpha == 0.5
    with pytest.raises(ValueError, match="alpha must be in"):
        index.search("NMB-4301", fusion="weighted", alpha=1.5)


def test_precomputed_query_vector_gives_the_same_hits_without_embedding(index):
    query = "I forgot my login credentials"
    vector = index.embedder.embed_queries([query])[0]
    before = index.embedder.stats.texts
    hits = index.search(query, k=2, query_vector=vector)
    assert index.embedder.stats.texts == before  # nothing embedded for this search
    assert [(h.id, h.score) for h in hits] == [(h.id, h.score) for h in index.search(query, k=2)]
    with pytest.raises(ValueError, match=r"query_vector has shape \(8,\), expected \(384,\)"):
        index.search(query, query_vector=np.ones(8))
