"""Moving from HuggingFaceEmbedding / OpenAIEmbedding takes renaming the class only, and nothing
is silently dropped (issue 14, findings 4-6)."""

from __future__ import annotations

import pytest
from embedkit import FingerprintMismatchError
from embedkit.providers.retry import RetryPolicy
from llama_index.core.schema import TextNode

from llamaindex_embedkit import EmbedKitEmbedding, EmbedKitHybridRetriever


def test_unknown_arguments_are_refused_naming_the_embedkit_equivalent():
    # Finding 4: this built a 384-d model with no prefix and no warning.
    with pytest.raises(TypeError, match="'dimension'.*use dimensions="):
        EmbedKitEmbedding(query_instruction="query: ", dimension=128, cache=False)
    with pytest.raises(TypeError, match="unknown argument 'quer_prefix'.*'query_prefix'"):
        EmbedKitEmbedding(quer_prefix="query: ", cache=False)
    with pytest.raises(TypeError, match="truncates each text"):
        EmbedKitEmbedding(max_length=256, cache=False)


def test_huggingface_embedding_arguments_keep_their_meaning():
    model = EmbedKitEmbedding(model_name="sentence-transformers/all-MiniLM-L6-v2",
                              query_instruction="query: ", text_instruction="passage: ",
                              model_kwargs={"device": "cpu"},
                              encode_kwargs={"batch_size": 8}, cache=False)
    described = model.embedder.describe()
    assert (described["query_prefix"], described["document_prefix"]) == ("query: ", "passage: ")
    assert model.device == "cpu" and model.embed_batch_size == 8 == model.embedder.batch_size


def test_openai_embedding_arguments_and_bare_model_name(fake_api, cache_dir):
    model = EmbedKitEmbedding(model_name="text-embedding-3-small", api_key="sk-li-migrate",
                              api_base=fake_api.openai_base_url, timeout=9, max_retries=0,
                              embed_batch_size=2, dimensions=32, cache_dir=str(cache_dir))
    provider = model.embedder.provider
    assert (provider.name, provider.timeout, provider.retry) == ("openai", 9,
                                                                 RetryPolicy(max_attempts=1))
    vectors = model.get_text_embedding_batch(["a", "b", "c"])
    assert len(vectors) == 3 and len(vectors[0]) == 32
    assert [len(r.texts) for r in fake_api.requests] == [2, 1]


def test_from_defaults_without_any_embed_model_uses_the_bundled_model(restore_settings):
    restore_settings._embed_model = None  # nothing set: LlamaIndex would build OpenAIEmbedding
    nodes = [TextNode(id_="e1147", text="Error E1147: the tray sensor is unplugged."),
             TextNode(id_="invoices", text="Invoices are emailed on the first of the month.")]
    retriever = EmbedKitHybridRetriever.from_defaults(nodes=nodes, similarity_top_k=1)
    assert retriever.hybrid_index.embedder.model_name.endswith("all-MiniLM-L6-v2")
    assert retriever.retrieve("when do invoices arrive")[0].node.node_id == "invoices"


def test_bm25_only_retriever_never_embeds_the_corpus(embed_model):
    nodes = [TextNode(id_="e1147", text="Error E1147: the tray sensor is unplugged."),
             TextNode(id_="invoices", text="Invoices are emailed on the first of the month.")]
    retriever = EmbedKitHybridRetriever.from_defaults(nodes=nodes, embed_model=embed_model,
                                                      fusion="bm25", similarity_top_k=1)
    assert retriever.retrieve("E1147")[0].node.node_id == "e1147"
    stats = embed_model.embedder.stats
    assert stats.misses == 0 and stats.hits == 0


def test_fingerprint_mismatch_names_the_settings_that_differ(embed_model, cache_dir, tmp_path):
    nodes = [TextNode(id_="a", text="Error E1147: the tray sensor is unplugged.")]
    EmbedKitHybridRetriever.from_defaults(nodes=nodes, embed_model=embed_model).persist(
        tmp_path / "saved")
    smaller = EmbedKitEmbedding(dimensions=128, cache_dir=str(cache_dir))
    with pytest.raises(FingerprintMismatchError,
                       match=r"dimension 384 \(saved\) vs 128 \(this embedder\)"):
        EmbedKitHybridRetriever.from_persist_dir(tmp_path / "saved", smaller)
    prefixed = EmbedKitEmbedding(query_prefix="query: ", cache_dir=str(cache_dir))
    with pytest.raises(FingerprintMismatchError, match=r"query_prefix '' \(saved\) vs 'query: '"):
        EmbedKitHybridRetriever.from_persist_dir(tmp_path / "saved", prefixed)
