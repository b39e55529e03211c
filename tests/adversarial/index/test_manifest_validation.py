"""Finding 4: every setting and file of a save is checked against what `save` can write.

A hostile or corrupt save must be refused at load with `IndexFormatError` naming the file, never
a hang (a catastrophic tokenizer regex), a broken search (``monitor="x"``) or NaN scores.
"""

from __future__ import annotations


import numpy as np
import pytest

from embedkit import HybridIndex
from embedkit.errors import EmbedKitError, IndexFormatError
from embedkit.retrieval.tokenizer import Tokenizer

from .conftest import edit_json, run_loads_in_child, saved_file, version_folder


def test_a_catastrophic_tokenizer_regex_is_never_compiled(saved):
    """``(a+)+$`` took 17 s for one search; now it is refused at load, in well under a second."""
    edit_json(version_folder(saved) / "manifest.json",
              lambda m: m["tokenizer"].update(pattern="(a+)+$"))
    [result] = run_loads_in_child([f"attempt({str(saved)!r}, query='a' * 40 + '!')"])
    print(f"\ncatastrophic pattern refused in {result['seconds']:.4f} s")
    assert result["outcome"].startswith("embedkit.errors.IndexFormatError"), result
    assert "pattern" in result["outcome"] and "manifest.json" in result["outcome"]
    assert result["seconds"] < 2


def test_a_custom_pattern_loads_when_the_caller_supplies_the_tokenizer(module_embedder,
                                                                        tmp_path):
    tokenizer = Tokenizer(pattern=r"[a-z]+", stopwords=None, stemmer_language=None)
    index = HybridIndex(module_embedder, tokenizer=tokenizer)
    index.add(["alpha beta", "gamma delta"], ids=["a", "b"])
    index.save(tmp_path / "idx")
    with pytest.raises(IndexFormatError, match="tokenizer="):
        HybridIndex.load(tmp_path / "idx", module_embedder)
    loaded = HybridIndex.load(tmp_path / "idx", module_embedder, tokenizer=tokenizer)
    assert [h.id for h in loaded.search("delta", k=1, fusion="bm25")] == ["b"]
    with pytest.raises(IndexFormatError, match="does not match"):
        HybridIndex.load(tmp_path / "idx", module_embedder, tokenizer=Tokenizer())


BAD_SETTINGS = [
    ("settings", "monitor", "x"), ("settings", "fusion", "bogus"), ("settings", "alpha", 2.0),
    ("settings", "alpha", "0.5"), ("settings", "candidates", 0), ("settings", "candidates", True),
    ("settings", "candidates", 2.5), ("settings", "rrf_k", -1), ("settings", "rrf_k", None),
    ("settings", "store_vectors", "yes"), ("settings", "show_progress", True),
    ("auto", "dense_alpha", 7), ("auto", "evil", 1), ("tokenizer", "stopwords", "the"),
    ("tokenizer", "stopwords", [1, 2]), ("tokenizer", "glossary", {"a": 5}),
    ("tokenizer", "stemmer_language", 3), ("tokenizer", "glossary_ignore_case", "no"),
    (None, "count", -1), (None, "count", "4"), (None, "fingerprint", 12), (None, "format", 3),
]


@pytest.mark.parametrize("section,key,value", BAD_SETTINGS)
def test_every_manifest_setting_is_validated(saved, module_embedder, section, key, value):
    def change(manifest):
        (manifest if section is None else manifest[section])[key] = value
    edit_json(version_folder(saved) / "manifest.json", change)
    with pytest.raises(IndexFormatError, match="manifest.json"):
        HybridIndex.load(saved, module_embedder)


@pytest.mark.parametrize("text", ["", "{", "[]", '{"format": 1}', "\xff\xfe", "null"])
def test_a_manifest_that_is_not_a_valid_json_object_is_refused(saved, module_embedder, text):
    (version_folder(saved) / "manifest.json").write_bytes(text.encode("latin-1"))
    with pytest.raises(IndexFormatError, match="manifest.json"):
        HybridIndex.load(saved, module_embedder)


def _rewrite(saved, pattern, change):
    file = saved_file(saved, pattern)
    np.save(file, change(np.load(file)), allow_pickle=False)
    return file


@pytest.mark.parametrize("change", [
    lambda m: np.concatenate([m, m[:1]]),
    lambda m: m[:, :-1].copy(),
    lambda m: m.astype(np.float64),
    lambda m: m.ravel(),
], ids=["extra-row", "short-rows", "float64", "1-d"])
def test_bad_vectors_are_refused_naming_the_file(saved, module_embedder, change):
    file = _rewrite(saved, "vectors/vectors-*.npy", change)
    with pytest.raises(IndexFormatError, match=file.name):
        HybridIndex.load(saved, module_embedder)


