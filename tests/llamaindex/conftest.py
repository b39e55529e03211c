"""Fixtures for the LlamaIndex adapter: real llama-index-core objects, the bundled model."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core import Settings
from llama_index.core.bridge.pydantic import Field
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent

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
