"""LangChain's standard retriever suite for `EmbedKitHybridRetriever`, unmodified."""

from __future__ import annotations

from typing import Any

from langchain_core.documents import Document
from langchain_embedkit import EmbedKitEmbeddings, EmbedKitHybridRetriever
from langchain_tests.integration_tests import RetrieversIntegrationTests

DOCS = [
    Document("To reset your password, open Settings and choose Forgot password.", id="pw"),
    Document("Invoices are emailed on the first business day of every month.", id="bill"),
    Document("Error E1147: the print spooler lost its connection to the tray sensor.", id="e"),
    Document("The public API allows 100 requests per minute for each key.", id="rate"),
    Document("Export your data as CSV from the Reports page.", id="csv"),
]


class TestEmbedKitHybridRetrieverStandard(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[EmbedKitHybridRetriever]:
        return EmbedKitHybridRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"documents": DOCS, "embeddings": EmbedKitEmbeddings(), "k": 2}

    @property
    def retriever_query_example(self) -> str:
        return "I forgot my password"
