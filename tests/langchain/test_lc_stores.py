"""`EmbedKitHybridRetriever` over the real LangChain vector stores users pick: InMemoryVectorStore,
FAISS (faiss-cpu, langchain-community), Chroma (langchain-chroma, local client) and Qdrant
(qdrant-client local mode, langchain-qdrant).

Store documents carry no ids, as text-splitter output does: each store invents its own (Qdrant
also adds ``_id`` and ``_collection_name`` to the metadata), and the retriever must still match
every result to the right document. FAISS persistence is not tested: ``FAISS.save_local``
pickles its docstore.
"""

from __future__ import annotations

import uuid
import warnings
from pathlib import Path

import pytest
from embedkit import HybridIndex
from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_embedkit import EmbedKitEmbeddings, EmbedKitHybridRetriever

from tests.stores.slice import msmarco_slice, ndcg_at_10

STORES = ["inmemory", "faiss", "chroma", "qdrant"]
BOILERPLATE = "Contact support@example.com if the problem persists after a restart."


def build_store(kind: str, documents: list[Document], embeddings, path: Path | None = None):
    """A real store of ``kind`` holding ``documents`` (on disk under ``path`` when given)."""
    if kind == "inmemory":
        return InMemoryVectorStore.from_documents(documents, embeddings)
    if kind == "faiss":
        from langchain_community.vectorstores import FAISS

        return FAISS.from_documents(documents, embeddings)
    if kind == "chroma":
        return build_chroma(documents, embeddings, path)
    if kind == "qdrant":
        from langchain_qdrant import QdrantVectorStore

        where = {"path": str(path)} if path else {"location": ":memory:"}
        return QdrantVectorStore.from_documents(documents, embeddings, collection_name="docs",
                                                **where)
    raise AssertionError(kind)


def build_chroma(documents, embeddings, path=None, collection="docs"):
    import chromadb
    from chromadb.config import Settings
    from langchain_chroma import Chroma

    settings = Settings(anonymized_telemetry=False)
    client = (chromadb.PersistentClient(path=str(path), settings=settings) if path
              else chromadb.EphemeralClient(settings=settings))
    name = collection if path else f"docs-{uuid.uuid4().hex[:12]}"
    store = Chroma(collection_name=name, embedding_function=embeddings, client=client)
    if documents:
        store.add_documents(documents)
    return store


@pytest.fixture(scope="module")
def embeddings(tmp_path_factory) -> EmbedKitEmbeddings:
    """One cache for the module: every store embeds the same texts once."""
    return EmbedKitEmbeddings(cache_dir=tmp_path_factory.mktemp("lc-store-cache"))


def _without_ids(documents: list[Document]) -> list[Document]:
    return [Document(page_content=d.page_content, metadata=dict(d.metadata)) for d in documents]


# ------------------------------------------------------------------ quality and score units
@pytest.mark.parametrize("kind", STORES)
async def test_same_ndcg_as_the_engines_own_index_and_no_warning(kind, embeddings, capsys):
    data = msmarco_slice()
    documents = [Document(page_content=text, id=doc_id, metadata={"doc_id": doc_id})
                 for doc_id, text in data.corpus.items()]
    own = HybridIndex(embeddings.embedder)
    own.add([d.page_content for d in documents], ids=[d.id for d in documents],
            metadatas=[d.metadata for d in documents])
    store = build_store(kind, _without_ids(documents), embeddings)
    retriever = EmbedKitHybridRetriever.from_documents(documents, vectorstore=store, k=10)
    capsys.readouterr()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = {qid: [d.id for d in retriever.invoke(q)] for qid, q in data.queries.items()}
        first_qid, first_query = next(iter(data.queries.items()))
        assert [d.id for d in await retriever.ainvoke(first_query)] == run[first_qid]
    assert not caught, [str(w.message)[:200] for w in caught]
    assert capsys.readouterr().err == ""

    # A store returns no vectors, so the engine's dense feedback cannot run over one: compare
    # with the engine's own index at feedback="none".
    expected = ndcg_at_10({qid: [h.id for h in own.search(q, 10, feedback="none")]
                           for qid, q in data.queries.items()}, data.qrels)
    assert ndcg_at_10(run, data.qrels) == pytest.approx(expected, abs=0.005)
    # The store's distances became the same cosines the engine computes itself.
    (top,) = retriever.invoke(first_query, k=1)
    (engine_top,) = own.search(first_query, k=1, fusion="dense")
    if top.id == engine_top.id:
        assert top.metadata["dense_score"] == pytest.approx(engine_top.score, abs=1e-4)
    own_dense = {h.id: h.score for h in own.search(first_query, k=50, fusion="dense")}
    for document in retriever.invoke(first_query, k=10):
        if document.metadata["dense_rank"] is not None and document.id in own_dense:
            assert document.metadata["dense_score"] == pytest.approx(own_dense[document.id],
                                                                     abs=1e-4)


