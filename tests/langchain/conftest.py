"""Fixtures for the LangChain adapter tests."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document
from lc_corpus import make_support_docs

from tests.fakeapi.fixtures import fake_api  # noqa: F401  (local OpenAI/Cohere API fixture)

@pytest.fixture
def support_docs() -> list[Document]:
    return make_support_docs()

@pytest.fixture
def lc_embeddings(tmp_path):
    from langchain_embedkit import EmbedKitEmbeddings

    return EmbedKitEmbeddings(cache_dir=tmp_path / "lc-cache")
