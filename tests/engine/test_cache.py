"""The disk cache: hits and misses, roles apart, fingerprints, corruption, two processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from embedkit import DiskVectorCache, Embedder
from embedkit.cache import cache_key

DOCS = ["Reset a password from Settings > Security.", "Invoices arrive monthly.",
        "Error E1127 means the fan failed."]


def test_second_call_is_served_from_cache_with_identical_vectors(cache_dir):
    first = Embedder(cache_dir=cache_dir)
    cold = first.embed_documents(DOCS)
    assert (first.stats.hits, first.stats.misses, first.stats.requests) == (0, 3, 1)

    second = Embedder(cache_dir=cache_dir)  # a new process would look the same: new object
    warm = second.embed_documents(DOCS)
    assert (second.stats.hits, second.stats.misses, second.stats.requests) == (3, 0, 0)
    np.testing.assert_array_equal(cold, warm)


def test_duplicates_in_one_call_are_embedded_once(embedder):
    vectors = embedder.embed_documents([DOCS[0], DOCS[1], DOCS[0], DOCS[0]])
    assert embedder.stats.misses == 2 and embedder.stats.duplicates == 2
    np.testing.assert_array_equal(vectors[0], vectors[2])


def test_query_and_document_entries_never_collide(prompt_model_dir, cache_dir):
    emb = Embedder(f"local:{prompt_model_dir}", cache_dir=cache_dir)
    doc = emb.embed_documents([DOCS[0]])[0]
    query = emb.embed_query(DOCS[0])
    assert emb.stats.misses == 2 and emb.stats.hits == 0
    assert not np.allclose(doc, query, atol=1e-3)
    assert cache_key(emb.fingerprint, "query", DOCS[0]) != \
        cache_key(emb.fingerprint, "document", DOCS[0])
    np.testing.assert_array_equal(emb.embed_query(DOCS[0]), query)
    assert emb.stats.hits == 1


def test_query_role_does_not_read_document_entries_even_without_prefixes(embedder):
    embedder.embed_documents([DOCS[0]])
    embedder.embed_query(DOCS[0])
    assert embedder.stats.misses == 2


@pytest.mark.parametrize(
    "change",
    [
        {"dimensions": 128},
        {"normalize": False},
        {"query_prefix": "query: "},
        {"document_prefix": "passage: "},
        {"glossary": {"E1127": "fan failure"}},
    ],
)
def test_every_vector_changing_setting_changes_the_fingerprint(cache_dir, change):
    base = Embedder(cache_dir=cache_dir)
    changed = Embedder(cache_dir=cache_dir, **change)
    assert base.fingerprint != changed.fingerprint
    base.embed_documents(DOCS)
    changed.embed_documents(DOCS)
    assert changed.stats.hits == 0


def test_other_model_weights_change_the_fingerprint(cache_dir, prompt_model_dir, tmp_path):
    import shutil

    same_weights = tmp_path / "copy"
    shutil.copytree(prompt_model_dir, same_weights)
    assert Embedder(f"local:{same_weights}", cache=False).fingerprint == \
        Embedder(f"local:{prompt_model_dir}", cache=False).fingerprint
    weights = same_weights / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    from embedkit.providers import local

    local._loaded.clear()
    assert Embedder(f"local:{same_weights}", cache=False).fingerprint != \
        Embedder(f"local:{prompt_model_dir}", cache=False).fingerprint


def test_batch_size_and_cache_location_do_not_change_the_fingerprint(tmp_path):
    assert Embedder(cache_dir=tmp_path / "a", batch_size=4).fingerprint == \
        Embedder(cache_dir=tmp_path / "b").fingerprint


@pytest.mark.parametrize("bad_value", [b"short", b"\x00" * 7, np.full(384, np.nan, np.float32)
                                       .tobytes(), "not bytes"])
def test_corrupt_or_wrong_length_entry_is_recomputed(cache_dir, bad_value):
    emb = Embedder(cache_dir=cache_dir)
    good = emb.embed_documents([DOCS[0]])
    key = cache_key(emb.fingerprint, "document", DOCS[0])
    emb.cache.put_raw(key, bad_value)

    again = Embedder(cache_dir=cache_dir)
    np.testing.assert_allclose(again.embed_documents([DOCS[0]]), good, atol=1e-6)
    assert again.stats.misses == 1
    third = Embedder(cache_dir=cache_dir)
    third.embed_documents([DOCS[0]])
    assert third.stats.hits == 1  # the entry was repaired


def test_values_on_disk_are_raw_float32_bytes(cache_dir):
    import sqlite3

    emb = Embedder(cache_dir=cache_dir)
    vector = emb.embed_documents([DOCS[1]])[0]
    key = cache_key(emb.fingerprint, "document", DOCS[1])
    with sqlite3.connect(cache_dir / "cache.db") as db:
        raw_mode, value = db.execute("SELECT mode, value FROM Cache WHERE key = ?",
                                     (key,)).fetchone()
    assert raw_mode == 1  # diskcache MODE_RAW: stored as-is, never pickled
    from embedkit.cache_codec import HEADER_BYTES, MAGIC

    assert value.startswith(MAGIC)  # format tag + CRC-32, then the float32 values
    np.testing.assert_array_equal(np.frombuffer(value[HEADER_BYTES:], dtype="<f4"), vector)


def test_cache_disabled_embeds_every_time(tmp_path):
    emb = Embedder(cache=False)
    emb.embed_documents(DOCS[:1])
    emb.embed_documents(DOCS[:1])
    assert emb.stats.misses == 2 and emb.cache is None


def test_two_processes_share_one_cache_dir(cache_dir):
    script = textwrap.dedent(f"""
        import sys
        from embedkit import Embedder
        emb = Embedder(cache_dir={str(cache_dir)!r})
        emb.embed_documents({DOCS!r})
        print(emb.stats.hits, emb.stats.misses)
    """)
    first = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           check=True)
    assert first.stdout.split() == ["0", "3"]
    second = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    assert second.stdout.split() == ["3", "0"]
    here = Embedder(cache_dir=cache_dir)
    here.embed_documents(DOCS)
    assert here.stats.hits == 3


def test_cache_stats_and_clear(cache_dir):
    emb = Embedder(cache_dir=cache_dir)
    emb.embed_documents(DOCS)
    cache = DiskVectorCache(cache_dir)
    assert cache.stats()["entries"] == 3
    assert cache.clear() == 3
    assert cache.stats()["entries"] == 0
