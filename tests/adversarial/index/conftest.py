"""Fixtures for hostile-input tests: a small saved index, and loads run in a child process.

A load that hangs (a FIFO, a catastrophic regex) or reads without end (``/dev/zero``) cannot be
interrupted inside the test process, so those cases run in a child with a deadline and a memory
cap: a regression fails the test instead of hanging or exhausting the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from embedkit import Embedder, HybridIndex

REPO_ROOT = Path(__file__).resolve().parents[3]
DOCS = {
    "err-4031": "Error NMB-4031 means the gateway lost its WAN uplink; check the cable.",
    "password": "To reset your password, open Settings > Security and send a reset link.",
    "billing": "Invoices are issued on the first business day of every month.",
    "sla": "Our service level agreement promises 99.95% monthly uptime for the console.",
}
META = {"err-4031": {"kind": "error"}, "password": {"kind": "account"},
        "billing": {"kind": "billing", "tags": ["money"]}, "sla": {"kind": "contract"}}


@pytest.fixture(scope="module")
def module_embedder(tmp_path_factory) -> Embedder:
    return Embedder(cache_dir=tmp_path_factory.mktemp("adversarial-cache"))


@pytest.fixture
def saved(module_embedder, tmp_path) -> Path:
    """A folder holding one save of a 4-document index."""
    index = HybridIndex(module_embedder)
    index.add(list(DOCS.values()), ids=list(DOCS), metadatas=[META[i] for i in DOCS])
    index.save(tmp_path / "idx")
    return tmp_path / "idx"


def version_folder(saved_path: Path) -> Path:
    return saved_path / (saved_path / "CURRENT").read_text().strip()


def edit_json(file: Path, change) -> None:
    data = json.loads(file.read_text())
    change(data)
    file.write_text(json.dumps(data))


CHILD_PRELUDE = """
import json, resource, sys, time
from embedkit import Embedder, HybridIndex
embedder = Embedder(cache=False)
# Cap further memory growth at 1 GiB over what the model needs: reading /dev/zero without
# bound ends in MemoryError here instead of swapping the machine.
with open("/proc/self/status") as fh:
    vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize"))
resource.setrlimit(resource.RLIMIT_AS, (vm + 2**30, vm + 2**30))
def attempt(path, query=None):
    start = time.monotonic()
    try:
        index = HybridIndex.load(path, embedder)
        if query is not None:
            index.search(query, k=1, fusion="bm25")
        outcome = "loaded"
    except BaseException as exc:
        outcome = f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
    print(json.dumps({"outcome": outcome, "seconds": time.monotonic() - start}), flush=True)
"""


def run_loads_in_child(calls: list[str], timeout: float = 90) -> list[dict]:
    """Run ``attempt(...)`` calls in a child process; one result dict per call.

    Fails the test (instead of hanging) when the child does not finish within ``timeout``.
    """
    script = CHILD_PRELUDE + "\n".join(calls) + "\n"
    env_path = f"{REPO_ROOT / 'shared'}:{REPO_ROOT}"
    try:
        done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)],
                              capture_output=True, text=True, timeout=timeout,
                              env={**_environ(), "PYTHONPATH": env_path})
    except subprocess.TimeoutExpired:
        pytest.fail(f"loading did not finish within {timeout} s (hang)")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == len(calls), done.stderr[-2000:]
    return [json.loads(line) for line in lines]


def _environ() -> dict[str, str]:
    import os

    return {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
