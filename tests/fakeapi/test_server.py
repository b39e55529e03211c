"""The fake embedding API, exercised through the real `openai` and `cohere` SDKs."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time

import cohere
import cohere.errors
import httpx
import numpy as np
import openai
import pytest
from cohere.core.api_error import ApiError as CohereApiError

from tests.fakeapi import (
    FakeEmbeddingServer, cohere_token_count, expected_vector, openai_token_count,
    openai_tokenizer_name,
)

KEY = "sk-test-0123456789abcdef"
SMALL = "text-embedding-3-small"
COHERE_V3 = "embed-english-v3.0"


def openai_client(server: FakeEmbeddingServer, **kw) -> openai.OpenAI:
    kw.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=server.openai_base_url, api_key=KEY, **kw)


def cohere_v2(server: FakeEmbeddingServer, **kw) -> cohere.ClientV2:
    kw.setdefault("max_retries", 0)
    return cohere.ClientV2(api_key=KEY, base_url=server.url, **kw)


def cohere_v1(server: FakeEmbeddingServer, **kw) -> cohere.Client:
    kw.setdefault("max_retries", 0)
    return cohere.Client(api_key=KEY, base_url=server.url, **kw)


def as_f32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


# -- vectors -----------------------------------------------------------------------------------
def test_expected_vector_is_deterministic_unit_float32_and_matryoshka():
    full = expected_vector(SMALL, "hello", 1536)
    assert full.dtype == np.float32 and full.shape == (1536,)
    assert np.linalg.norm(full) == pytest.approx(1.0, abs=1e-6)
    assert np.array_equal(full, expected_vector(SMALL, "hello", 1536))
    prefix = full[:256] / np.linalg.norm(full[:256])
    np.testing.assert_allclose(expected_vector(SMALL, "hello", 256), prefix, atol=1e-6)
    assert not np.allclose(full, expected_vector("text-embedding-3-large", "hello", 1536))
    assert not np.allclose(expected_vector(COHERE_V3, "hi", 8, input_type="search_query"),
                           expected_vector(COHERE_V3, "hi", 8, input_type="search_document"))


# -- OpenAI ------------------------------------------------------------------------------------
def test_openai_round_trip_default_base64(fake_api):
    texts = ["the cat sat", "on the mat", "a third, longer text about embeddings"]
    response = openai_client(fake_api).embeddings.create(model=SMALL, input=texts)

    for item, text in zip(response.data, texts):
        assert np.array_equal(as_f32(item.embedding), expected_vector(SMALL, text, 1536))
    assert [d.index for d in response.data] == [0, 1, 2]
    tokens = sum(openai_token_count(t) for t in texts)
    assert response.usage.prompt_tokens == response.usage.total_tokens == tokens
    (record,) = fake_api.requests
    assert record.path == "/v1/embeddings" and record.api == "openai"
    assert record.body["encoding_format"] == "base64"  # the SDK's default
    assert record.texts == texts and record.n_inputs == 3 and not record.token_ids
    assert record.tokens == tokens and record.status == 200


def test_openai_float_encoding_and_single_string(fake_api):
    response = openai_client(fake_api).embeddings.create(model=SMALL, input="solo",
                                                         encoding_format="float")
    assert np.array_equal(as_f32(response.data[0].embedding), expected_vector(SMALL, "solo", 1536))
    assert fake_api.requests[0].body["input"] == "solo"
    assert fake_api.requests[0].body["encoding_format"] == "float"


def test_openai_counts_tokens_with_cl100k():
    assert openai_tokenizer_name() == "cl100k_base"
    assert openai_token_count("hello world") == 2  # cl100k: [15339, 1917]


def test_openai_key_is_sent_but_redacted_in_records(fake_api):
    openai_client(fake_api).embeddings.create(model=SMALL, input="x")
    record = fake_api.requests[0]
    assert record.header("Authorization") == f"Bearer {KEY}"
    assert record.api_key == KEY
    assert record.redacted_headers()["authorization"] == "<redacted>"
    assert KEY not in repr(record) and KEY not in str(fake_api.requests)


def test_openai_dimensions_honoured(fake_api):
    client = openai_client(fake_api)
    response = client.embeddings.create(model=SMALL, input=["abc", "def"], dimensions=256)
    assert [len(d.embedding) for d in response.data] == [256, 256]
    assert np.array_equal(as_f32(response.data[1].embedding), expected_vector(SMALL, "def", 256))
    assert fake_api.requests[0].body["dimensions"] == 256
    large = client.embeddings.create(model="text-embedding-3-large", input="abc")
    assert len(large.data[0].embedding) == 3072


def test_openai_dimensions_refused_for_ada_and_out_of_range(fake_api):
    client = openai_client(fake_api)
    with pytest.raises(openai.BadRequestError, match="does not support specifying dimensions"):
        client.embeddings.create(model="text-embedding-ada-002", input="x", dimensions=256)
    with pytest.raises(openai.BadRequestError, match="dimensions"):
        client.embeddings.create(model=SMALL, input="x", dimensions=4096)


def test_openai_token_id_input_is_recorded(fake_api):
    response = openai_client(fake_api).embeddings.create(model=SMALL, input=[[15339, 1917]])
    record = fake_api.requests[0]
    assert record.token_ids and record.texts == ["hello world"]
    assert response.usage.prompt_tokens == 2
    assert np.array_equal(as_f32(response.data[0].embedding),
                          expected_vector(SMALL, "hello world", 1536))


def test_openai_request_limits(fake_api):
    client = openai_client(fake_api)
    with pytest.raises(openai.BadRequestError, match="input"):
        client.embeddings.create(model=SMALL, input=["x"] * 2049)
    with pytest.raises(openai.BadRequestError, match="input"):
        client.embeddings.create(model=SMALL, input=["ok", ""])
    with pytest.raises(openai.BadRequestError, match="maximum context length is 8192"):
        client.embeddings.create(model=SMALL, input=["word " * 9000])
    per_text = "word " * 8000  # 8000 tokens: within the per-text limit, 40 of them are not
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.create(model=SMALL, input=[per_text] * 40)
    assert info.value.code == "max_tokens_per_request"
    assert "max 300000 tokens per request" in str(info.value)
    ok = client.embeddings.create(model=SMALL, input=["x"] * 2048, dimensions=8)
    assert len(ok.data) == 2048 and ok.usage.prompt_tokens == 2048


def test_unknown_model_is_404_in_both_apis(fake_api):
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        openai_client(fake_api).embeddings.create(model="no-such-model", input="x")
    with pytest.raises(cohere.errors.NotFoundError):
        cohere_v2(fake_api).embed(model="no-such-model", texts=["x"], input_type="search_query")


def test_added_models_are_served(fake_api):
    fake_api.add_model("openai", "BAAI/bge-m3", 1024, 8192)
    fake_api.add_model("cohere", "my-cohere", 64, 100)
    response = openai_client(fake_api).embeddings.create(model="BAAI/bge-m3", input="x")
    assert np.array_equal(as_f32(response.data[0].embedding),
                          expected_vector("BAAI/bge-m3", "x", 1024))
    co = cohere_v2(fake_api).embed(model="my-cohere", texts=["x"], input_type="search_query",
                                   embedding_types=["float"])
    assert len(co.embeddings.float_[0]) == 64
    with pytest.raises(openai.NotFoundError):
        openai_client(fake_api).embeddings.create(model="my-cohere", input="x")


def test_azure_style_deployment_path(fake_api):
    client = openai.AzureOpenAI(azure_endpoint=fake_api.url, api_key=KEY, max_retries=0,
                                api_version="2024-10-21", azure_deployment="my-embedder")
    response = client.embeddings.create(model=SMALL, input="x")
    assert len(response.data[0].embedding) == 1536
    record = fake_api.requests[0]
    assert record.path.startswith("/openai/deployments/my-embedder/embeddings")
    assert record.header("api-key") == KEY and record.api_key == KEY
    assert record.redacted_headers()["api-key"] == "<redacted>"


# -- Cohere ------------------------------------------------------------------------------------
def test_cohere_v2_round_trip(fake_api):
    texts = ["first document", "second one here"]
    response = cohere_v2(fake_api).embed(model=COHERE_V3, texts=texts, input_type="search_document",
                                         embedding_types=["float"], truncate="END")
    vectors = response.embeddings.float_
    for got, text in zip(vectors, texts):
        assert np.array_equal(as_f32(got),
                              expected_vector(COHERE_V3, text, 1024, input_type="search_document"))
    assert response.texts == texts and response.id
    assert response.meta.billed_units.input_tokens == sum(cohere_token_count(t) for t in texts)
    (record,) = fake_api.requests
    assert record.path == "/v2/embed" and record.api == "cohere-v2"
    assert record.body["input_type"] == "search_document"
    assert record.body["truncate"] == "END" and record.body["embedding_types"] == ["float"]
    assert record.api_key == KEY


def test_cohere_query_and_document_vectors_differ(fake_api):
    client = cohere_v2(fake_api)
    query = client.embed(model=COHERE_V3, texts=["same"], input_type="search_query",
                         embedding_types=["float"]).embeddings.float_[0]
    doc = client.embed(model=COHERE_V3, texts=["same"], input_type="search_document",
                       embedding_types=["float"]).embeddings.float_[0]
    assert not np.allclose(query, doc)
    assert [r.body["input_type"] for r in fake_api.requests] == ["search_query", "search_document"]


def test_cohere_v2_base64_embeddings(fake_api):
    response = cohere_v2(fake_api).embed(model=COHERE_V3, texts=["abc"], input_type="clustering",
                                         embedding_types=["base64", "float"])
    decoded = np.frombuffer(base64.b64decode(response.embeddings.base64[0]), dtype="<f4")
    assert np.array_equal(decoded, expected_vector(COHERE_V3, "abc", 1024, input_type="clustering"))
    assert np.array_equal(as_f32(response.embeddings.float_[0]), decoded)


def test_cohere_v1_shapes_and_sdk_batching(fake_api):
    client = cohere_v1(fake_api)
    plain = client.embed(model=COHERE_V3, texts=["a b"], input_type="classification")
    assert plain.response_type == "embeddings_floats"
    assert np.array_equal(as_f32(plain.embeddings[0]),
                          expected_vector(COHERE_V3, "a b", 1024, input_type="classification"))
    by_type = client.embed(model=COHERE_V3, texts=["a b"], input_type="classification",
                           embedding_types=["float"])
    assert by_type.response_type == "embeddings_by_type"
    assert np.array_equal(as_f32(by_type.embeddings.float_[0]), as_f32(plain.embeddings[0]))
    fake_api.reset()
    # The v1 client splits into batches of 96 itself and sends them concurrently.
    texts = [f"text {i}" for i in range(200)]
    merged = client.embed(model="embed-english-light-v3.0", texts=texts,
                          input_type="search_document")
    assert len(merged.embeddings) == 200 and len(merged.embeddings[0]) == 384
    assert sorted(fake_api.batch_sizes) == [8, 96, 96]
    assert {r.path for r in fake_api.requests} == {"/v1/embed"}
    assert merged.meta.billed_units.input_tokens == 400


def test_cohere_v1_requires_input_type_for_v3_models(fake_api):
    with pytest.raises(cohere.errors.BadRequestError) as info:
        cohere_v1(fake_api).embed(model=COHERE_V3, texts=["x"])
    assert "input_type" in info.value.body["message"]


def test_cohere_output_dimension(fake_api):
    client = cohere_v2(fake_api)
    response = client.embed(model="embed-v4.0", texts=["abc"], input_type="search_query",
                            output_dimension=256, embedding_types=["float"])
    assert np.array_equal(as_f32(response.embeddings.float_[0]),
                          expected_vector("embed-v4.0", "abc", 256, input_type="search_query"))
    assert fake_api.requests[0].body["output_dimension"] == 256
    with pytest.raises(cohere.errors.BadRequestError):
        client.embed(model=COHERE_V3, texts=["abc"], input_type="search_query",
                     output_dimension=256)
    with pytest.raises(cohere.errors.BadRequestError):
        client.embed(model="embed-v4.0", texts=["abc"], input_type="search_query",
                     output_dimension=300)


@pytest.mark.parametrize("mode", ["END", "START"])
def test_cohere_truncation(fake_api, mode):
    words = [f"w{i}" for i in range(600)]
    kept = words[:512] if mode == "END" else words[-512:]
    response = cohere_v2(fake_api).embed(model=COHERE_V3, texts=[" ".join(words), "short"],
                                         input_type="search_document", truncate=mode,
                                         embedding_types=["float"])
    assert np.array_equal(as_f32(response.embeddings.float_[0]),
                          expected_vector(COHERE_V3, " ".join(kept), 1024,
                                          input_type="search_document"))
    assert fake_api.requests[0].truncated == [0]
    assert response.meta.billed_units.input_tokens == 513


def test_cohere_truncate_none_refuses_long_text_and_limits(fake_api):
    client = cohere_v2(fake_api)
    with pytest.raises(cohere.errors.BadRequestError) as info:
        client.embed(model=COHERE_V3, texts=["ok", "w " * 600], input_type="search_document",
                     truncate="NONE")
    assert "index 1" in info.value.body["message"]
    with pytest.raises(cohere.errors.BadRequestError) as info:
        client.embed(model=COHERE_V3, texts=["x"] * 97, input_type="search_document")
    assert "at most 96" in info.value.body["message"]


# -- faults: what each SDK raises ---------------------------------------------------------------
OPENAI_ERRORS = {
    400: openai.BadRequestError, 401: openai.AuthenticationError,
    403: openai.PermissionDeniedError, 404: openai.NotFoundError, 429: openai.RateLimitError,
    500: openai.InternalServerError, 502: openai.InternalServerError,
    503: openai.InternalServerError,
}
COHERE_ERRORS = {
    400: cohere.errors.BadRequestError, 401: cohere.errors.UnauthorizedError,
    403: cohere.errors.ForbiddenError, 404: cohere.errors.NotFoundError,
    429: cohere.errors.TooManyRequestsError, 500: cohere.errors.InternalServerError,
    502: CohereApiError, 503: cohere.errors.ServiceUnavailableError,
}


@pytest.mark.parametrize("status", sorted(OPENAI_ERRORS))
def test_openai_sdk_sees_injected_status(fake_api, status):
    fake_api.fail_next(1, status=status, retry_after=1.5)
    client = openai_client(fake_api)
    with pytest.raises(OPENAI_ERRORS[status]) as info:
        client.embeddings.create(model=SMALL, input="x")
    err = info.value
    assert err.status_code == status
    assert err.response.headers["retry-after"] == "1.5"
    assert isinstance(err.body, dict) and err.body["message"]  # the SDK unwraps {"error": {...}}
    assert KEY not in str(err)  # the 401 body quotes the key masked, as OpenAI does
    assert len(client.embeddings.create(model=SMALL, input="x").data) == 1  # fault was one-shot


@pytest.mark.parametrize("status", sorted(COHERE_ERRORS))
def test_cohere_sdk_sees_injected_status(fake_api, status):
    fake_api.fail_next(1, status=status, retry_after=2)
    client = cohere_v2(fake_api)
    with pytest.raises(COHERE_ERRORS[status]) as info:
        client.embed(model=COHERE_V3, texts=["x"], input_type="search_query")
    assert info.value.status_code == status
    assert info.value.headers["retry-after"] == "2"
    assert info.value.body["message"]
    assert client.embed(model=COHERE_V3, texts=["x"], input_type="search_query").embeddings


def test_hang_is_a_timeout_for_both_sdks(fake_api):
    fake_api.hang(30, times=2)
    started = time.perf_counter()
    with pytest.raises(openai.APITimeoutError):
        openai_client(fake_api, timeout=0.3).embeddings.create(model=SMALL, input="x")
    with pytest.raises(httpx.TimeoutException):
        cohere_v2(fake_api, timeout=0.3).embed(model=COHERE_V3, texts=["x"],
                                               input_type="search_query")
    assert time.perf_counter() - started < 5
    assert [r.fault for r in fake_api.requests] == ["hang", "hang"]


def test_hanging_handlers_do_not_delay_stop():
    with FakeEmbeddingServer() as server:
        server.hang(60)
        with pytest.raises(openai.APITimeoutError):
            openai_client(server, timeout=0.2).embeddings.create(model=SMALL, input="x")
        started = time.perf_counter()
    assert time.perf_counter() - started < 2


def test_dropped_connection_is_a_connection_error(fake_api):
    fake_api.inject("drop", times=2)
    with pytest.raises(openai.APIConnectionError):
        openai_client(fake_api).embeddings.create(model=SMALL, input="x")
    with pytest.raises(httpx.TransportError):
        cohere_v2(fake_api).embed(model=COHERE_V3, texts=["x"], input_type="search_query")
    assert [r.status for r in fake_api.requests] == [None, None]


def test_malformed_json_body(fake_api):
    fake_api.inject("malformed_json", times=2)
    with pytest.raises(json.JSONDecodeError):  # the openai SDK lets the decoder's error through
        openai_client(fake_api).embeddings.create(model=SMALL, input="x")
    with pytest.raises(CohereApiError) as info:
        cohere_v2(fake_api).embed(model=COHERE_V3, texts=["x"], input_type="search_query")
    assert info.value.status_code == 200


def test_wrong_vector_count(fake_api):
    fake_api.inject("wrong_count", times=2)
    response = openai_client(fake_api).embeddings.create(model=SMALL, input=["a", "b", "c"])
    assert len(response.data) == 2
    v2 = cohere_v2(fake_api).embed(model=COHERE_V3, texts=["a", "b"], input_type="search_query",
                                   embedding_types=["float"])
    assert len(v2.embeddings.float_) == 1


def test_nan_in_vector(fake_api):
    fake_api.inject("nan", times=3)
    b64 = openai_client(fake_api).embeddings.create(model=SMALL, input=["a", "b"])
    assert np.isnan(b64.data[0].embedding[0]) and not np.isnan(b64.data[1].embedding).any()
    floats = openai_client(fake_api).embeddings.create(model=SMALL, input="a",
                                                       encoding_format="float")
    assert np.isnan(floats.data[0].embedding[0])
    co = cohere_v2(fake_api).embed(model=COHERE_V3, texts=["a"], input_type="search_query",
                                   embedding_types=["float"])
    assert np.isnan(co.embeddings.float_[0][0])


def test_wrong_dimension(fake_api):
    fake_api.inject("wrong_dimension")
    fake_api.inject("wrong_dimension", dimension=10)
    client = openai_client(fake_api)
    small = client.embeddings.create(model=SMALL, input="a", dimensions=64)
    assert len(small.data[0].embedding) == 63
    assert len(client.embeddings.create(model=SMALL, input="a").data[0].embedding) == 10
    assert len(client.embeddings.create(model=SMALL, input="a").data[0].embedding) == 1536


# -- targeting faults ---------------------------------------------------------------------------
def test_fault_on_nth_request_only(fake_api):
    rule = fake_api.inject("status", nth=3, status=500)
    client = openai_client(fake_api)
    outcomes = []
    for i in range(5):
        try:
            client.embeddings.create(model=SMALL, input=f"t{i}")
            outcomes.append("ok")
        except openai.InternalServerError:
            outcomes.append("500")
    assert outcomes == ["ok", "ok", "500", "ok", "ok"]
    assert rule.fired == 1


def test_marker_fails_for_good(fake_api):
    """Batch 7 of 10 fails every time it is sent; the other batches succeed."""
    rule = fake_api.fail_on("batch-7", status=503)
    client = openai_client(fake_api)
    failed = []
    for _attempt in range(2):
        for b in range(1, 11):
            try:
                client.embeddings.create(model=SMALL,
                                         input=[f"batch-{b} item {i}" for i in range(3)])
            except openai.InternalServerError:
                failed.append(b)
    assert failed == [7, 7] and rule.fired == 2
    assert sum(r.status == 200 for r in fake_api.requests) == 18


def test_fail_next_counts_and_api_filter(fake_api):
    fake_api.fail_next(2, status=429, api="cohere")
    client = openai_client(fake_api)
    assert client.embeddings.create(model=SMALL, input="x").data  # not cohere: untouched
    co = cohere_v2(fake_api)
    for _ in range(2):
        with pytest.raises(cohere.errors.TooManyRequestsError):
            co.embed(model=COHERE_V3, texts=["x"], input_type="search_query")
    assert co.embed(model=COHERE_V3, texts=["x"], input_type="search_query").embeddings
    assert [r.status for r in fake_api.requests] == [200, 429, 429, 200]


def test_openai_sdk_retries_honour_retry_after(fake_api):
    """Shows what the SDK's own retry layer does against the fake (float Retry-After)."""
    fake_api.fail_next(2, status=429, retry_after=0.3)
    response = openai_client(fake_api, max_retries=2).embeddings.create(model=SMALL, input="x")
    assert len(response.data) == 1
    records = fake_api.requests
    assert [r.header("x-stainless-retry-count") for r in records] == ["0", "1", "2"]
    gaps = [b.received_at - a.received_at for a, b in zip(records, records[1:])]
    assert min(gaps) >= 0.29


