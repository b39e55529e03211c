"""Fixtures for the cost tests: the fake API server and embedders pointed at it."""

from __future__ import annotations

import pytest

from embedkit.retry import RetryPolicy
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
