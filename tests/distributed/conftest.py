"""A real redis-server on a free port in a temp dir, and one local Ray session per module."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest


def _redis_module():
    return pytest.importorskip("redis", reason="the redis client is not installed "
                                               "(embedkit[redis])")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """``redis://127.0.0.1:PORT``: a throwaway server, no persistence, stopped after the session."""
    _redis_module()
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install -y redis-server)")
    workdir = tmp_path_factory.mktemp("redis")
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir),
         "--save", "", "--appendonly", "no", "--protected-mode", "yes"],
        stdout=(workdir / "redis.log").open("w"), stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}"
    try:
        _wait_for(url, process, workdir)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for(url: str, process: subprocess.Popen, workdir) -> None:
    redis = _redis_module()
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited: {(workdir / 'redis.log').read_text()}")
        try:
            if client.ping():
                return
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not answer PING within 15 s")


@pytest.fixture
def redis_url(redis_server) -> str:
    """Database 0 of the test server, emptied before each test."""
    url = f"{redis_server}/0"
    _redis_module().Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def redis_client(redis_url):
    client = _redis_module().Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture(scope="module")
def ray_session():
    """One real local Ray (2 CPUs) for the whole module: start-up takes seconds."""
    ray = pytest.importorskip("ray", reason="ray is not installed (embedkit[distributed])")
    import embedkit

    # Workers must import the embedkit under test, whatever put it on this process's path.
    source_dirs = [str(Path(embedkit.__file__).resolve().parents[1])]
    pythonpath = os.pathsep.join([*source_dirs, os.environ.get("PYTHONPATH", "")]).strip(os.pathsep)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning",
             runtime_env={"env_vars": {"PYTHONPATH": pythonpath, "HF_HUB_OFFLINE": "1",
                                       "TOKENIZERS_PARALLELISM": "false"}})
    # Ray Data's console progress would flood the test log.
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield ray
    ray.shutdown()
