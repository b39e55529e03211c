"""`EmbedKitEmbeddings` behaviour beyond the standard suites: types, prefixes, caching, secrets,
async, LangSmith identity, and use inside real LangChain objects."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from unittest import mock

import numpy as np
import pytest
from embedkit import Glossary
from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_embedkit import EmbedKitEmbeddings
from pydantic import ValidationError

HELP_DOCS = [
    Document(page_content="To reset your password, open Settings and choose 'Forgot password'; "
             "a reset link is emailed to you.", id="password"),
    Document(page_content="Invoices are emailed on the first business day of every month.",
             id="invoices"),
    Document(page_content="The office is closed on public holidays and weekends.", id="office"),
    Document(page_content="The public API allows 100 requests per minute for each key.",
             id="ratelimit"),
    Document(page_content="Export your data as CSV from the Reports page.", id="export"),
]


def _cosine(a: list[float], b: list[float]) -> float:
    va, vb = np.asarray(a), np.asarray(b)
    return float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))


# ----------------------------------------------------------------------------- types and config
def test_vectors_are_lists_of_python_floats_matching_the_engine():
    embeddings = EmbedKitEmbeddings(cache=False)
    docs = embeddings.embed_documents(["alpha beta", "gamma delta"])
    query = embeddings.embed_query("alpha beta")
    assert type(docs) is list and all(type(v) is list for v in docs)
    assert all(type(x) is float for v in docs for x in v) and all(type(x) is float for x in query)
    assert len(query) == embeddings.embedder.dimension == 384
    engine_docs = embeddings.embedder.embed_documents(["alpha beta", "gamma delta"])
    np.testing.assert_allclose(np.asarray(docs), engine_docs, atol=1e-6)
    assert abs(np.linalg.norm(query) - 1.0) < 1e-5


def test_fields_reach_the_engine(tmp_path):
    with pytest.warns(UserWarning, match="not trained for Matryoshka"):
        embeddings = EmbedKitEmbeddings(
            dimensions=128, glossary={"SLA": "service level agreement"},
            cache_dir=tmp_path / "c", batch_size=7, query_prefix="q: ", document_prefix="d: ")
    engine = embeddings.embedder
    assert len(embeddings.embed_query("What is our SLA?")) == 128
    assert engine.batch_size == 7
    assert engine.final_text("our SLA", "query") == "q: our SLA (service level agreement)"
    assert engine.final_text("our SLA", "document") == "d: our SLA (service level agreement)"
    assert engine.cache is not None and engine.cache.directory == tmp_path / "c"
    assert isinstance(engine.glossary, Glossary)


def test_unknown_field_is_rejected():
    # model_name is a migration alias now (test_lc_migration.py); unknown names still fail.
    with pytest.raises(TypeError, match="unknown argument 'modle'; did you mean 'model'"):
        EmbedKitEmbeddings(modle="sentence-transformers/all-MiniLM-L6-v2")


def test_fields_are_frozen_so_the_engine_cannot_drift():
    embeddings = EmbedKitEmbeddings(cache=False)
    with pytest.raises(ValidationError):
        embeddings.dimensions = 64


def test_bad_engine_argument_fails_at_construction_naming_it():
    with pytest.raises(ValidationError, match="dimensions=1000 is larger than"):
        EmbedKitEmbeddings(dimensions=1000)


def test_api_key_for_a_local_model_is_an_error():
    with pytest.raises(ValidationError, match="api_key apply to API models") as info:
        EmbedKitEmbeddings(api_key="sk-local-mistake-987")
    assert "sk-local-mistake-987" not in str(info.value)
    with pytest.raises(ValidationError, match="base_url, timeout apply to API models"):
        EmbedKitEmbeddings(base_url="http://localhost:1", timeout=3)


def test_provider_options_reach_the_backend():
    with pytest.raises(TypeError, match="no_such_option only apply to API models"):
        EmbedKitEmbeddings(provider_options={"no_such_option": 1})
    embeddings = EmbedKitEmbeddings(cache=False, provider_options={"trust_remote_code": False})
    assert embeddings.embed_query("ok")


def test_local_model_ignores_provider_env_vars():
    with mock.patch.dict("os.environ", {"OPENAI_API_KEY": "sk-env-1", "COHERE_API_KEY": "co-1"}):
        embeddings = EmbedKitEmbeddings(cache=False)
    assert embeddings.api_key is None


@pytest.mark.parametrize(("provider", "model", "env"), [
    ("openai", "openai:text-embedding-3-small", {"OPENAI_API_KEY": "sk-openai-env-42"}),
    ("cohere", "cohere:embed-english-v3.0", {"COHERE_API_KEY": "co-env-42"}),
])
def test_api_key_is_read_from_the_provider_env_var(provider, model, env):
    with mock.patch.dict("os.environ", env, clear=False):
        embeddings = EmbedKitEmbeddings(model=model, base_url="http://127.0.0.1:9/v1")
    assert embeddings.api_key is not None
    assert embeddings.api_key.get_secret_value() == next(iter(env.values()))


def test_api_key_never_shows_in_repr_dump_or_errors():
    from embedkit.providers.retry import RetryPolicy

    secret = "sk-do-not-print-31337"
    embeddings = EmbedKitEmbeddings(model="openai:text-embedding-3-small", api_key=secret,
                                    base_url="http://127.0.0.1:9/v1", cache=False, timeout=5,
                                    provider_options={"retry": RetryPolicy(max_attempts=1)})
    shown = [repr(embeddings), str(embeddings), str(embeddings.model_dump()),
             embeddings.model_dump_json(), json.dumps(embeddings.embedder.describe()),
             repr(embeddings.embedder)]
    assert not [text for text in shown if secret in text]
    with pytest.raises(Exception) as info:  # nothing listens on port 9
        embeddings.embed_query("hello")
    assert secret not in str(info.value) and secret not in repr(info.value)
    with pytest.raises(ValidationError) as info:
        EmbedKitEmbeddings(model="openai:text-embedding-3-small", api_key=secret, dimensions=0)
    assert secret not in str(info.value)


def test_openai_model_end_to_end_through_a_local_api(fake_api, tmp_path):
    from tests.fakeapi import expected_vector

    embeddings = EmbedKitEmbeddings(model="openai:text-embedding-3-small", dimensions=256,
                                    api_key="sk-fake-2718", base_url=fake_api.openai_base_url,
                                    cache_dir=tmp_path)
    documents = embeddings.embed_documents(["alpha report", "beta report"])
    for text, vector in zip(["alpha report", "beta report"], documents):
        expected = expected_vector("text-embedding-3-small", text, 256)
        assert _cosine(vector, expected.tolist()) > 0.9999 and len(vector) == 256
    (request,) = fake_api.requests
    assert request.body["dimensions"] == 256 and request.texts == ["alpha report", "beta report"]
    assert embeddings.embed_documents(["alpha report"]) == documents[:1]  # from the disk cache
    assert len(fake_api.requests) == 1
    assert embeddings._get_ls_params()["ls_provider"] == "openai"


async def test_cohere_query_and_document_roles_reach_the_api(fake_api, tmp_path):
    from tests.fakeapi import expected_vector

    embeddings = EmbedKitEmbeddings(model="cohere:embed-english-v3.0", api_key="co-fake-1618",
                                    base_url=fake_api.url, cache_dir=tmp_path)
    document = (await embeddings.aembed_documents(["refund policy"]))[0]
    query = await embeddings.aembed_query("refund policy")
    model = "embed-english-v3.0"
    assert _cosine(document, expected_vector(model, "refund policy", 1024,
                                             input_type="search_document").tolist()) > 0.9999
    assert _cosine(query, expected_vector(model, "refund policy", 1024,
                                          input_type="search_query").tolist()) > 0.9999
    assert [r.body["input_type"] for r in fake_api.requests] == ["search_document",
                                                                 "search_query"]


# ----------------------------------------------------------------------------- async
async def test_async_matches_sync_and_does_not_block_the_event_loop():
    embeddings = EmbedKitEmbeddings(cache=False)
    texts = [f"sentence {i} about topic {i % 7} and a few more words" for i in range(96)]
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    vectors = await embeddings.aembed_documents(texts)
    elapsed = time.perf_counter() - started
    task.cancel()
    # A blocked loop would tick at most once while the model runs.
    assert elapsed > 0.05 and ticks >= 5, (elapsed, ticks)
    np.testing.assert_allclose(vectors, embeddings.embed_documents(texts), atol=1e-5)
    query = await embeddings.aembed_query("topic 3")
    assert all(type(x) is float for x in query)
    np.testing.assert_allclose(query, embeddings.embed_query("topic 3"), atol=1e-5)


# ----------------------------------------------------------------------------- prefixes and cache
QUESTION = "how do I rotate the signing key of the payments API"


def test_prefix_model_query_and_document_vectors_differ_and_use_their_prefixes(
        prompt_model_dir, tmp_path):
    from sentence_transformers import SentenceTransformer

    embeddings = EmbedKitEmbeddings(model=str(prompt_model_dir), cache_dir=tmp_path)
    document = embeddings.embed_documents([QUESTION])[0]
    query = embeddings.embed_query(QUESTION)  # same text, asked after the document is cached
    reference = SentenceTransformer(str(prompt_model_dir), device="cpu")
    expected_query = reference.encode(QUESTION, prompt_name="query")
    expected_document = reference.encode(QUESTION, prompt_name="document")
    assert _cosine(query, expected_query) > 0.9999       # "query: " + text
    assert _cosine(document, expected_document) > 0.9999  # "passage: " + text
    assert _cosine(query, document) < 0.99
    stats = embeddings.embedder.stats
    assert (stats.hits, stats.misses) == (0, 2)  # the query did not reuse the document's entry
    again = EmbedKitEmbeddings(model=str(prompt_model_dir), cache_dir=tmp_path)
    assert again.embed_query(QUESTION) == query and again.embedder.stats.hits == 1


def test_cache_backed_embeddings_serves_a_document_vector_for_a_query(prompt_model_dir, tmp_path):
    """What goes wrong in langchain-classic's `CacheBackedEmbeddings` (checked in 1.0.8).

    Its cache key is ``namespace + hash(text)``: the role is not part of it. With
    ``from_bytes_store(..., query_embedding_cache=True)`` the query store *is* the document
    store, so ``embed_query(t)`` after ``embed_documents([t])`` returns the cached
    ``"passage: t"`` vector, and in the other order documents get the query vector. With the
    default ``query_embedding_cache=False`` queries are not cached at all: every repeated
    question is embedded (and, for an API model, paid for) again. The namespace is whatever
    the user typed (default ``""``), so a model or prefix change also reuses stale vectors.
    embedkit keys every entry by (fingerprint, role, final text) instead.
    """
    classic_cache = pytest.importorskip("langchain_classic.embeddings.cache")
    from langchain_core.stores import InMemoryByteStore

    plain = EmbedKitEmbeddings(model=str(prompt_model_dir), cache=False)
    right_query, right_document = plain.embed_query(QUESTION), plain.embed_documents([QUESTION])[0]
    assert _cosine(right_query, right_document) < 0.99

    cached = classic_cache.CacheBackedEmbeddings.from_bytes_store(
        plain, InMemoryByteStore(), namespace="prompted", query_embedding_cache=True,
        key_encoder="sha256")
    assert _cosine(cached.embed_documents([QUESTION])[0], right_document) > 0.9999
    assert _cosine(cached.embed_query(QUESTION), right_document) > 0.9999  # wrong vector
    assert _cosine(cached.embed_query(QUESTION), right_query) < 0.99

    ours = EmbedKitEmbeddings(model=str(prompt_model_dir), cache_dir=tmp_path)
    ours.embed_documents([QUESTION])
    assert _cosine(ours.embed_query(QUESTION), right_query) > 0.9999


# ----------------------------------------------------------------------------- LangChain objects
def test_in_memory_vector_store_finds_the_paraphrased_document():
    store = InMemoryVectorStore.from_documents(HELP_DOCS, EmbedKitEmbeddings())
    found = store.similarity_search("I can't remember my login credentials, how do I get back "
                                    "into my account?", k=1)
    assert [doc.id for doc in found] == ["password"]
    found = store.similarity_search("when do I receive my bill?", k=1)
    assert [doc.id for doc in found] == ["invoices"]


async def test_in_memory_vector_store_async_path():
    store = await InMemoryVectorStore.afrom_documents(HELP_DOCS, EmbedKitEmbeddings())
    found = await store.asimilarity_search("how many calls can my key make each minute", k=1)
    assert [doc.id for doc in found] == ["ratelimit"]


def test_ls_params_name_provider_and_model():
    params = EmbedKitEmbeddings(cache=False)._get_ls_params()
    assert params == {"ls_provider": "local",
                      "ls_model_name": "sentence-transformers/all-MiniLM-L6-v2",
                      "ls_embedding_dimensions": 384}
    with pytest.warns(UserWarning, match="not trained for Matryoshka"):
        smaller = EmbedKitEmbeddings(cache=False, dimensions=64)
    assert smaller._get_ls_params()["ls_embedding_dimensions"] == 64


def _run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})


def test_import_is_light_and_a_missing_langchain_core_names_the_extra():
    out = _run_python("import sys, langchain_embedkit; "
                      "print(sorted({'torch', 'sentence_transformers', 'openai', 'cohere'} "
                      "& set(sys.modules)))")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    out = _run_python("import sys; sys.modules['langchain_core'] = None; "
                      "import langchain_embedkit")
    assert out.returncode != 0
    assert 'pip install "embedkit[langchain]"' in out.stderr
