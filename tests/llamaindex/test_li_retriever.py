"""EmbedKitHybridRetriever with real llama-index-core indexes, query engines and the bundled model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from embedkit import FingerprintMismatchError, HybridIndex
from embedkit.retrieval.tokenizer import Tokenizer
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import QueryBundle, TextNode
from llama_index.core.vector_stores.types import (
    ExactMatchFilter,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from llamaindex_embedkit import EmbedKitEmbedding, EmbedKitHybridRetriever

# "kw" is found by its exact part code, which the dense model confuses with near-identical codes;
# "password" is found by a paraphrase that shares no word with it.
CORPUS = {
    "kw": ("Replacement hinge for the cabinet door: order part ZT-7741 from the warehouse.",
           {"team": "facilities"}),
    "d1": ("Part ZT-7714 is the ZT series controller board.", {"team": "hardware"}),
    "d2": ("Part ZT-1774 is the ZT series controller board for older units.", {"team": "hardware"}),
    "d3": ("Part TZ-7741 is a ZT series power supply.", {"team": "hardware"}),
    "d4": ("Part ZT-7471 is the ZT series fan assembly.", {"team": "hardware"}),
    "password": ("To reset your password, open Settings, choose Security and click Forgot password.",
                 {"team": "it"}),
    "billing": ("Invoices are emailed on the first day of each month; refunds take five days.",
                {"team": "finance"}),
    "shipping": ("Orders ship within two days and international delivery takes up to three weeks.",
                 {"team": "logistics"}),
    "vacation": ("Employees accrue twenty days of paid vacation per year, requested through HR.",
                 {"team": "hr"}),
}
KEYWORD_QUERY = "ZT-7741"
PARAPHRASE_QUERY = "I cannot sign in because I lost my login credentials"
TOP_K = 3


def _nodes() -> list[TextNode]:
    return [TextNode(id_=key, text=text, metadata=dict(meta))
            for key, (text, meta) in CORPUS.items()]


def _ids(results) -> list[str]:
    return [r.node.node_id for r in results]


@pytest.fixture
def vector_index(embed_model) -> VectorStoreIndex:
    return VectorStoreIndex(_nodes(), embed_model=embed_model)


@pytest.fixture
def hybrid(vector_index) -> EmbedKitHybridRetriever:
    return EmbedKitHybridRetriever.from_defaults(index=vector_index, similarity_top_k=TOP_K)


# ---------------------------------------------------------------- what hybrid is for
def test_hybrid_finds_what_dense_alone_and_bm25_alone_miss(vector_index, hybrid):
    dense = vector_index.as_retriever(similarity_top_k=TOP_K)
    bm25 = EmbedKitHybridRetriever.from_defaults(index=vector_index, similarity_top_k=TOP_K,
                                                 fusion="bm25")

    assert "kw" not in _ids(dense.retrieve(KEYWORD_QUERY))
    assert "kw" in _ids(hybrid.retrieve(KEYWORD_QUERY))
    assert "password" not in _ids(bm25.retrieve(PARAPHRASE_QUERY))
    assert "password" in _ids(hybrid.retrieve(PARAPHRASE_QUERY))


def test_results_carry_fused_dense_and_bm25_scores(hybrid):
    keyword = {r.node.node_id: r for r in hybrid.retrieve(KEYWORD_QUERY)}["kw"]
    paraphrase = {r.node.node_id: r for r in hybrid.retrieve(PARAPHRASE_QUERY)}["password"]

    assert keyword.score > 0 and keyword.metadata["bm25_score"] > 0
    assert paraphrase.metadata["dense_score"] > 0
    assert paraphrase.metadata["bm25_score"] == 0  # BM25 did not find it at all
    assert paraphrase.metadata["bm25_rank"] is None and paraphrase.metadata["dense_rank"] >= 1
    # the scores are for this query only: never shown to the LLM or the embedder
    assert "bm25_score" in keyword.node.excluded_llm_metadata_keys
    assert "dense_score" in keyword.node.excluded_embed_metadata_keys
    assert "bm25_score" not in keyword.node.get_content(metadata_mode="llm")


def test_stored_nodes_are_not_touched(vector_index, hybrid):
    hybrid.retrieve(KEYWORD_QUERY)

    assert "bm25_score" not in vector_index.docstore.get_node("kw").metadata


def test_never_pads_with_zero_score_nodes(vector_index):
    bm25 = EmbedKitHybridRetriever.from_defaults(index=vector_index, similarity_top_k=5,
                                                 fusion="bm25")

    results = bm25.retrieve("refunds")  # one document has this word

    assert _ids(results) == ["billing"]
    assert all(r.score > 0 for r in results)
    assert bm25.retrieve("zebra xylophone") == []


def test_engine_own_index_from_nodes(embed_model):
    retriever = EmbedKitHybridRetriever.from_defaults(nodes=_nodes(), embed_model=embed_model,
                                                      similarity_top_k=TOP_K)

    assert "kw" in _ids(retriever.retrieve(KEYWORD_QUERY))
    assert "password" in _ids(retriever.retrieve(PARAPHRASE_QUERY))


def test_engine_own_index_from_docstore_with_settings_model(vector_index, embed_model,
                                                            restore_settings):
    restore_settings.embed_model = embed_model

    retriever = EmbedKitHybridRetriever.from_defaults(docstore=vector_index.docstore,
                                                      similarity_top_k=TOP_K)

    assert "password" in _ids(retriever.retrieve(PARAPHRASE_QUERY))


# ---------------------------------------------------------------- LlamaIndex behaviours
def test_empty_docstore_falls_back_to_the_vector_stores_nodes(embed_model):
    # Chroma keeps the text itself and its get_nodes needs node_ids (issue 14, finding 1).
    from tests.stores.li_stores import chroma_store

    storage = StorageContext.from_defaults(vector_store=chroma_store())
    index = VectorStoreIndex(_nodes(), storage_context=storage, embed_model=embed_model)
    assert index.docstore.docs == {}  # what makes llama-index-retrievers-bm25 crash

    retriever = EmbedKitHybridRetriever.from_defaults(index=index, similarity_top_k=TOP_K)

    assert "kw" in _ids(retriever.retrieve(KEYWORD_QUERY))
    assert "password" in _ids(retriever.retrieve(PARAPHRASE_QUERY))


def test_callers_query_bundle_is_left_as_it_was(hybrid):
    bundle = QueryBundle(query_str=KEYWORD_QUERY)

    first = hybrid.retrieve(bundle)

    assert bundle.embedding is None  # the sync vector retriever would have filled it in
    assert _ids(hybrid.retrieve(bundle)) == _ids(first)


async def test_async_retrieval_matches_sync(hybrid):
    for query in (KEYWORD_QUERY, PARAPHRASE_QUERY):
        sync, concurrent = hybrid.retrieve(query), await hybrid.aretrieve(query)
        assert _ids(concurrent) == _ids(sync)
        np.testing.assert_allclose([r.score for r in concurrent], [r.score for r in sync],
                                   rtol=1e-5)


def test_query_engine_answers_end_to_end_with_mock_llm(hybrid, restore_settings):
    restore_settings._llm = None
    engine = RetrieverQueryEngine.from_args(hybrid, llm=MockLLM())

    response = engine.query(KEYWORD_QUERY)

    assert "kw" in [n.node.node_id for n in response.source_nodes]
    assert "ZT-7741 from the warehouse" in str(response)  # MockLLM echoes the prompt it got
    assert restore_settings._llm is None  # the retriever itself never asked for an LLM


async def test_query_engine_answers_end_to_end_async(hybrid):
    engine = RetrieverQueryEngine.from_args(hybrid, llm=MockLLM())

    response = await engine.aquery(PARAPHRASE_QUERY)

    assert "password" in [n.node.node_id for n in response.source_nodes]
    assert "click Forgot password" in str(response)


def test_metadata_filters_apply_to_both_sides(vector_index):
    only_hardware = MetadataFilters(filters=[ExactMatchFilter(key="team", value="hardware")])
    retriever = EmbedKitHybridRetriever.from_defaults(index=vector_index, similarity_top_k=5,
                                                      filters=only_hardware)

    for query in (KEYWORD_QUERY, PARAPHRASE_QUERY):
        results = retriever.retrieve(query)
        assert results and all(r.node.metadata["team"] == "hardware" for r in results)


def test_metadata_filter_operators_beyond_equality(vector_index):
    it_or_finance = MetadataFilters(filters=[
        MetadataFilter(key="team", value=["it", "finance"], operator=FilterOperator.IN)])
    retriever = EmbedKitHybridRetriever.from_defaults(index=vector_index, similarity_top_k=5,
                                                      filters=it_or_finance)

    results = retriever.retrieve("ZT-7741 invoices password")

    assert {r.node.node_id for r in results} == {"password", "billing"}


# ---------------------------------------------------------------- persistence
def _snapshot(retriever, queries=(KEYWORD_QUERY, PARAPHRASE_QUERY, "refund for an invoice")):
    return [[(r.node.node_id, r.score, r.node.get_content()) for r in retriever.retrieve(q)]
            for q in queries]


def test_persist_and_load_return_identical_results(embed_model, tmp_path):
    retriever = EmbedKitHybridRetriever.from_defaults(
        nodes=_nodes(), embed_model=embed_model, similarity_top_k=TOP_K, fusion="weighted",
        alpha=0.3)
    retriever.persist(tmp_path / "saved")

    loaded = EmbedKitHybridRetriever.from_persist_dir(tmp_path / "saved", embed_model)

    assert _snapshot(loaded) == _snapshot(retriever)
    assert loaded.retrieve("ZT-7741")[0].node.metadata["team"] == "facilities"


def test_persist_keeps_every_tokenizer_and_fusion_setting(embed_model, tmp_path):
    tokenizer = Tokenizer(pattern=r"[^\W_]+(?:-[^\W_]+)*", stopwords=["part", "the"],
                          stemmer_language=None, glossary={"PN": "part number"},
                          glossary_ignore_case=True)
    retriever = EmbedKitHybridRetriever.from_defaults(
        nodes=_nodes(), embed_model=embed_model, tokenizer=tokenizer, fusion="rrf", alpha=0.7,
        rrf_k=10, candidates=4, bm25="rank_bm25")
    retriever.persist(tmp_path / "saved")

    loaded = EmbedKitHybridRetriever.from_persist_dir(tmp_path / "saved", embed_model)

    saved, back = retriever.hybrid_index, loaded.hybrid_index
    assert back.tokenizer == tokenizer and back.tokenizer.to_dict() == tokenizer.to_dict()
    assert (back.fusion, back.alpha, back.rrf_k, back.candidates) == ("rrf", 0.7, 10, 4)
    assert back.bm25.to_dict() == saved.bm25.to_dict()
    assert _snapshot(loaded, ("pn zt-7741", "invoices", "controller boards")) == _snapshot(
        retriever, ("pn zt-7741", "invoices", "controller boards"))


def test_persist_writes_no_pickle(embed_model, tmp_path):
    retriever = EmbedKitHybridRetriever.from_defaults(nodes=_nodes(), embed_model=embed_model)
    retriever.persist(tmp_path / "saved")

    files = [p for p in (tmp_path / "saved").rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"manifest.json", "documents.jsonl", "vectors.npy"}
    # One atomic save: the retriever's settings and nodes live in the index's manifest.
    manifest = json.loads(next(p for p in files if p.name == "manifest.json").read_text())
    assert set(manifest["extra"]["llamaindex_retriever"]) >= {"similarity_top_k", "nodes"}
    for path in files:
        data = path.read_bytes()
        assert not data.startswith(b"\x80"), path  # the pickle protocol 2+ header
        if path.suffix == ".npy":
            np.load(path, allow_pickle=False)
        elif path.suffix == ".json":
            json.loads(data)
        elif path.suffix == ".jsonl":
            [json.loads(line) for line in data.splitlines()]
        else:
            # the name of the complete save, and the (empty) lock file saves take turns on
            assert path.name in ("CURRENT", ".lock"), path


def test_persist_keeps_vector_index_mode(vector_index, hybrid, embed_model, tmp_path):
    hybrid.persist(tmp_path / "saved")

    with pytest.raises(ValueError, match="index="):
        EmbedKitHybridRetriever.from_persist_dir(tmp_path / "saved", embed_model)
    loaded = EmbedKitHybridRetriever.from_persist_dir(tmp_path / "saved", embed_model,
                                                      index=vector_index)

    assert _snapshot(loaded) == _snapshot(hybrid)


def test_loading_with_another_model_is_refused(embed_model, prompt_model_dir, cache_dir, tmp_path):
    retriever = EmbedKitHybridRetriever.from_defaults(nodes=_nodes(), embed_model=embed_model)
    retriever.persist(tmp_path / "saved")
    other = EmbedKitEmbedding(model=str(prompt_model_dir), cache_dir=str(cache_dir))

    with pytest.raises(FingerprintMismatchError):
        EmbedKitHybridRetriever.from_persist_dir(tmp_path / "saved", other)


# ---------------------------------------------------------------- bad input
def test_clear_errors_for_bad_construction(embed_model, vector_index):
    with pytest.raises(ValueError, match="nodes= or docstore="):
        EmbedKitHybridRetriever.from_defaults(embed_model=embed_model)
    with pytest.raises(TypeError, match="EmbedKitEmbedding"):
        EmbedKitHybridRetriever.from_defaults(nodes=_nodes(), embed_model=MockEmbedding(embed_dim=8))
    with pytest.raises(ValueError, match="similarity_top_k"):
        EmbedKitHybridRetriever.from_defaults(index=vector_index, similarity_top_k=0)
    with pytest.raises(FileNotFoundError, match="no saved EmbedKitHybridRetriever"):
        EmbedKitHybridRetriever.from_persist_dir(Path("/nonexistent-embedkit-dir"), embed_model)


def test_accepts_a_ready_hybrid_index(embed_model):
    index = HybridIndex(embed_model.embedder)
    index.add([text for text, _ in CORPUS.values()], ids=list(CORPUS),
              metadatas=[meta for _, meta in CORPUS.values()])

    retriever = EmbedKitHybridRetriever.from_defaults(index=index, similarity_top_k=TOP_K)
    result = retriever.retrieve(KEYWORD_QUERY)

    assert "kw" in _ids(result)
    assert {r.node.node_id: r for r in result}["kw"].node.metadata["team"] == "facilities"
