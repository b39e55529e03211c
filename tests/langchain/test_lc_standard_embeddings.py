"""LangChain's own standard test suites for `EmbedKitEmbeddings`, unmodified, on the bundled model."""

from __future__ import annotations

from typing import Any

from langchain_embedkit import EmbedKitEmbeddings
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests


class TestEmbedKitEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[EmbedKitEmbeddings]:
        return EmbedKitEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {}  # the bundled all-MiniLM-L6-v2; the cache goes to the tests' temp dir

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        # A local base_url: building the client must not need the real service.
        return (
            {"OPENAI_API_KEY": "sk-from-env-0123"},
            {"model": "openai:text-embedding-3-small", "base_url": "http://127.0.0.1:9/v1"},
            {"api_key": "sk-from-env-0123", "model": "openai:text-embedding-3-small"},
        )


class TestEmbedKitEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[EmbedKitEmbeddings]:
        return EmbedKitEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {}
