"""`Embedder("cohere:...")` end to end: the real cohere SDK against the local fake API."""

from __future__ import annotations

import numpy as np
import pytest

from embedkit.providers.retry import APIError
from tests.fakeapi import cohere_token_count, expected_vector

from .conftest import TEST_KEY

V3 = "embed-english-v3.0"


def test_role_picks_input_type_and_vectors_match(cohere_embedder, fake_api):
    emb = cohere_embedder()
    docs = emb.embed_documents(["refund policy", "shipping times"])
    query = emb.embed_query("refund policy")
    assert docs.shape == (2, 1024) and emb.dimension == 1024
    np.testing.assert_allclose(
        docs[0], expected_vector(V3, "refund policy", 1024, input_type="search_document"),
        atol=1e-6)
    np.testing.assert_allclose(
        query, expected_vector(V3, "refund policy", 1024, input_type="search_query"), atol=1e-6)
    doc_request, query_request = fake_api.requests
    assert doc_request.path == "/v2/embed" and doc_request.api_key == TEST_KEY
    assert doc_request.body["input_type"] == "search_document"
    assert query_request.body["input_type"] == "search_query"
    assert doc_request.body["truncate"] == "END"
    assert doc_request.body["embedding_types"] == ["float"]


def test_batches_of_at_most_96(cohere_embedder, fake_api):
    emb = cohere_embedder("embed-english-light-v3.0")
    out = emb.embed_documents([f"text {i}" for i in range(200)])
    assert out.shape == (200, 384)
    assert sorted(fake_api.batch_sizes) == [8, 96, 96]


def test_billed_tokens_and_dollars(cohere_embedder, fake_api):
    emb = cohere_embedder()
    texts = ["one two three", "four five"]
    emb.embed_documents(texts)
    billed = sum(cohere_token_count(t) for t in texts)
    assert fake_api.requests[0].tokens == billed
    assert emb.stats.tokens == billed and emb.stats.requests == 1
    assert emb.stats.dollars == pytest.approx(billed * 0.10 / 1e6)


@pytest.mark.parametrize("truncate", ["END", "START"])
def test_truncate_is_passed_through(cohere_embedder, fake_api, truncate):
    emb = cohere_embedder(truncate=truncate)
    words = [f"w{i}" for i in range(700)]
    with pytest.warns(UserWarning, match="truncated"):
        vector = emb.embed_documents([" ".join(words)])[0]
    record = fake_api.requests[0]
    assert record.body["truncate"] == truncate and record.truncated == [0]
    kept = words[:512] if truncate == "END" else words[-512:]
    np.testing.assert_allclose(
        vector, expected_vector(V3, " ".join(kept), 1024, input_type="search_document"),
        atol=1e-6)


def test_truncate_none_surfaces_the_service_error(cohere_embedder, fake_api):
    emb = cohere_embedder(truncate="NONE")
    with pytest.warns(UserWarning), pytest.raises(APIError, match="HTTP 400") as info:
        emb.embed_documents(["ok", "w " * 700])
    assert "index 1" in str(info.value) and len(fake_api.requests) == 1


def test_input_type_override_applies_to_both_roles(cohere_embedder, fake_api):
    emb = cohere_embedder(input_type="clustering")
    emb.embed_documents(["a"])
    emb.embed_query("b")
    assert [r.body["input_type"] for r in fake_api.requests] == ["clustering", "clustering"]
    assert emb.fingerprint != cohere_embedder().fingerprint


def test_output_dimension_where_supported(cohere_embedder, fake_api):
    emb = cohere_embedder("embed-v4.0", dimensions=256)
    out = emb.embed_query("x")
    assert fake_api.requests[0].body["output_dimension"] == 256
    np.testing.assert_allclose(
        out, expected_vector("embed-v4.0", "x", 256, input_type="search_query"), atol=1e-6)
    with pytest.raises(ValueError, match="does not support dimensions"):
        cohere_embedder(V3, dimensions=256)
    with pytest.raises(ValueError, match="choose one of"):
        cohere_embedder("embed-v4.0", dimensions=300)


def test_bad_options_and_missing_key(cohere_embedder):
    with pytest.raises(ValueError, match="input_type"):
        cohere_embedder(input_type="search")
    with pytest.raises(ValueError, match="COHERE_API_KEY"):
        cohere_embedder(api_key=None)


def test_key_from_environment(cohere_embedder, fake_api, monkeypatch):
    monkeypatch.setenv("COHERE_API_KEY", "co-from-env-00000000")
    cohere_embedder(api_key=None).embed_query("x")
    assert fake_api.requests[0].api_key == "co-from-env-00000000"


def test_429_retried_with_retry_after_then_success(cohere_embedder, fake_api):
    fake_api.fail_next(1, status=429, retry_after=0.3)
    emb = cohere_embedder()
    emb.embed_query("x")
    first, second = fake_api.requests
    assert (first.status, second.status) == (429, 200)
    assert second.received_at - first.received_at >= 0.3


@pytest.mark.parametrize("kind", ["status500", "status503", "hang", "drop"])
def test_transient_failures_are_retried(cohere_embedder, fake_api, kind):
    if kind == "hang":
        fake_api.hang(10)
    elif kind == "drop":
        fake_api.inject("drop")
    else:
        fake_api.fail_next(1, status=int(kind[-3:]))
    out = cohere_embedder(timeout=0.5).embed_query("x")
    np.testing.assert_allclose(out, expected_vector(V3, "x", 1024, input_type="search_query"),
                               atol=1e-6)
    assert [r.status for r in fake_api.requests][-1] == 200 and len(fake_api.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_fail_at_once(cohere_embedder, fake_api, status):
    fake_api.fail_next(3, status=status)
    with pytest.raises(APIError) as info:
        cohere_embedder().embed_documents(["x"])
    assert info.value.status == status and len(fake_api.requests) == 1
    assert "cohere:embed-english-v3.0" in str(info.value) and TEST_KEY not in str(info.value)


@pytest.mark.parametrize("kind,phrase", [("wrong_count", "returned 1 vectors for 2 texts"),
                                         ("nan", "NaN"), ("wrong_dimension", "dimension 1023"),
                                         ("malformed_json", "not valid JSON")])
def test_bad_responses_are_errors_and_nothing_is_cached(cohere_embedder, fake_api, kind, phrase):
    fake_api.inject(kind)
    emb = cohere_embedder()
    with pytest.raises(APIError, match=phrase):
        emb.embed_documents(["a", "b"])
    fake_api.reset()
    emb.embed_documents(["a", "b"])
    assert fake_api.batch_sizes == [2]  # nothing from the bad response was cached


def test_base64_wire_format(cohere_embedder, fake_api):
    emb = cohere_embedder(embedding_type="base64")
    out = emb.embed_documents(["a", "b"])
    assert fake_api.requests[0].body["embedding_types"] == ["base64"]
    np.testing.assert_allclose(out[1], expected_vector(V3, "b", 1024, input_type="search_document"),
                               atol=1e-6)
    assert emb.fingerprint == cohere_embedder().fingerprint  # same vectors, same cache
