"""A failing run's logs, reprs, exception texts, tracebacks and cache files never hold the key."""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path

import pytest

from embedkit import Embedder
from embedkit.providers.retry import APIError, RetryPolicy
from tests.fakeapi import FakeEmbeddingServer

SECRET = "sk-leakcheck-QQQQzzzzXYZW"
# What a service quotes back for a wrong key ("sk-lea...XYZW"), and the key's distinctive parts.
FRAGMENTS = (SECRET, "leakcheck", "QQQQzzzz", "XYZW")
RETRY = RetryPolicy(max_attempts=2, base_delay=0.01, max_total_wait=1.0)


def _failing_runs(server: FakeEmbeddingServer, make) -> list[BaseException]:
    """Drive every failure path once; return the exceptions the caller saw."""
    errors: list[BaseException] = []
    scripted = [
        lambda: server.fail_next(5, status=429, retry_after=0.01),
        lambda: server.fail_next(5, status=500),
        lambda: server.fail_next(1, status=400),
        lambda: server.fail_next(1, status=403),
        lambda: server.hang(5, times=2),
        lambda: server.inject("drop", times=2),
        lambda: server.inject("malformed_json"),
        lambda: server.inject("nan"),
    ]
    for index, script in enumerate(scripted):
        server.reset()
        script()
        with pytest.raises(APIError) as info:
            make().embed_documents([f"failing text {index}"])
        errors.append(info.value)
    server.reset()
    server.api_key = "sk-the-key-the-server-wants"  # now our key is wrong: a 401 quoting it
    with pytest.raises(APIError) as info:
        make().embed_query("wrong key")
    errors.append(info.value)
    server.api_key = None
    return errors


def _everything_visible(errors, embedders, records, cache_dir: Path, captured) -> list[str]:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    texts = [formatter.format(r) for r in records]
    for err in errors:
        texts += [str(err), repr(err), "".join(traceback.format_exception(err))]
    for emb in embedders:
        texts += [repr(emb), repr(emb.provider), json.dumps(emb.describe(), default=str),
                  json.dumps(emb.provider.identity(), default=str), emb.fingerprint]
    texts += [captured.out, captured.err]
    texts += [p.read_bytes().decode("latin-1") for p in cache_dir.rglob("*") if p.is_file()]
    return texts


@pytest.mark.parametrize("provider", ["openai", "cohere"])
def test_no_trace_of_the_key_anywhere(provider, tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)  # every logger, SDKs and httpx included
    cache_dir = tmp_path / "cache"
    embedders: list[Embedder] = []
    with FakeEmbeddingServer() as server:
        def make() -> Embedder:
            model = "openai:text-embedding-3-small" if provider == "openai" \
                else "cohere:embed-english-v3.0"
            base_url = server.openai_base_url if provider == "openai" else server.url
            emb = Embedder(model, api_key=SECRET, base_url=base_url, retry=RETRY, timeout=0.3,
                           cache_dir=cache_dir)
            embedders.append(emb)
            return emb

        make().embed_documents(["a cached document", "another one"])  # the cache has content
        errors = _failing_runs(server, make)
        assert all(r.api_key == SECRET for r in server.requests)  # the key was really sent
    assert len(errors) == 9 and {e.status for e in errors} >= {429, 500, 400, 403, 401}
    assert any(p.is_file() and p.stat().st_size for p in cache_dir.rglob("*"))
    assert any("retry" in r.getMessage() for r in caplog.records)  # the logs did say things

    visible = _everything_visible(errors, embedders, caplog.records, cache_dir,
                                  capsys.readouterr())
    leaks = [(fragment, text[:200]) for text in visible for fragment in FRAGMENTS
             if fragment in text]
    assert leaks == []