# ------------------------------------------------------------------ filters and duplicates
@pytest.mark.parametrize("kind", STORES)
def test_filters_and_identical_texts_from_different_files(kind, embeddings):
    documents = [
        Document(BOILERPLATE, metadata={"source": "a.md", "topic": "support"}),
        Document(BOILERPLATE, metadata={"source": "b.md", "topic": "support"}),
        Document("Part XR-7731-B is the replacement fuser for the LX500.",
                 metadata={"source": "parts.md", "topic": "parts"}),
        Document("Part XR-7713-A is the replacement drum unit for the LX500.",
                 metadata={"source": "parts.md", "topic": "parts"}),
        Document("Invoices are emailed on the first business day of every month.",
                 metadata={"source": "billing.md", "topic": "billing"}),
    ]
    store = build_store(kind, documents, embeddings)
    retriever = EmbedKitHybridRetriever.from_documents(documents, vectorstore=store, k=5)

    found = retriever.invoke("the problem persists, who do I contact?")
    assert sorted(d.metadata["source"] for d in found if d.page_content == BOILERPLATE) == \
        ["a.md", "b.md"]
    (only_b,) = retriever.invoke("the problem persists, who do I contact?",
                                 filter={"source": "b.md"})
    assert only_b.page_content == BOILERPLATE and only_b.metadata["dense_rank"] == 1
    parts = retriever.invoke("replacement drum for the printer", filter={"topic": "parts"})
    assert len(parts) == 2 and {d.metadata["topic"] for d in parts} == {"parts"}


# ------------------------------------------------------------------ persistence
def _reopen(kind: str, store, path: Path, embeddings):
    if kind == "inmemory":
        store.dump(str(path / "store.json"))
        return InMemoryVectorStore.load(str(path / "store.json"), embeddings)
    if kind == "chroma":
        return build_chroma([], embeddings, path / "chroma")
    from langchain_qdrant import QdrantVectorStore

    store.client.close()  # local mode: one client per folder
    return QdrantVectorStore.from_existing_collection(collection_name="docs",
                                                     path=str(path / "qdrant"),
                                                     embedding=embeddings)


@pytest.mark.parametrize("kind", ["inmemory", "chroma", "qdrant"])
def test_saved_retriever_and_store_reopen_with_the_same_results(kind, embeddings, tmp_path):
    from lc_corpus import KEYWORD_QUERY, PARAPHRASE_QUERY, make_support_docs

    documents = [Document(d.page_content, id=d.id, metadata={"topic": d.metadata["topic"]})
                 for d in make_support_docs()]
    store = build_store(kind, _without_ids(documents), embeddings, tmp_path / kind)
    retriever = EmbedKitHybridRetriever.from_documents(documents, vectorstore=store, k=3,
                                                       filter={"topic": "printer"})
    before = {q: [d.id for d in retriever.invoke(q)] for q in (KEYWORD_QUERY, PARAPHRASE_QUERY)}
    retriever.save(tmp_path / "retriever")

    reopened = _reopen(kind, store, tmp_path, embeddings)
    loaded = EmbedKitHybridRetriever.load(tmp_path / "retriever", embeddings, vectorstore=reopened)
    assert loaded.filter == {"topic": "printer"} and loaded.score_kind == retriever.score_kind
    assert {q: [d.id for d in loaded.invoke(q)] for q in before} == before
