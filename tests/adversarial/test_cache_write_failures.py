"""Finding 5 (and the stalled-Redis quirk of 9): a cache that refuses writes never costs the
vectors already paid for, and every backend failure is a package error without key or bytes."""

from __future__ import annotations

import os
import signal
import time
import traceback
import warnings

import diskcache
import numpy as np
import pytest

from embedkit import Embedder, EmbedKitError
from embedkit.cache import cache_key
from tests.adversarial.conftest import redis_server
from tests.fakeapi import expected_vector

MODEL = "text-embedding-3-small"
TEXTS = [f"paid document number {i} about topic {i % 7}" for i in range(400)]


def _api_embedder(fake_api, cache, **options) -> Embedder:
    return Embedder(f"openai:{MODEL}", base_url=fake_api.openai_base_url, api_key="sk-test",
                    cache=cache, batch_size=10, **options)


def _cache_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if "cache refused" in str(w.message)]


def test_a_full_redis_returns_every_paid_vector_and_rebills_only_what_it_could_not_keep(
        fake_api, tmp_path):
    redis = pytest.importorskip("redis")
    with redis_server(tmp_path, "--maxmemory", "2mb", "--maxmemory-policy", "noeviction") \
            as (url, _):
        emb = _api_embedder(fake_api, url)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = emb.embed_documents(TEXTS)

        assert got.shape == (400, 1536)
        np.testing.assert_allclose(got[5], expected_vector(MODEL, TEXTS[5], 1536), atol=1e-6)
        messages = _cache_warnings(caught)
        assert len(messages) == 1 and "maxmemory" in messages[0]
        assert "embedkit:" not in messages[0]  # no key in the warning
        client = redis.Redis.from_url(url)
        cached = {text for text in TEXTS if client.exists(
            "embedkit:" + cache_key(emb.fingerprint, "document", text))}
        assert 0 < len(cached) < len(TEXTS)
        print(f"full Redis: {len(got)}/{len(TEXTS)} vectors returned, {len(cached)} cached, "
              f"{len(messages)} warning")

        fake_api.reset()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rerun = _api_embedder(fake_api, url).embed_documents(TEXTS)
        resent = [text for r in fake_api.requests for text in r.texts]
        np.testing.assert_array_equal(rerun, got)
        assert not cached & set(resent)  # nothing that was cached is billed again
        assert sorted(resent) == sorted(set(TEXTS) - cached)
        print(f"rerun: {len(resent)} texts billed again = {len(TEXTS)} - {len(cached)} cached")

        key = cache_key(emb.fingerprint, "document", "one more")
        with pytest.raises(EmbedKitError) as refused:
            emb.cache.put_many({key: np.ones(1536, np.float32)})
        shown = "".join(traceback.format_exception(refused.value))
        assert key not in shown and "\\x00\\x00\\x80?" not in shown


def test_a_full_disk_cache_returns_the_vectors_and_warns_once(embedder, cache_dir):
    embedder.embed_documents(["fill the first pages"])
    pages = embedder.cache._cache._sql("PRAGMA page_count").fetchone()[0]
    embedder.cache.close()
    # SQLite's own "database or disk is full", from a page limit stored in the cache settings.
    diskcache.Cache(str(cache_dir), sqlite_max_page_count=pages + 2).close()

    emb = Embedder(cache_dir=cache_dir, batch_size=4)
    texts = [f"document {i} that will not fit in the cache" for i in range(16)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = emb.embed_documents(texts)
    assert got.shape == (16, 384) and np.isfinite(got).all()
    messages = _cache_warnings(caught)
    assert len(messages) == 1 and "disk is full" in messages[0]
    fresh = Embedder(cache=False).embed_documents(texts)
    np.testing.assert_allclose(got, fresh, atol=1e-5)


def test_a_stalled_redis_is_a_package_error_within_its_timeout(fake_api, tmp_path):
    pytest.importorskip("redis")
    with redis_server(tmp_path) as (url, process):
        emb = _api_embedder(fake_api, url + "?socket_timeout=0.5")
        emb.embed_documents(TEXTS[:3])
        os.kill(process.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            with pytest.raises(EmbedKitError, match="timed out") as caught:
                emb.embed_documents(TEXTS[3:6])
            assert isinstance(caught.value, ConnectionError)
            assert time.monotonic() - started < 10
        finally:
            os.kill(process.pid, signal.SIGCONT)
        assert "redis.exceptions" not in "".join(traceback.format_exception(caught.value))
