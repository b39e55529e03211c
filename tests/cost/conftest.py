"""Fixtures for the cost tests: the fake API server and embedders pointed at it."""

from __future__ import annotations

import pytest

from embedkit.providers.retry import RetryPolicy
from tests.fakeapi.fixtures import fake_api  # noqa: F401  (fixture used by name below)

TEST_KEY = "sk-test-cost-key-0123456789"
FAST_RETRY = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05, max_total_wait=1.0)


@pytest.fixture(autouse=True)
def _no_real_keys(monkeypatch):
    for name in ("OPENAI_API_KEY", "COHERE_API_KEY", "CO_API_KEY", "CO_API_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def api_embedder(fake_api, tmp_path):  # noqa: F811
    """`make("openai:text-embedding-3-small", **kw)` -> an Embedder on the fake server."""
    from embedkit import Embedder

    def make(model: str = "openai:text-embedding-3-small", **kw):
        kw.setdefault("api_key", TEST_KEY)
        kw.setdefault("base_url", fake_api.openai_base_url if model.startswith("openai:")
                      else fake_api.url)
        kw.setdefault("retry", FAST_RETRY)
        kw.setdefault("cache_dir", tmp_path / "cache")
        return Embedder(model, **kw)

    return make


# ---------------------------------------------------------------- two-stage fixtures
DEMO_DOCS = 80  # a slice of the bundled demo knowledge base keeps the local index quick


def _demo_rows(name: str) -> list[dict]:
    import json
    from importlib import resources

    text = resources.files("embedkit.demo_data").joinpath(name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def demo_docs() -> list[tuple[str, str]]:
    """(id, text) of the first documents of the demo knowledge base."""
    return [(row["_id"], row["text"]) for row in _demo_rows("corpus.jsonl")[:DEMO_DOCS]]


@pytest.fixture(scope="session")
def demo_queries() -> list[str]:
    return [row["text"] for row in _demo_rows("queries.jsonl")]


@pytest.fixture(scope="session")
def local_index(demo_docs, tmp_path_factory):
    """Stage 1: the bundled local model + BM25 over the demo slice (read-only in tests)."""
    from embedkit import Embedder, HybridIndex

    index = HybridIndex(Embedder(cache_dir=tmp_path_factory.mktemp("local-cache")))
    index.add([text for _, text in demo_docs], ids=[doc_id for doc_id, _ in demo_docs])
    return index