def test_a_truncated_vectors_file_is_refused(saved, module_embedder):
    file = saved_file(saved, "vectors/vectors-*.npy")
    file.write_bytes(file.read_bytes()[:-100])
    with pytest.raises(IndexFormatError, match=file.name):
        HybridIndex.load(saved, module_embedder)


@pytest.mark.parametrize("pattern,change", [
    ("documents/docs-*-ids-offsets.npy", lambda a: a[::-1].copy()),
    ("documents/docs-*-ids-offsets.npy", lambda a: a[:-1].copy()),
    ("documents/docs-*-texts-offsets.npy", lambda a: a * 2),
    ("documents/docs-*-texts-bytes.npy", lambda a: a.astype(np.int64)),
    ("documents/docs-*-metadata-bytes.npy", lambda a: a[:-3].copy()),
], ids=["offsets-decreasing", "offsets-short", "offsets-past-end", "bytes-not-uint8",
        "bytes-truncated"])
def test_bad_documents_are_refused_naming_the_file(saved, module_embedder, pattern, change):
    file = _rewrite(saved, pattern, change)
    with pytest.raises(IndexFormatError, match=r"docs-\w+-\w+-\w+\.npy"):
        HybridIndex.load(saved, module_embedder)
    assert file.exists()


@pytest.mark.parametrize("pattern,change", [
    ("bm25/vocab-order.npy", lambda a: a + 1000),
    ("bm25/vocab-order.npy", lambda a: np.zeros_like(a)),
    ("bm25/vocab-offsets.npy", lambda a: a[::-1].copy()),
    ("bm25/lengths.npy", lambda a: a.astype(np.float32)),
    ("bm25/live.npy", lambda a: a[:-1].copy()),
    ("bm25/segments/*/indptr.npy", lambda a: a[:-1].copy()),
    ("bm25/segments/*/indptr.npy", lambda a: a[::-1].copy()),
    ("bm25/segments/*/terms.npy", lambda a: a[::-1].copy()),
    ("bm25/segments/*/tf.npy", lambda a: a[:-1].copy()),
], ids=["order-out-of-range", "order-not-permutation", "vocab-offsets-reversed",
        "float-lengths", "live-short", "indptr-short", "indptr-reversed",
        "terms-unsorted", "tf-short"])
def test_inconsistent_bm25_files_are_refused_naming_the_file(saved, module_embedder, pattern,
                                                               change):
    file = _rewrite(saved, pattern, change)
    where = file.parent.name if file.parent.parent.name == "segments" else file.name
    with pytest.raises(IndexFormatError, match=where):
        HybridIndex.load(saved, module_embedder)


@pytest.mark.parametrize("use", [
    lambda index: index.search("password reset", k=2, fusion="bm25"),
    lambda index: index.search("password reset", k=2),
    lambda index: index.delete(["billing"]),  # 1 of 4 deleted: past 20%, so it compacts
], ids=["bm25-search", "hybrid-search", "delete-and-compact"])
def test_a_posting_row_out_of_range_is_refused_where_it_is_read(saved, module_embedder, use):
    """Postings are not scanned at load (240 MB at 1M documents): the rows a search or a
    compaction reads are checked, and a bad one is refused naming the file."""
    file = _rewrite(saved, "bm25/segments/*/rows.npy", lambda a: a + 1000)
    index = HybridIndex.load(saved, module_embedder)
    with pytest.raises(IndexFormatError, match=rf"{file.parent.name}/rows\.npy: a posting row "
                                               "lies outside"):
        use(index)


@pytest.mark.parametrize("name,change", [
    ("bm25.json", lambda m: m.update(num_docs=99)),
    ("bm25.json", lambda m: m.update(k1="x")),
    ("bm25.json", lambda m: m.update(method="bm25l")),
    ("bm25.json", lambda m: m.update(backend="elastic")),
    ("bm25.json", lambda m: m.update(merge_factor=1)),
    ("bm25.json", lambda m: m["segments"][0].update(start=3)),
    ("bm25.json", lambda m: m["segments"][0].update(name="../x")),
])
def test_inconsistent_bm25_settings_are_refused(saved, module_embedder, name, change):
    edit_json(version_folder(saved) / "bm25" / name, change)
    with pytest.raises(IndexFormatError, match=name.split("/")[-1]):
        HybridIndex.load(saved, module_embedder)


def test_index_format_error_is_a_package_error_and_a_value_error():
    assert issubclass(IndexFormatError, EmbedKitError)
    assert issubclass(IndexFormatError, ValueError)  # callers catching ValueError keep working


