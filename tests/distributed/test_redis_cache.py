"""The Redis cache backend against a real redis-server: keys, values, TTL, recovery, sharing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embedkit import Embedder
from embedkit.cache import cache_key, decode_vector, encode_vector
from embedkit.cache_redis import CHUNK, RedisVectorCache

TEXTS = ["Reset a password from Settings > Security.", "Invoices arrive monthly.",
         "Error E1127 means the fan failed."]


def _key(emb: Embedder, text: str, role: str) -> str:
    return cache_key(emb.fingerprint, role, emb.final_text(text, role))


def test_embedder_chooses_redis_by_url_and_stores_float32_bytes(redis_url, redis_client):
    emb = Embedder(cache=redis_url)
    assert isinstance(emb.cache, RedisVectorCache)
    vectors = emb.embed_documents(TEXTS)

    for text, vector in zip(TEXTS, vectors):
        raw = redis_client.get("embedkit:" + _key(emb, text, "document"))
        assert raw == encode_vector(vector)  # the disk cache's checksummed float32 format
    assert emb.cache.stats()["entries"] == len(TEXTS)
    assert "redis://127.0.0.1" in repr(emb)


def test_same_keys_and_values_as_the_disk_cache(redis_url, redis_client, cache_dir):
    on_disk = Embedder(cache_dir=cache_dir)
    in_redis = Embedder(cache=redis_url)
    disk_vectors = on_disk.embed_documents(TEXTS)
    redis_vectors = in_redis.embed_documents(TEXTS)
    np.testing.assert_array_equal(disk_vectors, redis_vectors)

    keys = [_key(on_disk, t, "document") for t in TEXTS]
    from_disk = on_disk.cache.get_many(keys, on_disk.dimension)
    stored = {k.decode().removeprefix("embedkit:") for k in redis_client.keys("embedkit:*")}
    assert stored == set(from_disk) == set(keys)
    for key in keys:
        assert redis_client.get("embedkit:" + key) == encode_vector(from_disk[key])


def test_a_second_embedder_sends_nothing_to_the_model(redis_url):
    first = Embedder(cache=redis_url)
    expected = first.embed_documents(TEXTS)
    second = Embedder(cache=redis_url)
    got = second.embed_documents(TEXTS)
    np.testing.assert_array_equal(got, expected)
    assert (second.stats.hits, second.stats.misses, second.stats.requests) == (3, 0, 0)


def test_query_and_document_entries_stay_apart(redis_url, redis_client, prompt_model_dir):
    model = f"local:{prompt_model_dir}"
    emb = Embedder(model, cache=redis_url)
    text = "how do I reset my password"
    query = emb.embed_query(text)
    document = emb.embed_documents([text])[0]
    assert not np.allclose(query, document)  # "query: " and "passage: " prompts differ
    assert len(redis_client.keys("embedkit:*")) == 2

    fresh = Embedder(model, cache=redis_url)
    np.testing.assert_array_equal(fresh.embed_query(text), query)
    np.testing.assert_array_equal(fresh.embed_documents([text])[0], document)
    assert (fresh.stats.hits, fresh.stats.misses) == (2, 0)


def test_roles_are_apart_even_when_the_model_has_no_prefixes(redis_url, redis_client):
    emb = Embedder(cache=redis_url)
    emb.embed_query(TEXTS[0])
    emb.embed_documents([TEXTS[0]])
    assert _key(emb, TEXTS[0], "query") != _key(emb, TEXTS[0], "document")
    assert redis_client.exists("embedkit:" + _key(emb, TEXTS[0], "query"),
                               "embedkit:" + _key(emb, TEXTS[0], "document")) == 2


@pytest.mark.parametrize(
    "corrupt", [b"garbage", b"\x00" * 12, np.full(384, np.nan, "<f4").tobytes()],
    ids=["short", "wrong-size", "nan"])
def test_a_corrupt_entry_is_recomputed_and_overwritten(redis_url, redis_client, corrupt):
    emb = Embedder(cache=redis_url)
    good = emb.embed_documents(TEXTS)
    key = "embedkit:" + _key(emb, TEXTS[1], "document")
    emb.cache.put_raw(key.removeprefix("embedkit:"), corrupt)

    again = Embedder(cache=redis_url)
    np.testing.assert_allclose(again.embed_documents(TEXTS), good, atol=1e-6)
    assert (again.stats.hits, again.stats.misses) == (2, 1)
    assert decode_vector(redis_client.get(key), emb.dimension) is not None


def test_ttl_from_the_url_is_set_on_every_entry(redis_url, redis_client):
    emb = Embedder(cache=f"{redis_url}?ttl=60")
    emb.embed_documents(TEXTS)
    ttls = [redis_client.ttl("embedkit:" + _key(emb, t, "document")) for t in TEXTS]
    assert all(0 < ttl <= 60 for ttl in ttls), ttls
    assert emb.cache.ttl_of(_key(emb, TEXTS[0], "document")) is not None


def test_without_ttl_entries_do_not_expire(redis_url, redis_client):
    emb = Embedder(cache=redis_url)
    emb.embed_documents(TEXTS[:1])
    assert redis_client.ttl("embedkit:" + _key(emb, TEXTS[0], "document")) == -1


@pytest.mark.parametrize("ttl", [0, -5, "soon"])
def test_a_bad_ttl_is_refused(redis_url, ttl):
    with pytest.raises(ValueError, match="ttl"):
        RedisVectorCache(redis_url, ttl=ttl)


def test_prefix_namespaces_entries_and_clear_keeps_other_data(redis_url, redis_client):
    redis_client.set("someone-else:key", b"keep me")
    emb = Embedder(cache=f"{redis_url}?prefix=team-a:")
    emb.embed_documents(TEXTS)
    assert len(redis_client.keys("team-a:*")) == 3
    assert redis_client.keys("embedkit:*") == []

    assert emb.cache.clear() == 3
    assert redis_client.keys("team-a:*") == []
    assert redis_client.get("someone-else:key") == b"keep me"


def test_reads_are_batched_with_mget(redis_url, redis_client):
    cache = RedisVectorCache(redis_url, prefix="bulk:")
    rng = np.random.default_rng(0)
    items = {f"k{i}": rng.standard_normal(8).astype(np.float32) for i in range(2 * CHUNK + 5)}
    cache.put_many(items)

    def mget_calls() -> int:
        return redis_client.info("commandstats").get("cmdstat_mget", {}).get("calls", 0)

    before = mget_calls()
    found = cache.get_many(list(items) + ["absent"], dimension=8)
    assert mget_calls() - before == 3  # 2,006 keys in chunks of 1,000
    assert set(found) == set(items)
    np.testing.assert_array_equal(found["k7"], items["k7"])


def test_two_processes_see_each_others_entries(redis_url, tmp_path):
    """This process and a separate Python process, one Redis: each finds what the other paid for."""
    here = Embedder(cache=redis_url)
    here.embed_documents(TEXTS[:2])
    script = tmp_path / "embed.py"
    script.write_text(
        "import json, sys\n"
        "from embedkit import Embedder\n"
        "emb = Embedder(cache=sys.argv[1])\n"
        "emb.embed_documents(json.loads(sys.argv[2]))\n"
        "print(json.dumps({'hits': emb.stats.hits, 'misses': emb.stats.misses}))\n")
    env = {**os.environ, "PYTHONPATH": _pythonpath(), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, str(script), redis_url, json.dumps(TEXTS)],
                          env=env, capture_output=True, text=True, timeout=300, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"hits": 2, "misses": 1}

    again = Embedder(cache=redis_url)
    again.embed_documents(TEXTS)
    assert (again.stats.hits, again.stats.misses) == (3, 0)  # the third came from the other one


def test_an_unknown_cache_url_is_refused():
    with pytest.raises(ValueError, match="redis://"):
        Embedder(cache="memcached://127.0.0.1:11211")


def test_an_unreachable_server_names_it_without_the_password():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    url = f"redis://:hunter2@127.0.0.1:{closed_port}/0"
    with pytest.raises(ConnectionError) as caught:
        Embedder(cache=url)
    assert "127.0.0.1" in str(caught.value) and "hunter2" not in str(caught.value)
    assert "***" in str(caught.value)


def _pythonpath() -> str:
    import embedkit

    source = str(Path(embedkit.__file__).resolve().parents[1])
    return os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH", "")) if p)
