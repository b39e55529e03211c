"""Finding 2: saves from several processes to one folder, readers racing them, writers killed.

Two writer processes save the same folder over and over while a reader process loads it in a
loop; one writer is SIGKILLed mid-run. Every load must succeed (old or new version), the other
writer must finish, and the folder must stay loadable. Before the fix a save deleted every other
version (including the one just made current by the other writer) and a reader failed 36 of 99
loads with a raw FileNotFoundError.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from embedkit import HybridIndex

from .conftest import REPO_ROOT

WRITER = """
import sys
from embedkit import Embedder, HybridIndex
target, name, saves = sys.argv[1], sys.argv[2], int(sys.argv[3])
index = HybridIndex(Embedder(cache_dir=sys.argv[4]))
texts = [f"document {i} written by {name}" for i in range(30)]
index.add(texts, ids=[f"{name}-{i}" for i in range(30)])
index.add([f"saved by {name}"], ids=[f"{name}-save"])
print("READY", flush=True)
for n in range(saves):
    index.save(target)
    print(f"SAVED {n}", flush=True)
print("DONE", flush=True)
"""

READER = """
import json, sys, time
from embedkit import Embedder, HybridIndex
target, stop_file, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
embedder = Embedder(cache=False)
print("READY", flush=True)
ok, failures, start = 0, [], time.monotonic()
while time.monotonic() - start < limit:
    try:
        index = HybridIndex.load(target, embedder)
        assert len(index) == 31, len(index)
        index.search("document 3", k=3, fusion="bm25")
        ok += 1
    except Exception as exc:
        failures.append(f"{type(exc).__name__}: {exc}")
    try:
        open(stop_file).close()
        break
    except FileNotFoundError:
        pass
print(json.dumps({"ok": ok, "failures": failures[:5], "failed": len(failures)}), flush=True)
"""


def _spawn(script: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{REPO_ROOT / 'shared'}:{REPO_ROOT}",
           "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_for(proc: subprocess.Popen, prefix: str, deadline: float) -> str:
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"process ended early: {proc.stderr.read()[-2000:]}")
        if line.startswith(prefix):
            return line
    raise AssertionError(f"no {prefix!r} in time")


@pytest.mark.timeout(300)  # three child processes loading the model: ~1-3 min on 2 busy cores
def test_two_writers_a_reader_and_a_killed_writer(tmp_path, module_embedder):
    target, stop = tmp_path / "idx", tmp_path / "stop"
    seed = HybridIndex(module_embedder)  # the reader needs a save to exist from the start
    seed.add([f"seed {i}" for i in range(31)], ids=[f"seed-{i}" for i in range(31)])
    seed.save(target)
    deadline = time.monotonic() + 180
    writers = [_spawn(WRITER, str(target), name, str(saves), str(tmp_path / f"cache-{name}"))
               for name, saves in (("a", 12), ("b", 1000))]
    reader = _spawn(READER, str(target), str(stop), "20")
    procs = [*writers, reader]
    try:
        for proc in procs:
            _wait_for(proc, "READY", deadline)
        _wait_for(writers[1], "SAVED 5", deadline)
        writers[1].send_signal(signal.SIGKILL)  # somewhere inside its loop of saves
        writers[1].wait(timeout=30)
        _wait_for(writers[0], "DONE", deadline)
        stop.touch()
        report = json.loads(_wait_for(reader, "{", deadline))
        assert writers[0].wait(timeout=30) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
    print(f"\nconcurrent saves: reader {report}")  # pytest -s shows it (README figures)
    assert report["failed"] == 0, report
    assert report["ok"] >= 5, report
    final = HybridIndex.load(target, module_embedder)
    writer = final.ids[0].split("-")[0]  # whichever writer saved last: one complete save
    assert writer in ("a", "b") and sorted(final.ids) == sorted(
        [f"{writer}-{i}" for i in range(30)] + [f"{writer}-save"])
    versions = [p.name for p in target.iterdir() if p.name.startswith("v-")]
    assert len(versions) <= 3, versions  # current, previous, and at most one left by the kill
    final.save(target)  # the killed writer's lock is gone: a new save goes through at once
    assert len(HybridIndex.load(target, module_embedder)) == 31


SLOW_WRITER = """
import sys, time
import numpy as np
from embedkit import Embedder, HybridIndex
index = HybridIndex(Embedder(cache_dir=sys.argv[2]))
index.add(["third document"], ids=["c"])
real_save = np.save
def slow_save(*args, **kwargs):
    real_save(*args, **kwargs)
    print("SAVING", flush=True)
    time.sleep(60)
np.save = slow_save
index.save(sys.argv[1])
"""


@pytest.mark.timeout(180)
def test_a_writer_killed_while_holding_the_lock_blocks_nobody(tmp_path, module_embedder):
    target = tmp_path / "idx"
    index = HybridIndex(module_embedder)
    index.add(["first document", "second document"], ids=["a", "b"])
    index.save(target)
    writer = _spawn(SLOW_WRITER, str(target), str(tmp_path / "cache"))
    try:
        _wait_for(writer, "SAVING", time.monotonic() + 90)
        assert sorted(HybridIndex.load(target, module_embedder).ids) == ["a", "b"]
        writer.send_signal(signal.SIGKILL)
    finally:
        writer.wait(timeout=30)
    start = time.monotonic()
    index.add(["fourth document"], ids=["d"])
    index.save(target)
    assert time.monotonic() - start < 10
    assert sorted(HybridIndex.load(target, module_embedder).ids) == ["a", "b", "d"]
    versions = [p.name for p in target.iterdir() if p.name.startswith("v-")]
    assert len(versions) == 2, versions  # the killed writer's half-written version is gone
