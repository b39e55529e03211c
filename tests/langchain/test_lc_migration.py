"""Moving from HuggingFaceEmbeddings / OpenAIEmbeddings takes renaming the class only (issue 14)."""

from __future__ import annotations

import pytest
from embedkit.providers.retry import RetryPolicy
from langchain_core.documents import Document
from langchain_embedkit import EmbedKitEmbeddings, EmbedKitHybridRetriever

from tests.fakeapi import expected_vector


def test_huggingface_embeddings_arguments_keep_their_meaning(tmp_path):
    embeddings = EmbedKitEmbeddings(
        model_name="sentence-transformers/all-MiniLM-L6-v2", model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": False, "batch_size": 4},
        query_instruction="query: ", embed_instruction="passage: ", cache_dir=tmp_path)
    assert (embeddings.model, embeddings.device, embeddings.normalize, embeddings.batch_size) \
        == ("sentence-transformers/all-MiniLM-L6-v2", "cpu", False, 4)
    described = embeddings.embedder.describe()
    assert (described["query_prefix"], described["document_prefix"]) == ("query: ", "passage: ")
    assert embeddings.embedder.batch_size == 4 and not embeddings.embedder.normalize


def test_openai_embeddings_arguments_and_bare_model_name_reach_the_api(fake_api, tmp_path):
    embeddings = EmbedKitEmbeddings(
        model="text-embedding-3-small", openai_api_key="sk-migrate-1",
        openai_api_base=fake_api.openai_base_url, request_timeout=7, max_retries=2,
        chunk_size=2, dimensions=64, cache_dir=tmp_path)
    assert embeddings.embedder.provider.name == "openai"
    assert embeddings.embedder.provider.timeout == 7
    assert embeddings.embedder.provider.retry == RetryPolicy(max_attempts=3)
    vectors = embeddings.embed_documents(["alpha", "beta", "gamma"])
    assert [len(r.texts) for r in fake_api.requests] == [2, 1]  # chunk_size texts per request
    assert fake_api.requests[0].api_key == "sk-migrate-1"
    expected = expected_vector("text-embedding-3-small", "alpha", 64)
    assert sum(a * b for a, b in zip(vectors[0], expected.tolist())) > 0.9999


def test_bare_cohere_model_name_resolves_to_cohere(fake_api, tmp_path):
    embeddings = EmbedKitEmbeddings(model="embed-english-v3.0", api_key="co-migrate",
                                    base_url=fake_api.url, cache_dir=tmp_path)
    assert embeddings.embedder.provider.name == "cohere"
    assert len(embeddings.embed_query("refund")) == 1024


@pytest.mark.parametrize("arguments, message", [
    ({"dimension": 128}, "use dimensions="),
    ({"tiktoken_model_name": "cl100k_base"}, "truncates each text"),
    ({"model_kwargs": {"trust_remote_code": True}}, "provider_options"),
    ({"encode_kwargs": {"precision": "int8"}}, "'normalize_embeddings' \\(as normalize=\\)"),
    ({"normalise": False}, "did you mean 'normalize'"),
    ({"model_name": "a", "model": "b"}, "mean the same; pass only model="),
])
def test_other_arguments_are_errors_naming_the_embedkit_equivalent(arguments, message):
    with pytest.raises(TypeError, match=message):
        EmbedKitEmbeddings(cache=False, **arguments)


def test_bm25_only_retriever_never_embeds_the_corpus(tmp_path):
    embeddings = EmbedKitEmbeddings(cache_dir=tmp_path)
    documents = [Document("Error E1147: the tray sensor is unplugged.", id="e1147"),
                 Document("Invoices are emailed monthly.", id="invoices")]
    retriever = EmbedKitHybridRetriever.from_documents(documents, embeddings=embeddings,
                                                       fusion="bm25")
    assert [d.id for d in retriever.invoke("E1147", k=1)] == ["e1147"]
    assert embeddings.embedder.stats.misses == 0 and embeddings.embedder.stats.hits == 0
