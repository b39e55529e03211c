"""`EmbedKitHybridRetriever` over real LlamaIndex vector stores: SimpleVectorStore, Chroma
(llama-index-vector-stores-chroma), FAISS (llama-index-vector-stores-faiss, ``IndexFlatL2``) and
Qdrant (llama-index-vector-stores-qdrant, qdrant-client local mode).

Chroma and Qdrant keep the text themselves, so the index's docstore stays empty and the BM25
side reads the corpus from the store (``ChromaVectorStore.get_nodes`` needs ``node_ids``).
Qdrant wants UUID point ids, so node ids here are UUIDs and the msmarco id is in the metadata.
"""

from __future__ import annotations

import uuid
import warnings

import pytest
from embedkit import HybridIndex
from llama_index.core import StorageContext, VectorStoreIndex, load_index_from_storage
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import ExactMatchFilter, MetadataFilters

from llamaindex_embedkit import EmbedKitEmbedding, EmbedKitHybridRetriever
from tests.stores.li_stores import make_store
from tests.stores.slice import msmarco_slice, ndcg_at_10

STORES = ["simple", "chroma", "faiss", "qdrant"]
BOILERPLATE = "Contact support@example.com if the problem persists after a restart."


@pytest.fixture(scope="module")
def shared_model(tmp_path_factory) -> EmbedKitEmbedding:
    """One cache for the module: every store embeds the same texts once."""
    return EmbedKitEmbedding(cache_dir=str(tmp_path_factory.mktemp("li-store-cache")))


def _node(key: str, text: str, **metadata) -> TextNode:
    hidden = list(metadata)  # the text alone is embedded and searched, as in the engine index
    return TextNode(id_=str(uuid.uuid5(uuid.NAMESPACE_URL, key)), text=text,
                    metadata={"key": key, **metadata},
                    excluded_embed_metadata_keys=["key", *hidden],
                    excluded_llm_metadata_keys=["key", *hidden])


def _vector_index(kind: str, nodes: list[TextNode], embed_model, path=None) -> VectorStoreIndex:
    store = make_store(kind, path)
    if store is None:
        return VectorStoreIndex(nodes, embed_model=embed_model)
    storage = StorageContext.from_defaults(vector_store=store)
    return VectorStoreIndex(nodes, storage_context=storage, embed_model=embed_model)


def _keys(results) -> list[str]:
    return [r.node.metadata["key"] for r in results]


# ------------------------------------------------------------------ quality and score units
@pytest.mark.parametrize("kind", STORES)
async def test_same_ndcg_as_the_engines_own_index_and_no_warning(kind, shared_model, capsys):
    data = msmarco_slice()
    own = HybridIndex(shared_model.embedder)
    own.add(list(data.corpus.values()), ids=list(data.corpus))
    index = _vector_index(kind, [_node(k, t) for k, t in data.corpus.items()], shared_model)
    if kind in ("chroma", "qdrant"):
        assert index.docstore.docs == {}  # the corpus must come from the store itself
    retriever = EmbedKitHybridRetriever.from_defaults(index=index, similarity_top_k=10)
    capsys.readouterr()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = {qid: _keys(retriever.retrieve(q)) for qid, q in data.queries.items()}
        first_qid, first_query = next(iter(data.queries.items()))
        if kind != "qdrant":  # async Qdrant needs a second client (aclient) on another database
            assert _keys(await retriever.aretrieve(first_query)) == run[first_qid]
    assert not caught, [str(w.message)[:200] for w in caught]
    assert capsys.readouterr().err == ""

    # A store returns no vectors, so the engine's dense feedback cannot run over one: compare
    # with the engine's own index at feedback="none".
    expected = ndcg_at_10({qid: [h.id for h in own.search(q, 10, feedback="none")]
                           for qid, q in data.queries.items()}, data.qrels)
    assert ndcg_at_10(run, data.qrels) == pytest.approx(expected, abs=0.005)
    # The store's scores (distances, exp(-distance)...) became the engine's own cosines.
    own_dense = {h.id: h.score for h in own.search(first_query, k=50, fusion="dense")}
    checked = 0
    for result in retriever.retrieve(first_query):
        key, dense = result.node.metadata["key"], result.node.metadata["dense_score"]
        if result.node.metadata["dense_rank"] is not None and key in own_dense:
            assert dense == pytest.approx(own_dense[key], abs=1e-4)
            checked += 1
    assert checked >= 5