def test_reset_clears_requests_and_faults(fake_api):
    fake_api.fail_next(5, status=500)
    with pytest.raises(openai.InternalServerError):
        openai_client(fake_api).embeddings.create(model=SMALL, input="x")
    fake_api.reset()
    assert fake_api.requests == []
    assert openai_client(fake_api).embeddings.create(model=SMALL, input="x").data
    assert fake_api.requests[0].number == 1


def test_required_api_key():
    with FakeEmbeddingServer(api_key="sk-the-right-key-123") as server:
        with pytest.raises(openai.AuthenticationError) as info:
            openai_client(server).embeddings.create(model=SMALL, input="x")
        assert "sk-*****************cdef" in str(info.value) and KEY not in str(info.value)
        with pytest.raises(cohere.errors.UnauthorizedError):
            cohere_v2(server).embed(model=COHERE_V3, texts=["x"], input_type="search_query")
        good = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-the-right-key-123",
                             max_retries=0)
        assert good.embeddings.create(model=SMALL, input="x").data


def test_runs_in_its_own_process_with_stats_endpoints():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "tests.fakeapi", "--latency", "0.01"],
                            cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        client = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)
        assert len(client.embeddings.create(model=SMALL, input=["a", "b"]).data) == 2
        stats = httpx.get(url + "/_fake/stats").json()
        assert stats["requests"] == 1 and stats["statuses"] == [200]
        httpx.post(url + "/_fake/reset")
        assert httpx.get(url + "/_fake/stats").json()["requests"] == 0
    finally:
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0


