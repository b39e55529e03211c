"""Finding 1: whatever cache.db holds, reading never unpickles and never opens a file outside
the cache folder; such a row is a miss (recomputed), logged once without key or bytes."""

from __future__ import annotations

import logging
import os
import pickle
import sqlite3

import numpy as np
import pytest

from embedkit import Embedder
from embedkit.cache import cache_key, encode_vector

DOCS = ["reset a forgotten password", "invoices are sent monthly"]
MODE_BINARY, MODE_PICKLE = 2, 4  # diskcache's row modes


class _RunsCode:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _plant(cache_dir, key: str, *, mode: int, filename: str | None, value: bytes | None) -> None:
    with sqlite3.connect(cache_dir / "cache.db") as db:
        changed = db.execute("UPDATE Cache SET mode = ?, filename = ?, value = ? WHERE key = ?",
                             (mode, filename, value, key)).rowcount
    assert changed == 1


def _key(emb: Embedder, text: str) -> str:
    return cache_key(emb.fingerprint, "document", emb.final_text(text, "document"))


@pytest.fixture
def truth(cache_dir) -> np.ndarray:
    """The real vectors, computed once into the cache so rows exist to tamper with."""
    return Embedder(cache_dir=cache_dir).embed_documents(DOCS)


def test_a_pickled_row_is_never_unpickled(cache_dir, tmp_path, truth, caplog):
    marker = tmp_path / "code-ran"
    emb = Embedder(cache_dir=cache_dir)
    payload = pickle.dumps(_RunsCode(str(marker)))
    for text in DOCS:
        _plant(cache_dir, _key(emb, text), mode=MODE_PICKLE, filename=None, value=payload)

    with caplog.at_level(logging.WARNING, logger="embedkit"):
        again = Embedder(cache_dir=cache_dir)
        got = again.embed_documents(DOCS)
        again.embed_query("a query reads the same cache")

    assert not marker.exists()
    np.testing.assert_allclose(got, truth, atol=1e-6)
    assert again.stats.misses == 3  # recomputed, and the rows were overwritten
    warnings = [r for r in caplog.records if "tampered" in r.getMessage()]
    assert len(warnings) == 1  # logged once for two planted rows
    assert all(_key(emb, t) not in warnings[0].getMessage() for t in DOCS)
    assert Embedder(cache_dir=cache_dir).embed_documents(DOCS).shape == (2, 384)
    assert not marker.exists()


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
def test_a_row_naming_a_file_outside_the_folder_is_never_read(cache_dir, tmp_path, truth, how):
    outside = tmp_path / "outside" / "secret.bin"
    outside.parent.mkdir()
    # What this version of the cache would accept as a vector, so reading it would show.
    fake = np.zeros(384, np.float32)
    fake[0] = 1.0
    outside.write_bytes(encode_vector(fake))
    emb = Embedder(cache_dir=cache_dir)
    if how == "absolute":
        filename = str(outside)
    elif how == "dotdot":
        filename = os.path.relpath(outside, cache_dir)
        assert filename.startswith("..")
    else:
        filename = "ab/cd/" + "0" * 28 + ".val"
        (cache_dir / "ab" / "cd").mkdir(parents=True)
        (cache_dir / filename).symlink_to(outside)
    _plant(cache_dir, _key(emb, DOCS[0]), mode=MODE_BINARY, filename=filename, value=None)

    got = Embedder(cache_dir=cache_dir).embed_documents(DOCS)

    np.testing.assert_allclose(got, truth, atol=1e-6)  # not the planted vector
    assert outside.read_bytes() == encode_vector(fake)  # overwriting the row deleted nothing
