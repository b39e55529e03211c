"""Finding 9, index half: odd but plausible inputs get a clear error or a consistent result."""

from __future__ import annotations

import math

import pytest

from embedkit import HybridIndex

from .conftest import DOCS, META


@pytest.fixture
def index(module_embedder) -> HybridIndex:
    idx = HybridIndex(module_embedder)
    idx.add(list(DOCS.values()), ids=list(DOCS), metadatas=[META[i] for i in DOCS])
    return idx


def test_a_string_is_not_a_list_of_ids(module_embedder):
    index = HybridIndex(module_embedder)
    with pytest.raises(TypeError, match="ids must be a list"):
        index.add(["one", "two", "three"], ids="abc")
    assert len(index) == 0


@pytest.mark.parametrize("bad", [5, ["kind"], "kind", ("kind", "error"), 3.0])
def test_a_filter_that_is_neither_a_mapping_nor_callable_is_a_type_error(index, bad):
    with pytest.raises(TypeError, match="filter"):
        index.search("uplink", k=2, filter=bad)


def test_a_filter_key_that_is_not_a_string_is_a_type_error(index):
    with pytest.raises(TypeError, match="filter key"):
        index.search("uplink", k=2, filter={1: "error"})


@pytest.mark.parametrize("bad", [None, "all-MiniLM-L6-v2", 5])
def test_an_index_needs_an_embedder(bad):
    with pytest.raises(TypeError, match="embedder"):
        HybridIndex(bad)


def test_metadata_keys_must_be_strings(module_embedder):
    index = HybridIndex(module_embedder)
    with pytest.raises(TypeError, match="metadata at index 1.*key 7"):
        index.add(["a doc", "b doc"], ids=["a", "b"], metadatas=[{}, {7: "seven"}])
    with pytest.raises(TypeError, match="metadata at index 0.*not finite|NaN"):
        index.add(["a doc"], ids=["a"], metadatas=[{"score": math.nan}])
    assert len(index) == 0


def test_metadata_filters_match_the_same_before_and_after_save(module_embedder, tmp_path):
    """Tuples became lists on disk, so a filter matched before a save and not after."""
    index = HybridIndex(module_embedder)
    index.add(["first text", "second text"], ids=["a", "b"],
              metadatas=[{"tags": ("red", "blue"), "nested": {"pair": (1, 2)}}, {"tags": []}])
    index.save(tmp_path / "idx")
    loaded = HybridIndex.load(tmp_path / "idx", module_embedder)
    for flt in ({"tags": ["red", "blue"]}, {"tags": ("red", "blue")},
                {"nested": {"pair": [1, 2]}}):
        before = [h.id for h in index.search("text", k=5, filter=flt, fusion="bm25")]
        after = [h.id for h in loaded.search("text", k=5, filter=flt, fusion="bm25")]
        assert before == after == ["a"], flt
    assert index.get("a")[1] == loaded.get("a")[1] == {"tags": ["red", "blue"],
                                                      "nested": {"pair": [1, 2]}}


def test_external_candidates_with_a_nan_score_are_refused(index):
    with pytest.raises(ValueError, match="dense_candidates.*'password'.*finite"):
        index.search("reset password", k=2, fusion="weighted",
                     dense_candidates=[("err-4031", 0.3), ("password", math.nan)])


@pytest.mark.parametrize("bad", [[("err-4031",)], ["err-4031"], [("err-4031", "high")],
                                 [(4031, 0.5)], "err-4031"])
def test_malformed_external_candidates_are_type_errors(index, bad):
    with pytest.raises(TypeError, match="dense_candidates"):
        index.search("reset password", k=2, fusion="weighted", dense_candidates=bad)


def test_duplicate_external_candidates_keep_each_ids_best_score(index):
    hits = index.search("reset password", k=4, fusion="dense",
                        dense_candidates=[("password", 0.2), ("billing", 0.5),
                                          ("password", 0.9), ("billing", 0.1)])
    assert [(h.id, h.score) for h in hits] == [("password", 0.9), ("billing", 0.5)]
    fused = index.search("reset password", k=4, fusion="weighted",
                         dense_candidates=[("password", 0.2), ("password", 0.9)])
    assert [h.id for h in fused].count("password") == 1
    assert all(math.isfinite(h.score) for h in fused)
