"""Finding 6: ``max_concurrency`` bounds requests in flight per Embedder, across concurrent
calls, threads and event loops (counted at the test API server)."""

from __future__ import annotations

import asyncio
import threading

import numpy as np

from embedkit import Embedder


def _embedder(fake_api, limit: int) -> Embedder:
    return Embedder("openai:text-embedding-3-small", base_url=fake_api.openai_base_url,
                    api_key="sk-test", cache=False, max_concurrency=limit)


def test_gathered_async_calls_share_one_limit(fake_api):
    fake_api.latency = 0.05
    emb = _embedder(fake_api, 4)

    async def main() -> list[np.ndarray]:
        return await asyncio.gather(*(emb.aembed_query(f"question {i}") for i in range(50)))

    vectors = asyncio.run(main())
    assert len(vectors) == 50 and len(fake_api.requests) == 50
    print(f"50 gathered aembed_query, limit 4: {fake_api.max_in_flight} in flight at most")
    assert 2 <= fake_api.max_in_flight <= 4


def test_threads_and_their_event_loops_share_one_limit(fake_api):
    fake_api.latency = 0.05
    emb = _embedder(fake_api, 2)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(5):
                if i % 2:  # a sync call (its own event loop) ...
                    emb.embed_documents([f"thread {n} document {i}"])
                else:  # ... and an async one on this thread's own loop
                    asyncio.run(emb.aembed_query(f"thread {n} query {i}"))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    print(f"8 threads x 5 calls, limit 2: {fake_api.max_in_flight} in flight at most")
    assert not errors and len(fake_api.requests) == 40
    assert fake_api.max_in_flight == 2


def test_a_cancelled_waiter_neither_leaks_nor_duplicates_its_slot(fake_api):
    fake_api.latency = 0.2
    emb = _embedder(fake_api, 1)

    async def main() -> None:
        first = asyncio.create_task(emb.aembed_query("holds the slot"))
        waiting = asyncio.create_task(emb.aembed_query("waits, then is cancelled"))
        await asyncio.sleep(0.05)
        waiting.cancel()
        await first
        fake_api.latency = 0.05
        fake_api.reset()
        # A leaked slot would hang this (limit 1); a slot given twice would show 2 in flight.
        await asyncio.wait_for(asyncio.gather(*(emb.aembed_query(f"after {i}") for i in range(6))),
                               timeout=30)

    asyncio.run(main())
    assert len(fake_api.requests) == 6 and fake_api.max_in_flight == 1
