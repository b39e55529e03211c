"""Fixtures for the LlamaIndex adapter: real llama-index-core objects, the bundled model."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("llama_index.core")

import numpy as np
from llama_index.core import Settings
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.schema import BaseNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import build_metadata_filter_fn

from tests.fakeapi.fixtures import fake_api  # noqa: F401  (local OpenAI/Cohere API fixture)

SUPPORT_DOCS = {
    "password": "To reset your password, open Settings, choose Security and click Forgot password.",
    "billing": "Invoices are emailed on the first day of each month; refunds take five business days.",
    "shipping": "Orders ship within two days and international delivery takes up to three weeks.",
    "vacation": "Employees accrue twenty days of paid vacation per year, requested through HR.",
    "printer": "If the office printer jams, remove the paper tray and clear the stuck sheets.",
    "wifi": "The guest wireless network is called Lobby and its passphrase changes every Monday.",
}


@pytest.fixture
def support_docs() -> dict[str, str]:
    """Six short help-desk documents on unrelated topics, keyed by id."""
    return dict(SUPPORT_DOCS)


@pytest.fixture
def restore_settings():
    """Give a test the global Settings and put back what was there before."""
    saved = (Settings._embed_model, Settings._llm, Settings._callback_manager)
    yield Settings
    Settings._embed_model, Settings._llm, Settings._callback_manager = saved


@pytest.fixture
def embed_model(cache_dir):
    """EmbedKitEmbedding on the bundled model with its own empty disk cache."""
    from llamaindex_embedkit import EmbedKitEmbedding

    return EmbedKitEmbedding(cache_dir=str(cache_dir))


class RecordingHandler(BaseEventHandler):
    """A real instrumentation event handler that keeps every event it sees."""

    events: list[Any] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "RecordingHandler"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)

    def of_type(self, name: str) -> list[Any]:
        return [e for e in self.events if e.class_name() == name]


@pytest.fixture
def recorded_events():
    """Attach a RecordingHandler to the root dispatcher for one test."""
    root = get_dispatcher()
    handler = RecordingHandler()
    root.add_event_handler(handler)
    yield handler
    root.event_handlers.remove(handler)


class TextKeepingVectorStore(BasePydanticVectorStore):
    """An in-memory vector store that keeps node text itself (``stores_text=True``).

    Chroma, Qdrant, pgvector... behave this way: a VectorStoreIndex over such a store leaves its
    docstore empty, which is the case the hybrid retriever's BM25 side must survive.
    """

    stores_text: bool = True
    _nodes: dict[str, BaseNode] = PrivateAttr(default_factory=dict)

    @property
    def client(self) -> None:
        return None

    def add(self, nodes: list[BaseNode], **kwargs: Any) -> list[str]:
        for node in nodes:
            self._nodes[node.node_id] = node.model_copy()
        return [node.node_id for node in nodes]

    def delete(self, ref_doc_id: str, **kwargs: Any) -> None:
        self._nodes = {k: n for k, n in self._nodes.items() if n.ref_doc_id != ref_doc_id}

    def get_nodes(self, node_ids: list[str] | None = None,
                  filters: MetadataFilters | None = None) -> list[BaseNode]:
        return [n.model_copy(update={"embedding": None}) for k, n in self._nodes.items()
                if node_ids is None or k in node_ids]

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        nodes = list(self._nodes.values())
        if query.filters is not None:
            keep = build_metadata_filter_fn(lambda i: self._nodes[i].metadata, query.filters)
            nodes = [n for n in nodes if keep(n.node_id)]
        if not nodes:
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        matrix = np.array([n.embedding for n in nodes], dtype=np.float32)
        q = np.asarray(query.query_embedding, dtype=np.float32)
        sims = matrix @ q / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(q))
        order = np.argsort(-sims)[: query.similarity_top_k]
        return VectorStoreQueryResult(
            nodes=[nodes[i].model_copy(update={"embedding": None}) for i in order],
            similarities=[float(sims[i]) for i in order], ids=[nodes[i].node_id for i in order])


@pytest.fixture
def text_keeping_store() -> TextKeepingVectorStore:
    return TextKeepingVectorStore()
