"""pytest fixtures: import them into a test module or conftest (`from tests.fakeapi.fixtures
import fake_api`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import FakeEmbeddingServer


@pytest.fixture
def fake_api() -> Iterator[FakeEmbeddingServer]:
    """A fresh server per test, stopped afterwards."""
    with FakeEmbeddingServer() as server:
        yield server
