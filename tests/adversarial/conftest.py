"""Fixtures for the adversarial suite: the fake API server and throwaway redis-servers."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakeapi.fixtures import fake_api  # noqa: F401  (fixture for the tests here)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def redis_server(workdir: Path, *options: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """A real redis-server with extra ``options`` (``--maxmemory 2mb``...): (url, process)."""
    redis = pytest.importorskip("redis", reason="the redis client is not installed")
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install -y redis-server)")
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir),
         "--save", "", "--appendonly", "no", *options],
        stdout=(workdir / "redis.log").open("w"), stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((workdir / "redis.log").read_text()) from None
                time.sleep(0.05)
        client.close()
        yield url, process
    finally:
        process.kill()
        process.wait(timeout=10)
