"""Fixtures for the API-provider tests: the fake server and embedders pointed at it."""

from __future__ import annotations

import pytest

from embedkit.providers.retry import RetryPolicy
from tests.fakeapi.fixtures import fake_api  # noqa: F401  (fixture used by name below)

TEST_KEY = "sk-test-provider-key-0123456789"
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=2.0, max_total_wait=5.0)


@pytest.fixture(autouse=True)
def _no_real_keys(monkeypatch):
    """Tests never see a developer's real keys, and pass theirs explicitly."""
    for name in ("OPENAI_API_KEY", "COHERE_API_KEY", "CO_API_KEY", "CO_API_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def openai_embedder(fake_api, tmp_path):  # noqa: F811
    """`make(**kw)` -> an Embedder on the fake OpenAI endpoint with its own cache dir."""
    from embedkit import Embedder

    def make(model: str = "text-embedding-3-small", **kw):
        kw.setdefault("api_key", TEST_KEY)
        kw.setdefault("base_url", fake_api.openai_base_url)
        kw.setdefault("retry", FAST_RETRY)
        kw.setdefault("cache_dir", tmp_path / "cache")
        return Embedder(f"openai:{model}", **kw)

    return make


@pytest.fixture
def cohere_embedder(fake_api, tmp_path):  # noqa: F811
    from embedkit import Embedder

    def make(model: str = "embed-english-v3.0", **kw):
        kw.setdefault("api_key", TEST_KEY)
        kw.setdefault("base_url", fake_api.url)
        kw.setdefault("retry", FAST_RETRY)
        kw.setdefault("cache_dir", tmp_path / "cache")
        return Embedder(f"cohere:{model}", **kw)

    return make
