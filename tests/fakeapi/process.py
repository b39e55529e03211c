"""The fake API in a child process, driven over HTTP (for benchmarks: the server's CPU work then
runs outside the client's interpreter, as a real remote API's does)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from types import TracebackType

_ROOT = Path(__file__).resolve().parents[2]


class FakeServerProcess:
    """``with FakeServerProcess(latency=0.05) as server:`` -> ``server.url``, ``stats()``."""

    def __init__(self, *, latency: float = 0.0) -> None:
        self.latency = latency
        self._proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> FakeServerProcess:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fakeapi", "--latency", str(self.latency)],
            cwd=_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        self.url = self._proc.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.__exit__(None, None, None)
            raise RuntimeError("the fake API process did not start")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._proc is not None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()  # the child serves until its stdin closes
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._proc = None

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    def stats(self) -> dict:
        """``{"requests": n, "max_in_flight": m, "statuses": [...]}`` since the last reset."""
        with urllib.request.urlopen(self.url + "/_fake/stats", timeout=10) as response:
            return json.loads(response.read())

    def reset(self) -> None:
        request = urllib.request.Request(self.url + "/_fake/reset", data=b"", method="POST")
        urllib.request.urlopen(request, timeout=10).close()
