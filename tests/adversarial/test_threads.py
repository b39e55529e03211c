"""Finding 7: many threads share one local Embedder (token counting and encoding used to race
on the shared Hugging Face tokenizer: ``ValueError: Unable to create tensor...``)."""

from __future__ import annotations

import threading
import time

import numpy as np

from embedkit import Embedder

THREADS, CALLS = 8, 60


def test_eight_threads_share_one_local_embedder():
    emb = Embedder(cache=False)
    # Texts of different lengths in one batch: encoding pads them while another thread
    # counts tokens with padding and truncation off on the same tokenizer.
    tail = " ".join(["padding"] * 20)
    failures: list[str] = []
    done = [0]
    lock = threading.Lock()

    def worker(n: int) -> None:
        for i in range(CALLS):
            try:
                texts = [f"thread {n} call {i}", f"thread {n} call {i} {tail}"]
                vectors = emb.embed_documents(texts)
                assert vectors.shape == (2, 384) and np.isfinite(vectors).all()
                with lock:
                    done[0] += 1
            except Exception as exc:  # noqa: BLE001
                failures.append(f"{type(exc).__name__}: {str(exc)[:80]}")

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    print(f"{done[0]}/{THREADS * CALLS} calls ok in {time.monotonic() - started:.1f} s")
    assert not failures, failures[:3]
    assert done[0] == THREADS * CALLS