# ------------------------------------------------------------------ filters and duplicates
@pytest.mark.parametrize("kind", STORES)
def test_filters_and_identical_texts_from_different_files(kind, shared_model):
    nodes = [
        _node("a", BOILERPLATE, source="a.md", topic="support"),
        _node("b", BOILERPLATE, source="b.md", topic="support"),
        _node("fuser", "Part XR-7731-B is the replacement fuser for the LX500.",
              source="parts.md", topic="parts"),
        _node("drum", "Part XR-7713-A is the replacement drum unit for the LX500.",
              source="parts.md", topic="parts"),
        _node("invoices", "Invoices are emailed on the first business day of every month.",
              source="billing.md", topic="billing"),
    ]
    index = _vector_index(kind, nodes, shared_model)
    query = "the problem persists, who do I contact?"

    both = EmbedKitHybridRetriever.from_defaults(index=index, similarity_top_k=5)
    assert {"a", "b"} <= set(_keys(both.retrieve(query)))
    only_b = EmbedKitHybridRetriever.from_defaults(index=index, similarity_top_k=5, filters=(
        MetadataFilters(filters=[ExactMatchFilter(key="source", value="b.md")])))
    assert _keys(only_b.retrieve(query)) == ["b"]
    parts = EmbedKitHybridRetriever.from_defaults(index=index, similarity_top_k=5, filters=(
        MetadataFilters(filters=[ExactMatchFilter(key="topic", value="parts")])))
    assert sorted(_keys(parts.retrieve("replacement drum for the printer"))) == ["drum", "fuser"]


# ------------------------------------------------------------------ persistence
def _reopen(kind: str, index: VectorStoreIndex, folder, embed_model) -> VectorStoreIndex:
    if kind in ("simple", "faiss"):
        index.storage_context.persist(persist_dir=str(folder / "storage"))
        if kind == "simple":
            storage = StorageContext.from_defaults(persist_dir=str(folder / "storage"))
        else:
            from llama_index.vector_stores.faiss import FaissVectorStore

            store = FaissVectorStore.from_persist_dir(str(folder / "storage"))
            storage = StorageContext.from_defaults(vector_store=store,
                                                   persist_dir=str(folder / "storage"))
        return load_index_from_storage(storage, embed_model=embed_model)
    if kind == "qdrant":
        index.vector_store.client.close()  # local mode: one client per folder
    return VectorStoreIndex.from_vector_store(make_store(kind, folder / kind),
                                              embed_model=embed_model)


@pytest.mark.parametrize("kind", STORES)
def test_persisted_retriever_and_store_reopen_with_the_same_results(kind, shared_model,
                                                                    tmp_path):
    nodes = [_node("e1147", "Error E1147: the print spooler lost the tray sensor."),
             _node("e1174", "Error E1174: the print spooler lost the paper tray."),
             _node("password", "To reset your password, open Settings, Forgot password."),
             _node("invoices", "Invoices are emailed on the first business day of the month.")]
    index = _vector_index(kind, nodes, shared_model, tmp_path / kind)
    retriever = EmbedKitHybridRetriever.from_defaults(index=index, similarity_top_k=2)
    queries = ("E1147", "I forgot my login")
    before = {q: _keys(retriever.retrieve(q)) for q in queries}
    retriever.persist(tmp_path / "retriever")

    reopened = _reopen(kind, index, tmp_path, shared_model)
    loaded = EmbedKitHybridRetriever.from_persist_dir(tmp_path / "retriever", shared_model,
                                                      index=reopened)
    assert {q: _keys(loaded.retrieve(q)) for q in queries} == before
    assert before["E1147"][0] == "e1147" and before["I forgot my login"][0] == "password"