@pytest.mark.parametrize("bad_value", [np.nan, np.inf], ids=["nan-row", "inf-row"])
@pytest.mark.parametrize("vectors", ["float32", "int8"])
def test_a_non_finite_saved_vector_is_refused_naming_the_file(tmp_path, module_embedder,
                                                              bad_value, vectors):
    """Loads map the vectors without reading them (a 1M index opens at once), so the row is
    refused by the first search that reads it, never returned as a NaN score."""
    index = HybridIndex(module_embedder, vectors=vectors)
    index.add(["reset a password", "error E1127: the fan failed", "invoices arrive monthly"],
              ids=["a", "b", "c"])
    index.save(tmp_path / "saved")
    file = _rewrite(tmp_path / "saved", "vectors/vectors-*.npy",
                    lambda m: np.where(np.arange(m.shape[0])[:, None] == 1, bad_value,
                                       m).astype(np.float32))
    loaded = HybridIndex.load(tmp_path / "saved", module_embedder)
    with pytest.raises(IndexFormatError, match=rf"{file.name}: row 1 is not a finite vector"):
        loaded.search("the fan failed", k=3, fusion="dense")


def test_a_nan_query_vector_is_refused(module_embedder):
    index = HybridIndex(module_embedder)
    index.add(["reset a password"], ids=["a"])
    with pytest.raises(ValueError, match="NaN or infinity"):
        index.search("password", query_vector=np.full(module_embedder.dimension, np.nan))


def _ids_saved_as(tmp_path, module_embedder, ids, delete=(), readd=()):
    index = HybridIndex(module_embedder)
    index.add([f"document {doc_id}" for doc_id in ids], ids=list(ids))
    index.save(tmp_path / "saved")
    for doc_id in delete:
        index.delete([doc_id])
    for doc_id in readd:
        index.add([f"document {doc_id} again"], ids=[doc_id])
    index.save(tmp_path / "saved")
    return tmp_path / "saved"


@pytest.mark.parametrize("use", [
    lambda index: index.add(["new text"], ids=["c"]),
    lambda index: index.delete(["b"]),
    lambda index: "a" in index,
], ids=["add", "delete", "contains"])
def test_one_live_id_twice_in_a_tampered_save_is_refused_at_first_id_lookup(
        tmp_path, module_embedder, use):
    """The id map is built on first use, not at load (half a second at 1M documents)."""
    saved = _ids_saved_as(tmp_path, module_embedder, ["a", "b"])
    file = _rewrite(saved, "documents/docs-*-ids-bytes.npy", lambda b: np.frombuffer(
        b"aa", dtype=np.uint8).copy())
    index = HybridIndex.load(saved, module_embedder)
    with pytest.raises(IndexFormatError, match=rf"{file.name}: id 'a' is held by two live rows"):
        use(index)


def test_an_id_deleted_and_added_again_survives_save_and_load(tmp_path, module_embedder):
    saved = _ids_saved_as(tmp_path, module_embedder, ["a", "b"], delete=["a"], readd=["a"])
    loaded = HybridIndex.load(saved, module_embedder)
    assert sorted(loaded.ids) == ["a", "b"]
    assert loaded.get("a")[0] == "document a again"


def test_a_dead_row_after_the_live_row_of_its_id_still_finds_the_live_one(tmp_path,
                                                                          module_embedder):
    """`add` always puts an id's live row last; the id map assumes so for speed, and a save
    that breaks the rule (written by other code) falls back to a row-by-row pass."""
    saved = _ids_saved_as(tmp_path, module_embedder, list("abcdefghij"), delete=["j"])
    _rewrite(saved, "documents/docs-*-ids-bytes.npy",  # the dead row j now says "a"
             lambda b: np.frombuffer(b"abcdefghia", dtype=np.uint8).copy())
    loaded = HybridIndex.load(saved, module_embedder)
    assert "a" in loaded and loaded.get("a")[0] == "document a"
    loaded.delete(["a"])
    assert loaded.ids == list("bcdefghi")


def test_bad_utf8_or_json_in_saved_documents_is_refused_naming_the_file(tmp_path,
                                                                        module_embedder):
    saved = _ids_saved_as(tmp_path, module_embedder, ["a", "b"])
    texts = _rewrite(saved, "documents/docs-*-texts-bytes.npy",
                     lambda b: np.where(np.arange(b.size) == 0, 0xFF, b).astype(np.uint8))
    metas = _rewrite(saved, "documents/docs-*-metadata-bytes.npy",
                     lambda b: np.where(np.arange(b.size) == 0, ord("["), b).astype(np.uint8))
    loaded = HybridIndex.load(saved, module_embedder)
    with pytest.raises(IndexFormatError, match=rf"{texts.name}: row 0 is not UTF-8"):
        loaded.get("a")
    with pytest.raises(IndexFormatError, match=rf"{metas.name}: row 0 is not"):
        loaded.search("document", k=2, filter={"kind": "x"})
