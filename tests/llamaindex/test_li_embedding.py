"""EmbedKitEmbedding with real llama-index-core objects and the bundled model."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from embedkit import Embedder, Glossary
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.embeddings.utils import resolve_embed_model
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.ingestion.pipeline import get_transformation_hash
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import MetadataMode, TextNode
from llama_index.core.storage.kvstore import SimpleKVStore

from llamaindex_embedkit import EmbedKitEmbedding


def _documents(support_docs: dict[str, str]) -> list[Document]:
    return [Document(text=text, id_=key) for key, text in support_docs.items()]


def _source_of(node_with_score) -> str:
    return node_with_score.node.ref_doc_id


# ---------------------------------------------------------------- LlamaIndex integration
def test_settings_embed_model_vector_index_finds_right_node(support_docs, restore_settings, embed_model):
    restore_settings.embed_model = embed_model
    assert restore_settings.embed_model is embed_model  # resolve_embed_model kept our instance

    retriever = VectorStoreIndex.from_documents(_documents(support_docs)).as_retriever(similarity_top_k=1)

    assert _source_of(retriever.retrieve("I forgot my login password")[0]) == "password"
    assert _source_of(retriever.retrieve("how long until my refund arrives")[0]) == "billing"


async def test_settings_embed_model_async_retrieval(support_docs, restore_settings, embed_model):
    restore_settings.embed_model = embed_model
    index = VectorStoreIndex.from_documents(_documents(support_docs), use_async=True)

    hits = await index.as_retriever(similarity_top_k=1).aretrieve("paper stuck in the printer")

    assert _source_of(hits[0]) == "printer"


def test_per_index_embed_model_leaves_settings_alone(support_docs, restore_settings, embed_model):
    restore_settings._embed_model = None
    nodes = [TextNode(text=text, id_=key) for key, text in support_docs.items()]

    index = VectorStoreIndex(nodes, embed_model=embed_model)
    hit = index.as_retriever(similarity_top_k=1).retrieve("what is the guest wifi password")[0]

    assert hit.node.node_id == "wifi"
    assert restore_settings._embed_model is None


def test_resolve_embed_model_returns_the_instance(embed_model):
    assert resolve_embed_model(embed_model) is embed_model


def test_ingestion_pipeline_embeds_nodes_like_the_engine(support_docs, embed_model, cache_dir):
    pipeline = IngestionPipeline(transformations=[SentenceSplitter(chunk_size=64, chunk_overlap=0), embed_model])

    nodes = pipeline.run(documents=_documents(support_docs))

    engine = Embedder(cache_dir=cache_dir / "separate")
    texts = [node.get_content(metadata_mode=MetadataMode.EMBED) for node in nodes]
    np.testing.assert_allclose(np.array([n.embedding for n in nodes]),
                               engine.embed_documents(texts), atol=1e-5)


def test_ingestion_cache_key_changes_when_the_vectors_would(embed_model, cache_dir):
    nodes = [TextNode(text="hello")]
    other_prefix = EmbedKitEmbedding(cache_dir=str(cache_dir), document_prefix="passage: ")

    assert get_transformation_hash(nodes, embed_model) != get_transformation_hash(nodes, other_prefix)
    same = EmbedKitEmbedding(cache_dir=str(cache_dir))
    assert get_transformation_hash(nodes, embed_model) == get_transformation_hash(nodes, same)


# ---------------------------------------------------------------- batching and events
def test_events_fire_once_per_batch_and_each_batch_is_one_model_call(
        recorded_events, cache_dir):
    model = EmbedKitEmbedding(cache_dir=str(cache_dir), embed_batch_size=4)
    texts = [f"note number {i} about topic {i * 7}" for i in range(10)]

    vectors = model.get_text_embedding_batch(texts)

    starts = recorded_events.of_type("EmbeddingStartEvent")
    ends = recorded_events.of_type("EmbeddingEndEvent")
    assert len(vectors) == 10
    assert len(starts) == len(ends) == 3
    assert [len(e.chunks) for e in ends] == [4, 4, 2]
    assert model.embedder.stats.requests == 3  # engine batches, not one call per text
    assert all(s.model_dict["fingerprint"] == model.embedder.fingerprint for s in starts)


async def test_async_batch_events_and_engine_calls(recorded_events, cache_dir):
    model = EmbedKitEmbedding(cache_dir=str(cache_dir), embed_batch_size=3)
    texts = [f"async note {i} on subject {i * 11}" for i in range(7)]

    vectors = await model.aget_text_embedding_batch(texts)

    ends = recorded_events.of_type("EmbeddingEndEvent")
    assert len(recorded_events.of_type("EmbeddingStartEvent")) == len(ends) == 3
    assert sorted(len(e.chunks) for e in ends) == [1, 3, 3]
    assert model.embedder.stats.requests == 3
    np.testing.assert_allclose(vectors, model.get_text_embedding_batch(texts), atol=1e-6)


def test_embed_batch_size_is_the_engine_batch_size(cache_dir):
    default = EmbedKitEmbedding(cache_dir=str(cache_dir))
    assert default.embed_batch_size == Embedder(cache=False).batch_size

    model = EmbedKitEmbedding(cache_dir=str(cache_dir), embed_batch_size=5)
    assert model.embedder.batch_size == 5
    model.embed_batch_size = 2
    assert model.embedder.batch_size == 2

    model.get_text_embedding_batch(["one apple", "two pears", "three plums"])
    assert model.embedder.stats.requests == 2


# ---------------------------------------------------------------- roles, prefixes, cache
def test_prefix_model_query_and_document_vectors_differ(prompt_model_dir, cache_dir):
    model = EmbedKitEmbedding(model=str(prompt_model_dir), cache_dir=str(cache_dir))
    text = "how do I reset my password"

    query, document = model.get_query_embedding(text), model.get_text_embedding(text)

    assert not np.allclose(query, document, atol=1e-3)
    engine = Embedder(str(prompt_model_dir), cache=False)
    np.testing.assert_allclose(query, engine.embed_query(text), atol=1e-5)
    np.testing.assert_allclose(document, engine.embed_documents([text])[0], atol=1e-5)


async def test_async_query_matches_sync(prompt_model_dir, cache_dir):
    model = EmbedKitEmbedding(model=str(prompt_model_dir), cache_dir=str(cache_dir))
    text = "where is my invoice"

    np.testing.assert_allclose(await model.aget_query_embedding(text),
                               model.get_query_embedding(text), atol=1e-6)
    np.testing.assert_allclose(await model.aget_text_embedding(text),
                               model.get_text_embedding(text), atol=1e-6)


def test_llamaindex_embeddings_cache_is_refused_with_a_warning(prompt_model_dir, cache_dir):
    with pytest.warns(UserWarning, match="embeddings_cache"):
        model = EmbedKitEmbedding(model=str(prompt_model_dir), cache_dir=str(cache_dir),
                                  embeddings_cache=SimpleKVStore())
    assert model.embeddings_cache is None

    text = "reset my password"
    document = model.get_text_embedding(text)
    query = model.get_query_embedding(text)  # a text-keyed cache would hand back `document`
    assert not np.allclose(query, document, atol=1e-3)

    with pytest.warns(UserWarning, match="role"):
        model.embeddings_cache = SimpleKVStore()
    assert model.embeddings_cache is None
    assert model.embedder.stats.hits == 0
    model.get_query_embedding(text)
    assert model.embedder.stats.hits == 1  # embedkit's cache answered


# ---------------------------------------------------------------- config and serialization
def test_config_round_trips_through_json(cache_dir):
    glossary = Glossary({"SLA": "service level agreement"}, ignore_case=True)
    with pytest.warns(UserWarning, match="Matryoshka"):  # the engine's warning comes through
        model = EmbedKitEmbedding(cache_dir=cache_dir, glossary=glossary, dimensions=128,
                                  query_prefix="q: ")

    data = json.loads(model.to_json())
    with pytest.warns(UserWarning, match="Matryoshka"):
        clone = EmbedKitEmbedding.from_json(model.to_json())

    assert data["glossary"] == {"SLA": "service level agreement"}
    assert data["glossary_ignore_case"] is True
    assert data["fingerprint"] == model.embedder.fingerprint
    assert clone.embedder.fingerprint == model.embedder.fingerprint
    assert len(clone.get_query_embedding("the sla says 99.9% uptime")) == 128
    assert clone.embedder.glossary.expand("sla") == "sla (service level agreement)"


def test_model_name_selects_the_model_like_other_llamaindex_embeddings(prompt_model_dir,
                                                                       cache_dir):
    model = EmbedKitEmbedding(model_name=str(prompt_model_dir), cache_dir=str(cache_dir))

    assert model.embedder.prefixes == {"query": "query: ", "document": "passage: "}


def test_bad_config_is_a_clear_error(cache_dir):
    with pytest.raises(ValueError, match="dimensions"):
        EmbedKitEmbedding(cache_dir=str(cache_dir), dimensions=5000)
    with pytest.raises(ValueError, match="embed_batch_size"):
        EmbedKitEmbedding(cache_dir=str(cache_dir), embed_batch_size=0)


def test_empty_node_text_is_named(embed_model):
    with pytest.raises(ValueError, match="at indices 1"):
        embed_model.get_text_embedding_batch(["fine", "   "])


def test_no_warning_in_normal_use(cache_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        EmbedKitEmbedding(cache_dir=str(cache_dir)).get_query_embedding("hello")


def test_api_key_never_leaves_the_object(fake_api, cache_dir, recorded_events):
    secret = "sk-test-DO-NOT-LEAK-1234567890"
    model = EmbedKitEmbedding(model="openai:text-embedding-3-small", api_key=secret,
                              base_url=fake_api.openai_base_url, cache_dir=str(cache_dir))

    model.get_text_embedding_batch(["alpha report", "beta report"])
    model.get_query_embedding("alpha")
    events = [repr(e) + e.model_dump_json() for e in recorded_events.events]

    assert events and model.api_key.get_secret_value() == secret
    for shown in (repr(model), str(model), model.to_json(), str(model.to_dict()),
                  json.dumps(model.to_payload()), str(model.model_dump()),
                  model.model_dump_json(), *events):
        assert secret not in shown
    assert "api_key" not in model.to_dict()
    assert fake_api.requests[0].api_key == secret  # it did reach the API
    with pytest.raises(ValueError) as bad_config:
        EmbedKitEmbedding(model="openai:text-embedding-3-small", api_key=secret, dimensions=0)
    assert secret not in str(bad_config.value)


def test_openai_model_through_llamaindex_batches(fake_api, cache_dir):
    from tests.fakeapi import expected_vector

    model = EmbedKitEmbedding(model="openai:text-embedding-3-small", dimensions=256,
                              api_key="sk-fake-2718", base_url=fake_api.openai_base_url,
                              cache_dir=str(cache_dir), embed_batch_size=2)
    texts = ["alpha report", "beta report", "gamma report"]

    vectors = model.get_text_embedding_batch(texts)

    for text, vector in zip(texts, vectors):
        np.testing.assert_allclose(vector, expected_vector("text-embedding-3-small", text, 256),
                                   atol=1e-5)
    assert [r.texts for r in fake_api.requests] == [texts[:2], texts[2:]]
    assert all(r.body["dimensions"] == 256 for r in fake_api.requests)
    assert model.get_text_embedding_batch(texts) == vectors  # the disk cache answered
    assert len(fake_api.requests) == 2


async def test_cohere_roles_reach_the_api(fake_api, cache_dir):
    from tests.fakeapi import expected_vector

    model = EmbedKitEmbedding(model="cohere:embed-english-v3.0", api_key="co-fake-1618",
                              base_url=fake_api.url, cache_dir=str(cache_dir))

    document = await model.aget_text_embedding("refund policy")
    query = await model.aget_query_embedding("refund policy")

    name = "embed-english-v3.0"
    np.testing.assert_allclose(document, expected_vector(name, "refund policy", 1024,
                                                         input_type="search_document"), atol=1e-5)
    np.testing.assert_allclose(query, expected_vector(name, "refund policy", 1024,
                                                      input_type="search_query"), atol=1e-5)
    assert [r.body["input_type"] for r in fake_api.requests] == ["search_document",
                                                                 "search_query"]