def test_bad_json_and_unknown_path(fake_api):
    bad = httpx.post(fake_api.openai_base_url + "/embeddings", content=b"{not json",
                     headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and "parse the JSON body" in bad.json()["error"]["message"]
    missing = httpx.post(fake_api.url + "/v3/nothing", json={})
    assert missing.status_code == 404


# -- latency and concurrency --------------------------------------------------------------------
def test_latency_is_applied_per_request():
    with FakeEmbeddingServer(latency=0.15) as server:
        started = time.perf_counter()
        openai_client(server).embeddings.create(model=SMALL, input="x")
        assert time.perf_counter() - started >= 0.15
        assert server.requests[0].duration >= 0.15


def test_concurrent_requests_are_served_in_parallel():
    latency, n = 0.2, 8
    with FakeEmbeddingServer(latency=latency) as server:
        client = openai_client(server)
        client.embeddings.create(model=SMALL, input="warm-up")  # not timed
        server.reset()
        errors: list[BaseException] = []

        def call(i: int) -> None:
            try:
                client.embeddings.create(model=SMALL, input=[f"req {i}"])
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    assert not errors
    assert len(server.requests) == n
    assert elapsed < 0.5 * n * latency  # serial would take n * latency = 1.6 s
    assert server.max_in_flight >= n - 1


async def test_async_clients_run_in_parallel():
    latency, n = 0.2, 8
    with FakeEmbeddingServer(latency=latency) as server:
        client = openai.AsyncOpenAI(base_url=server.openai_base_url, api_key=KEY, max_retries=0)
        co = cohere.AsyncClientV2(api_key=KEY, base_url=server.url, max_retries=0)
        started = time.perf_counter()
        results = await asyncio.gather(
            *[client.embeddings.create(model=SMALL, input=f"a{i}") for i in range(n // 2)],
            *[co.embed(model=COHERE_V3, texts=[f"c{i}"], input_type="search_query")
              for i in range(n // 2)])
        elapsed = time.perf_counter() - started
        await client.close()
    assert len(results) == n
    assert elapsed < 0.5 * n * latency
    assert sorted(r.api for r in server.requests) == ["cohere-v2"] * 4 + ["openai"] * 4
