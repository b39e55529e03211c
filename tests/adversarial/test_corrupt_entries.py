"""Finding 8: corrupt cache entries (all zeros, right-length garbage, a flipped bit) are
detected, on disk and in Redis, and recomputed instead of returned."""

from __future__ import annotations

import numpy as np
import pytest

from embedkit import Embedder
from embedkit.cache import cache_key, encode_vector
from tests.adversarial.conftest import redis_server

TEXT = "the quarterly report is due on friday"


def _corruptions(good: bytes, dimension: int) -> dict[str, bytes]:
    garbage = np.random.default_rng(7).normal(size=dimension).astype(np.float32)
    flipped = bytearray(good)
    flipped[-1] ^= 0x40  # sign/exponent bits of the last value
    return {"zeros": encode_vector(np.zeros(dimension, np.float32)),
            "raw zeros": np.zeros(dimension, np.float32).tobytes(),
            "garbage": encode_vector(garbage),  # norm ~19.6, checksum and length right
            "raw garbage": garbage.tobytes(),
            "flipped bit": bytes(flipped)}


def _check_recomputed(make, truth: np.ndarray, key: str, plant) -> None:
    for name, raw in _corruptions(encode_vector(truth), truth.shape[0]).items():
        plant(key, raw)
        emb = make()
        got = emb.embed_documents([TEXT])[0]
        np.testing.assert_allclose(got, truth, atol=1e-6, err_msg=name)
        assert emb.stats.misses == 1, name


def test_corrupt_entries_on_disk_are_recomputed(cache_dir):
    truth = Embedder(cache_dir=cache_dir).embed_documents([TEXT])[0]
    emb = Embedder(cache_dir=cache_dir)
    key = cache_key(emb.fingerprint, "document", TEXT)
    _check_recomputed(lambda: Embedder(cache_dir=cache_dir), truth, key, emb.cache.put_raw)


def test_corrupt_entries_in_redis_are_recomputed(fake_api, tmp_path):
    pytest.importorskip("redis")
    with redis_server(tmp_path) as (url, _):
        def make() -> Embedder:
            return Embedder("openai:text-embedding-3-small", base_url=fake_api.openai_base_url,
                            api_key="sk-test", cache=url)

        emb = make()
        truth = emb.embed_documents([TEXT])[0]
        key = cache_key(emb.fingerprint, "document", TEXT)
        _check_recomputed(make, truth, key, emb.cache.put_raw)
