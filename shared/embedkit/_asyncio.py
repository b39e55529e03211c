"""Asyncio helpers: run a coroutine from sync code; run many to the end before failing."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` when no loop runs here; else a worker thread with its own loop
    (a notebook or an async framework calling our sync API must not deadlock)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            result["error"] = exc

    worker = threading.Thread(target=target, name="embedkit-sync")
    worker.start()
    worker.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


async def gather_all(*coros: Awaitable[T]) -> list[T]:
    """Run every awaitable to the end, then raise the first failure (in argument order).

    Nothing is cancelled on a failure: a batch that finishes is cached and paid for either
    way, so stopping its siblings half-way would only waste what they already sent.
    """
    results = await asyncio.gather(*coros, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results
