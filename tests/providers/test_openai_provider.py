"""`Embedder("openai:...")` end to end: the real openai SDK against the local fake API."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest

from embedkit.providers.retry import APIError
from tests.fakeapi import expected_vector, openai_token_count

from .conftest import TEST_KEY

SMALL = "text-embedding-3-small"


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def test_round_trip_with_server_side_dimensions(openai_embedder, fake_api):
    emb = openai_embedder(dimensions=512)
    texts = ["how do I reset my password", "billing questions", "the SLA for uptime"]
    docs = emb.embed_documents(texts)
    query = emb.embed_query("forgot password")

    assert docs.shape == (3, 512) and docs.dtype == np.float32 and emb.dimension == 512
    for row, text in zip(docs, texts):
        np.testing.assert_allclose(row, expected_vector(SMALL, text, 512), atol=1e-6)
    np.testing.assert_allclose(query, expected_vector(SMALL, "forgot password", 512), atol=1e-6)
    first, second = fake_api.requests
    assert first.body["dimensions"] == 512 and first.texts == texts
    assert not first.token_ids  # text goes on the wire, so compatible servers accept it
    assert first.api_key == TEST_KEY
    assert second.texts == ["forgot password"]


def test_stats_count_billed_tokens_dollars_and_savings(openai_embedder, fake_api):
    emb = openai_embedder()
    texts = ["alpha beta gamma", "delta epsilon", "zeta"]
    emb.embed_documents(texts)
    billed = sum(openai_token_count(t) for t in texts)
    stats = emb.stats
    assert (stats.requests, stats.tokens, stats.misses) == (1, billed, 3)
    assert stats.dollars == pytest.approx(billed * 0.02 / 1e6)

    emb.embed_documents(texts)  # all cached: no request, money saved
    assert len(fake_api.requests) == 1
    assert emb.stats.hits == 3
    assert emb.stats.dollars_saved == pytest.approx(billed * 0.02 / 1e6)


def test_query_and_document_of_same_text_are_cached_separately(openai_embedder, fake_api):
    emb = openai_embedder()
    emb.embed_documents(["same text"])
    emb.embed_query("same text")
    assert len(fake_api.requests) == 2


def test_dimensions_refused_where_the_model_cannot(openai_embedder):
    with pytest.raises(ValueError, match="does not support dimensions"):
        openai_embedder("text-embedding-ada-002", dimensions=256)
    with pytest.raises(ValueError, match="1..1536"):
        openai_embedder(dimensions=4096)


def test_full_size_sends_no_dimensions(openai_embedder, fake_api):
    emb = openai_embedder(dimensions=1536)
    emb.embed_query("x")
    assert "dimensions" not in fake_api.requests[0].body
    assert emb.dimension == 1536


def test_batches_respect_the_2048_input_limit(openai_embedder, fake_api):
    emb = openai_embedder(dimensions=8)
    out = emb.embed_documents([f"t{i}" for i in range(2100)])
    assert out.shape == (2100, 8)
    assert sorted(fake_api.batch_sizes) == [52, 2048]
    assert {r.status for r in fake_api.requests} == {200}


def test_batches_respect_the_300k_token_limit(openai_embedder, fake_api):
    emb = openai_embedder(dimensions=8)
    texts = [f"doc {i} " + "word " * 7990 for i in range(40)]  # ~8,000 tokens each
    emb.embed_documents(texts)
    per_request = [sum(openai_token_count(t) for t in r.texts) for r in fake_api.requests]
    assert len(per_request) == 2 and max(per_request) <= 300_000
    assert sum(fake_api.batch_sizes) == 40
    assert {r.status for r in fake_api.requests} == {200}


def test_long_texts_are_truncated_to_the_model_limit(openai_embedder, fake_api):
    emb = openai_embedder(dimensions=8)
    long_text = "token " * 9000
    with pytest.warns(UserWarning, match="truncated"):
        vector = emb.embed_documents([long_text, "short"])[0]
    (record,) = fake_api.requests
    assert record.status == 200
    sent = record.texts[0]
    assert openai_token_count(sent) == 8191 and long_text.startswith(sent)
    np.testing.assert_allclose(vector, expected_vector(SMALL, sent, 8), atol=1e-6)
    assert emb.stats.truncated == 1


def test_saved_dollars_agree_with_the_estimate_for_texts_over_the_limit(openai_embedder):
    emb = openai_embedder(dimensions=8)
    texts = ["token " * 9000, "short"]  # the first is cut to the model's 8191 tokens
    with pytest.warns(UserWarning, match="truncated"):
        emb.embed_documents(texts)
    estimate = emb.estimate(texts)
    assert estimate.uncached == () and estimate.cached_tokens == 8191 + openai_token_count("short")
    emb.reset_stats()
    emb.embed_documents(texts)  # all from the cache
    assert emb.stats.dollars_saved == estimate.dollars_saved
    assert estimate.dollars_saved == pytest.approx(estimate.cached_tokens * 0.02 / 1e6)


def test_long_texts_split_and_averaged_by_tokens(openai_embedder, fake_api):
    emb = openai_embedder(dimensions=8, long_texts="average")
    long_text = " ".join(f"w{i}" for i in range(12000))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is cut, so nothing to warn about
        vector = emb.embed_documents([long_text])[0]
    (record,) = fake_api.requests
    counts = [openai_token_count(t) for t in record.texts]
    assert len(record.texts) >= 2 and max(counts) <= 8191
    assert "".join(record.texts) == long_text
    mean = sum(c * expected_vector(SMALL, t, 8).astype(np.float64)
               for c, t in zip(counts, record.texts)) / sum(counts)
    np.testing.assert_allclose(vector, unit(mean), atol=1e-5)
    assert emb.fingerprint != openai_embedder(dimensions=8).fingerprint


def test_results_keep_input_order_under_concurrency(openai_embedder, fake_api):
    fake_api.latency = 0.02
    emb = openai_embedder(dimensions=16, batch_size=3, max_concurrency=4)
    texts = [f"text number {i}" for i in range(20)]
    out = emb.embed_documents(texts)
    for row, text in zip(out, texts):
        np.testing.assert_allclose(row, expected_vector(SMALL, text, 16), atol=1e-6)
    assert len(fake_api.requests) == 7 and fake_api.max_in_flight > 1


def test_max_concurrency_bounds_requests_in_flight(openai_embedder, fake_api):
    fake_api.latency = 0.05
    texts = [f"t{i}" for i in range(40)]
    openai_embedder(dimensions=8, batch_size=4, max_concurrency=1,
                    cache=False).embed_documents(texts)
    assert fake_api.max_in_flight == 1
    fake_api.reset()
    openai_embedder(dimensions=8, batch_size=4, max_concurrency=5,
                    cache=False).embed_documents(texts)
    assert fake_api.max_in_flight == 5


async def test_async_entry_points(openai_embedder, fake_api):
    emb = openai_embedder(dimensions=8)
    docs = await emb.aembed_documents(["a", "b"])
    query = await emb.aembed_query("c")
    np.testing.assert_allclose(docs[1], expected_vector(SMALL, "b", 8), atol=1e-6)
    np.testing.assert_allclose(query, expected_vector(SMALL, "c", 8), atol=1e-6)
    assert emb.embed_documents(["a", "b"]).tolist() == docs.tolist()  # cached, same vectors
    assert len(fake_api.requests) == 2


def test_key_from_environment(openai_embedder, fake_api, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-0000000000")
    openai_embedder(api_key=None).embed_query("x")
    assert fake_api.requests[0].api_key == "sk-from-env-0000000000"


def test_missing_key_is_a_clear_error():
    from embedkit import Embedder

    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        Embedder("openai:text-embedding-3-small", cache=False)


def test_compatible_server_without_key_and_unknown_model(openai_embedder, fake_api):
    """A vLLM/Ollama-style server: any model name, no key; the size is asked once."""
    fake_api.add_model("openai", "BAAI/bge-m3", 1024, 8192)
    emb = openai_embedder("BAAI/bge-m3", api_key=None)
    assert emb.dimension == 1024
    probe = fake_api.requests[0]
    assert probe.api_key == "no-key" and probe.n_inputs == 1
    out = emb.embed_documents(["hola"])
    np.testing.assert_allclose(out[0], expected_vector("BAAI/bge-m3", "hola", 1024), atol=1e-6)


def test_float_encoding_for_servers_without_base64(openai_embedder, fake_api):
    emb = openai_embedder(dimensions=8, encoding_format="float")
    out = emb.embed_query("x")
    assert fake_api.requests[0].body["encoding_format"] == "float"
    np.testing.assert_allclose(out, expected_vector(SMALL, "x", 8), atol=1e-6)


def test_explicit_base64_is_decoded(openai_embedder, fake_api):
    out = openai_embedder(dimensions=8, encoding_format="base64").embed_query("x")
    np.testing.assert_allclose(out, expected_vector(SMALL, "x", 8), atol=1e-6)


# -- retries --------------------------------------------------------------------------------------
def test_429_is_retried_honouring_retry_after(openai_embedder, fake_api):
    fake_api.fail_next(2, status=429, retry_after=0.25)
    emb = openai_embedder(dimensions=8)
    out = emb.embed_query("x")
    np.testing.assert_allclose(out, expected_vector(SMALL, "x", 8), atol=1e-6)
    records = fake_api.requests
    assert [r.status for r in records] == [429, 429, 200]
    gaps = [b.received_at - a.received_at for a, b in zip(records, records[1:])]
    assert min(gaps) >= 0.25  # our base delay is 0.01 s: the wait came from Retry-After
    assert emb.provider.counters.retries == 2
    assert [r.header("x-stainless-retry-count") for r in records] == ["0", "0", "0"]  # SDK: off


@pytest.mark.parametrize("kind", ["status500", "status503", "hang", "drop"])
def test_transient_failures_are_retried(openai_embedder, fake_api, kind):
    if kind == "hang":
        fake_api.hang(10)
    elif kind == "drop":
        fake_api.inject("drop")
    else:
        fake_api.fail_next(1, status=int(kind[-3:]))
    emb = openai_embedder(dimensions=8, timeout=0.5)
    out = emb.embed_query("x")
    np.testing.assert_allclose(out, expected_vector(SMALL, "x", 8), atol=1e-6)
    assert len(fake_api.requests) == 2 and fake_api.requests[-1].status == 200


@pytest.mark.parametrize("status,phrase", [(400, "bad request"), (401, "authentication failed"),
                                           (403, "permission denied"), (404, "not found")])
def test_client_errors_fail_at_once(openai_embedder, fake_api, status, phrase):
    fake_api.fail_next(5, status=status)
    emb = openai_embedder(dimensions=8)
    with pytest.raises(APIError) as info:
        emb.embed_documents(["x"])
    assert len(fake_api.requests) == 1
    err = info.value
    assert err.status == status and not err.retryable and err.attempts == 1
    assert f"HTTP {status} ({phrase})" in str(err) and "openai:text-embedding-3-small" in str(err)
    assert TEST_KEY not in str(err)


def test_wrong_key_message_hides_even_the_masked_key(openai_embedder):
    from tests.fakeapi import FakeEmbeddingServer

    with FakeEmbeddingServer(api_key="sk-the-right-one-123456") as server:
        emb = openai_embedder(dimensions=8, base_url=server.openai_base_url)
        with pytest.raises(APIError, match="OPENAI_API_KEY") as info:
            emb.embed_query("x")
    message = str(info.value)
    assert "[redacted]" in message and TEST_KEY[-4:] not in message


def test_retries_are_bounded_in_attempts(openai_embedder, fake_api):
    from embedkit.providers.retry import RetryPolicy

    fake_api.fail_on("doomed", status=500)
    emb = openai_embedder(dimensions=8, retry=RetryPolicy(max_attempts=3, base_delay=0.01))
    with pytest.raises(APIError, match="gave up after 3 attempts") as info:
        emb.embed_query("doomed")
    assert len(fake_api.requests) == 3 and info.value.retryable and info.value.attempts == 3


def test_retries_are_bounded_in_total_wait(openai_embedder, fake_api):
    from embedkit.providers.retry import RetryPolicy

    fake_api.fail_next(10, status=429, retry_after=0.4)
    emb = openai_embedder(dimensions=8, retry=RetryPolicy(max_attempts=10, base_delay=0.01,
                                                           max_total_wait=1.0))
    started = time.perf_counter()
    with pytest.raises(APIError, match="max_total_wait"):
        emb.embed_query("x")
    assert len(fake_api.requests) == 3  # waits 0.4 + 0.4; a third wait would pass 1.0 s
    assert time.perf_counter() - started < 2.0


def test_retry_after_beyond_max_delay_gives_up_without_waiting(openai_embedder, fake_api):
    fake_api.fail_next(1, status=429, retry_after=3600)
    started = time.perf_counter()
    with pytest.raises(APIError, match="asked to wait 3600 s"):
        openai_embedder(dimensions=8).embed_query("x")
    assert time.perf_counter() - started < 1.0 and len(fake_api.requests) == 1


# -- bad responses ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind,phrase", [("wrong_count", "returned 1 vectors for 2 texts"),
                                         ("nan", "NaN"),
                                         ("wrong_dimension", "dimension 7, expected 8"),
                                         ("malformed_json", "not valid JSON")])
def test_bad_responses_are_errors_and_nothing_is_cached(openai_embedder, fake_api, kind, phrase):
    fake_api.inject(kind, marker="poison")
    emb = openai_embedder(dimensions=8, batch_size=2, max_concurrency=1)
    texts = ["a", "b", "poison 1", "poison 2", "c", "d"]
    with pytest.raises(APIError, match=phrase):
        emb.embed_documents(texts)
    poisoned = [r for r in fake_api.requests if r.fault]
    assert len(poisoned) == 1  # not retried: a retry cannot fix a broken server
    fake_api.reset()
    out = emb.embed_documents(texts)
    assert [r.texts for r in fake_api.requests] == [["poison 1", "poison 2"]]
    np.testing.assert_allclose(out[2], expected_vector(SMALL, "poison 1", 8), atol=1e-6)


def test_resume_after_a_batch_fails_for_good(openai_embedder, fake_api):
    """Batch 7 of 10 fails every time: the other nine are cached, a rerun sends only batch 7."""
    fake_api.fail_on("batch-7", status=500)
    texts = [f"batch-{b} text {i}" for b in range(1, 11) for i in range(5)]
    emb = openai_embedder(dimensions=8, batch_size=5, max_concurrency=1)
    with pytest.raises(APIError, match="gave up after 4 attempts"):
        emb.embed_documents(texts)
    first_run = fake_api.requests
    assert len(first_run) == 9 + 4  # nine good batches, four attempts at batch 7
    assert sum(r.status == 200 for r in first_run) == 9

    fake_api.reset()  # the outage is over
    rerun = openai_embedder(dimensions=8, batch_size=5, max_concurrency=1)
    out = rerun.embed_documents(texts)
    assert [r.texts for r in fake_api.requests] == [texts[30:35]]
    assert rerun.stats.hits == 45 and rerun.stats.requests == 1
    for row, text in zip(out, texts):
        np.testing.assert_allclose(row, expected_vector(SMALL, text, 8), atol=1e-6)


def test_prefixes_are_sent_and_provider_embed_works_directly(openai_embedder, fake_api):
    emb = openai_embedder(dimensions=8, query_prefix="query: ")
    emb.embed_query("refunds")
    assert fake_api.requests[0].texts == ["query: refunds"]
    batch = emb.provider.embed(["a b", "c"], role="document", prefix="passage: ")
    assert batch.vectors.shape == (2, 8) and batch.tokens == sum(
        openai_token_count(t) for t in ["passage: a b", "passage: c"])
    assert fake_api.requests[1].texts == ["passage: a b", "passage: c"]
