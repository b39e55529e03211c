"""`EmbedKitHybridRetriever` on real documents, the bundled model and embedkit's HybridIndex."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from embedkit import FingerprintMismatchError
from embedkit.atomic_dir import current_version
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_embedkit import EmbedKitEmbeddings, EmbedKitHybridRetriever

from lc_corpus import KEYWORD_QUERY, PARAPHRASE_QUERY, SUPPORT_TEXTS

SCORE_KEYS = {"score", "dense_score", "bm25_score", "dense_rank", "bm25_rank"}


def _ids(documents: list[Document]) -> list[str | None]:
    return [document.id for document in documents]


# ----------------------------------------------------------------------------- k and metadata
def test_returns_k_documents_with_scores_and_leaves_inputs_alone(support_docs, lc_embeddings):
    before = copy.deepcopy(support_docs)
    retriever = EmbedKitHybridRetriever.from_documents(support_docs, embeddings=lc_embeddings,
                                                       k=3)
    found = retriever.invoke("printer lost its connection")
    assert len(found) == 3 and len(set(_ids(found))) == 3
    for document in found:
        assert SCORE_KEYS <= document.metadata.keys()
        assert document.metadata["topic"] and document.metadata["source"] == {"id": document.id}
        assert document.page_content == SUPPORT_TEXTS[document.id]
    scores = [document.metadata["score"] for document in found]
    assert scores == sorted(scores, reverse=True)
    assert support_docs == before  # nothing added to the caller's documents
    # Returned metadata is a copy: changing it changes nothing stored.
    found[0].metadata["source"]["id"] = "changed"
    again = retriever.invoke("printer lost its connection")
    assert again[0].metadata["source"] == {"id": again[0].id}


def test_k_at_invoke_overrides_and_small_corpora_return_fewer(support_docs, lc_embeddings):
    retriever = EmbedKitHybridRetriever.from_documents(support_docs[:5], embeddings=lc_embeddings,
                                                       k=2)
    assert len(retriever.invoke("printer error")) == 2
    assert len(retriever.invoke("printer error", k=4)) == 4
    assert len(retriever.invoke("printer error", k=50)) == 5
    with pytest.raises(ValueError, match="k must be a positive integer"):
        retriever.invoke("printer error", k=0)


def test_duplicates_by_id_or_by_text_and_metadata_are_indexed_once(lc_embeddings):
    docs = [
        Document("Error E1147 means the tray sensor is unplugged.", id="a"),
        Document("A different text under the same id.", id="a"),
        Document("Invoices are emailed monthly.", metadata={"source": "a.md"}),
        Document("Invoices are emailed monthly.", metadata={"source": "a.md"}),
        Document("Invoices are emailed monthly.", metadata={"source": "b.md"}),
        Document("The office is closed on weekends."),
    ]
    retriever = EmbedKitHybridRetriever.from_documents(docs, embeddings=lc_embeddings, k=10)
    assert len(retriever.index) == 4
    found = retriever.invoke("invoices emailed")
    assert len(found) == 4 and len(set(_ids(found))) == 4
    copies = [d for d in found if d.page_content == "Invoices are emailed monthly."]
    assert sorted(d.metadata["source"] for d in copies) == ["a.md", "b.md"]
    assert next(d for d in found if d.id == "a").page_content.startswith("Error E1147")
    (only_b,) = retriever.invoke("invoices emailed", filter={"source": "b.md"})
    assert only_b.metadata["source"] == "b.md"


def test_metadata_filter_at_construction_and_at_invoke(support_docs, lc_embeddings):
    retriever = EmbedKitHybridRetriever.from_documents(
        support_docs, embeddings=lc_embeddings, k=3, filter={"topic": "parts"})
    found = retriever.invoke("replacement for the printer")
    assert found and {d.metadata["topic"] for d in found} == {"parts"}
    assert len(found) == 2  # only two parts documents exist
    found = retriever.invoke("replacement for the printer", filter={"topic": "account"})
    assert found and {d.metadata["topic"] for d in found} == {"account"}


def test_from_texts_with_metadata_and_ids(lc_embeddings):
    retriever = EmbedKitHybridRetriever.from_texts(
        ["Error E1147: tray sensor.", "Reset your password in Settings."],
        metadatas=[{"kind": "error"}, {"kind": "howto"}], ids=["err", "pw"],
        embeddings=lc_embeddings, k=1)
    (found,) = retriever.invoke("E1147")
    assert found.id == "err" and found.metadata["kind"] == "error"
    with pytest.raises(ValueError, match="equally long"):
        EmbedKitHybridRetriever.from_texts(["a", "b"], ids=["only-one"],
                                           embeddings=lc_embeddings)


def test_non_document_input_is_named(lc_embeddings):
    with pytest.raises(TypeError, match=r"documents\[1\] is str"):
        EmbedKitHybridRetriever.from_documents([Document("ok"), "not a document"],
                                               embeddings=lc_embeddings)


# ----------------------------------------------------------------------------- hybrid beats either
@pytest.mark.parametrize("fusion", ["rrf", "weighted", None])
def test_hybrid_finds_the_exact_code_dense_misses_and_the_paraphrase_bm25_misses(
        support_docs, lc_embeddings, fusion):
    options: dict[str, Any] = {} if fusion is None else {"fusion": fusion}

    def top(query: str, **kwargs: Any) -> str | None:
        retriever = EmbedKitHybridRetriever.from_documents(
            support_docs, embeddings=lc_embeddings, k=1, **kwargs)
        found = retriever.invoke(query)
        return found[0].id if found else None

    # The corpus is hard in the intended ways (checked here, not assumed):
    assert top(KEYWORD_QUERY, fusion="dense") != "e1147"
    assert top(PARAPHRASE_QUERY, fusion="bm25") != "password"
    # ... and the fused ranking gets both right.
    assert top(KEYWORD_QUERY, **options) == "e1147"
    assert top(PARAPHRASE_QUERY, **options) == "password"


# ----------------------------------------------------------------------------- vector store side
def test_any_vectorstore_can_supply_the_dense_side(support_docs, lc_embeddings):
    # Ids are dropped for half the documents: the store invents its own for them, and the
    # retriever must still match its results to the same documents by content.
    store_docs = [Document(d.page_content, metadata=d.metadata, id=d.id if i % 2 else None)
                  for i, d in enumerate(support_docs)]
    store = InMemoryVectorStore.from_documents(store_docs, lc_embeddings)
    retriever = EmbedKitHybridRetriever.from_documents(support_docs, vectorstore=store, k=2)
    assert retriever.embeddings is lc_embeddings

    found = retriever.invoke(KEYWORD_QUERY)
    assert found[0].id == "e1147" and found[0].metadata["bm25_rank"] == 1
    found = retriever.invoke(PARAPHRASE_QUERY)
    assert found[0].id == "password" and found[0].metadata["dense_rank"] == 1
    # Dense scores are the store's own similarities.
    (best, similarity), = store.similarity_search_with_score(PARAPHRASE_QUERY, k=1)
    assert best.page_content == found[0].page_content
    assert found[0].metadata["dense_score"] == pytest.approx(similarity, abs=1e-6)


async def test_async_matches_sync_in_both_modes(support_docs, lc_embeddings):
    own = EmbedKitHybridRetriever.from_documents(support_docs, embeddings=lc_embeddings, k=3)
    store = await InMemoryVectorStore.afrom_documents(support_docs, lc_embeddings)
    external = EmbedKitHybridRetriever.from_documents(support_docs, vectorstore=store, k=3)
    for retriever in (own, external):
        for query in (KEYWORD_QUERY, PARAPHRASE_QUERY):
            sync = retriever.invoke(query)
            asynchronous = await retriever.ainvoke(query)
            assert _ids(asynchronous) == _ids(sync)
            assert [d.metadata["score"] for d in asynchronous] == pytest.approx(
                [d.metadata["score"] for d in sync])
        assert len(await retriever.ainvoke("printer", k=1)) == 1


# ----------------------------------------------------------------------------- persistence
def test_save_and_load_without_pickle(support_docs, lc_embeddings, tmp_path):
    retriever = EmbedKitHybridRetriever.from_documents(
        support_docs, embeddings=lc_embeddings, k=2, filter={"topic": "printer"})
    retriever.save(tmp_path / "saved")
    files = [p for p in (tmp_path / "saved").rglob("*") if p.is_file()]
    assert files and not [p for p in files if p.suffix in {".pkl", ".pickle", ".joblib"}]
    for path in files:
        assert not path.read_bytes().startswith(b"\x80")  # no pickle protocol header
    # One atomic save: the retriever's settings live in the index's own manifest.
    manifest = json.loads((current_version(tmp_path / "saved") / "manifest.json").read_text())
    settings = manifest["extra"]["langchain_retriever"]
    assert settings["k"] == 2 and settings["filter"] == {"topic": "printer"}

    loaded = EmbedKitHybridRetriever.load(tmp_path / "saved", EmbedKitEmbeddings(cache=False))
    assert loaded.k == 2 and loaded.filter == {"topic": "printer"}
    for query in (KEYWORD_QUERY, "network cable"):
        assert _ids(loaded.invoke(query)) == _ids(retriever.invoke(query))


def test_loading_with_other_embeddings_fails_clearly(support_docs, lc_embeddings, tmp_path):
    EmbedKitHybridRetriever.from_documents(support_docs, embeddings=lc_embeddings).save(
        tmp_path / "saved")
    other = EmbedKitEmbeddings(cache=False, query_prefix="query: ")
    with pytest.raises(FingerprintMismatchError) as info:
        EmbedKitHybridRetriever.load(tmp_path / "saved", other)
    message = str(info.value)
    assert lc_embeddings.embedder.fingerprint[:8] in message or "query: " in message


# ----------------------------------------------------------------------------- tracing
class _RetrieverStartRecorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.metadata: list[dict[str, Any]] = []

    def on_retriever_start(self, serialized: Any, query: str, *, metadata: dict | None = None,
                           **kwargs: Any) -> None:
        self.metadata.append(dict(metadata or {}))


def test_langsmith_metadata_names_embedding_provider_and_model(support_docs, lc_embeddings):
    recorder = _RetrieverStartRecorder()
    retriever = EmbedKitHybridRetriever.from_documents(support_docs, embeddings=lc_embeddings)
    retriever.invoke("printer", config={"callbacks": [recorder]})
    store = InMemoryVectorStore.from_documents(support_docs, lc_embeddings)
    EmbedKitHybridRetriever.from_documents(support_docs, vectorstore=store).invoke(
        "printer", config={"callbacks": [recorder]})
    own, external = recorder.metadata
    for params in (own, external):
        assert params["ls_retriever_name"] == "embedkithybrid"
        assert params["ls_embedding_provider"] == "local"
        assert params["ls_embedding_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert "ls_vector_store_provider" not in own
    assert external["ls_vector_store_provider"] == "InMemoryVectorStore"


def test_a_store_with_other_embeddings_is_reported_as_such(support_docs):
    from langchain_core.embeddings import DeterministicFakeEmbedding

    recorder = _RetrieverStartRecorder()
    store = InMemoryVectorStore.from_documents(support_docs, DeterministicFakeEmbedding(size=16))
    retriever = EmbedKitHybridRetriever.from_documents(support_docs, vectorstore=store, k=2)
    found = retriever.invoke(KEYWORD_QUERY, config={"callbacks": [recorder]})
    assert found[0].id == "e1147"  # BM25 still finds the code; the dense side is the store's
    (params,) = recorder.metadata
    assert params["ls_embedding_provider"] == "DeterministicFakeEmbedding"
    assert "ls_embedding_model" not in params


def test_saved_retriever_over_a_vectorstore_needs_the_store_back(support_docs, lc_embeddings,
                                                                  tmp_path):
    store = InMemoryVectorStore.from_documents(support_docs, lc_embeddings)
    retriever = EmbedKitHybridRetriever.from_documents(support_docs, vectorstore=store, k=3)
    retriever.save(tmp_path / "saved")
    assert not list((tmp_path / "saved").rglob("vectors.npy"))  # the store keeps the vectors
    with pytest.raises(ValueError, match="pass vectorstore="):
        EmbedKitHybridRetriever.load(tmp_path / "saved", lc_embeddings)
    loaded = EmbedKitHybridRetriever.load(tmp_path / "saved", lc_embeddings, vectorstore=store)
    for query in (KEYWORD_QUERY, PARAPHRASE_QUERY):
        assert _ids(loaded.invoke(query)) == _ids(retriever.invoke(query))
    # Saving again into the same folder replaces the previous save.
    loaded.save(tmp_path / "saved")
    assert EmbedKitHybridRetriever.load(tmp_path / "saved", lc_embeddings, vectorstore=store,
                                        k=1).k == 1
