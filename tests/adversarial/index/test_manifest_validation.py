"""Finding 4: every setting and file of a save is checked against what `save` can write.

A hostile or corrupt save must be refused at load with `IndexFormatError` naming the file, never
a hang (a catastrophic tokenizer regex), a broken search (``monitor="x"``) or NaN scores.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from embedkit import HybridIndex
from embedkit.errors import EmbedKitError, IndexFormatError
from embedkit.retrieval.tokenizer import Tokenizer

from .conftest import edit_json, run_loads_in_child, version_folder


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
    (None, "count", -1), (None, "count", "4"), (None, "fingerprint", 12), (None, "format", 2),
    ("settings", "feedback", "sometimes"), ("policy", "dense_alpha", 3),
    ("policy", "agreement_depth", 0), ("policy", "feedback", {"depth": 0}), ("policy", "x", 1),
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


def _rewrite_vectors(saved, change):
    file = version_folder(saved) / "vectors.npy"
    np.save(file, change(np.load(file)), allow_pickle=False)


@pytest.mark.parametrize("change", [
    lambda m: np.where(np.arange(m.shape[0])[:, None] == 1, np.nan, m).astype(np.float32),
    lambda m: np.concatenate([m, m[:1]]),
    lambda m: m[:, :-1].copy(),
    lambda m: m.astype(np.float64),
    lambda m: m.ravel(),
    lambda m: np.full(m.shape, math.inf, dtype=np.float32),
], ids=["nan-row", "extra-row", "short-rows", "float64", "1-d", "inf"])
def test_bad_vectors_are_refused_naming_the_file(saved, module_embedder, change):
    _rewrite_vectors(saved, change)
    with pytest.raises(IndexFormatError, match="vectors.npy"):
        HybridIndex.load(saved, module_embedder)


def test_a_truncated_vectors_file_is_refused(saved, module_embedder):
    file = version_folder(saved) / "vectors.npy"
    file.write_bytes(file.read_bytes()[:-100])
    with pytest.raises(IndexFormatError, match="vectors.npy"):
        HybridIndex.load(saved, module_embedder)


def _rewrite_documents(saved, change):
    file = version_folder(saved) / "documents.jsonl"
    rows = [json.loads(line) for line in file.read_text().splitlines()]
    file.write_text("".join(json.dumps(r) + "\n" for r in change(rows)))


@pytest.mark.parametrize("change", [
    lambda rows: [rows[0], {**rows[1], "id": rows[0]["id"]}, *rows[2:]],
    lambda rows: [{**rows[0], "id": 7}, *rows[1:]],
    lambda rows: [{**rows[0], "id": ""}, *rows[1:]],
    lambda rows: [{**rows[0], "metadata": [1]}, *rows[1:]],
    lambda rows: [{**rows[0], "text": None}, *rows[1:]],
    lambda rows: [{"id": "x"}, *rows[1:]],
    lambda rows: ["row", *rows[1:]],
    lambda rows: rows[1:],
], ids=["duplicate-id", "int-id", "empty-id", "list-metadata", "null-text", "missing-keys",
        "not-an-object", "missing-row"])
def test_bad_documents_are_refused_naming_the_file(saved, module_embedder, change):
    _rewrite_documents(saved, change)
    with pytest.raises(IndexFormatError, match="documents.jsonl"):
        HybridIndex.load(saved, module_embedder)


def test_a_documents_line_that_is_not_json_names_the_line(saved, module_embedder):
    file = version_folder(saved) / "documents.jsonl"
    lines = file.read_text().splitlines()
    lines[2] = lines[2][:10]
    file.write_text("\n".join(lines) + "\n")
    with pytest.raises(IndexFormatError, match="documents.jsonl.*line 3"):
        HybridIndex.load(saved, module_embedder)


def _rewrite_array(saved, name, change):
    file = version_folder(saved) / "bm25" / name
    np.save(file, change(np.load(file)), allow_pickle=False)


@pytest.mark.parametrize("name,change", [
    ("token_ids.npy", lambda a: a + 1000),
    ("token_ids.npy", lambda a: -a - 1),
    ("token_ids.npy", lambda a: a.astype(np.float32)),
    ("offsets.npy", lambda a: a[::-1].copy()),
    ("offsets.npy", lambda a: a[:-1].copy()),
    ("offsets.npy", lambda a: a * 2),
    ("backend/data.csc.index.npy", lambda a: np.full_like(a, np.nan)),
    ("backend/indices.csc.index.npy", lambda a: a + 1000),
    ("backend/indptr.csc.index.npy", lambda a: a[:-1].copy()),
    ("backend/indptr.csc.index.npy", lambda a: a[::-1].copy()),
], ids=["ids-out-of-vocab", "negative-ids", "float-ids", "offsets-decreasing", "offsets-short",
        "offsets-past-end", "nan-scores", "doc-out-of-range", "indptr-short", "indptr-reversed"])
def test_inconsistent_bm25_files_are_refused_naming_the_file(saved, module_embedder, name,
                                                               change):
    _rewrite_array(saved, name, change)
    with pytest.raises(IndexFormatError, match=name.split("/")[-1]):
        HybridIndex.load(saved, module_embedder)


@pytest.mark.parametrize("name,change", [
    ("bm25.json", lambda m: m.update(num_docs=99)),
    ("bm25.json", lambda m: m.update(k1="x")),
    ("bm25.json", lambda m: m.update(method="bm25l")),
    ("bm25.json", lambda m: m.update(backend="elastic")),
    ("backend/params.index.json", lambda m: m.update(k1=9.0)),
    ("backend/params.index.json", lambda m: m.update(num_docs=1)),
    ("backend/vocab.index.json", lambda m: m.update(extra=0)),
    ("vocab.json", lambda m: m.append(m[0])),
])
def test_inconsistent_bm25_settings_are_refused(saved, module_embedder, name, change):
    edit_json(version_folder(saved) / "bm25" / name, change)
    with pytest.raises(IndexFormatError, match=name.split("/")[-1]):
        HybridIndex.load(saved, module_embedder)


def test_index_format_error_is_a_package_error_and_a_value_error():
    assert issubclass(IndexFormatError, EmbedKitError)
    assert issubclass(IndexFormatError, ValueError)  # callers catching ValueError keep working
