"""`ConcurrencyLimit`: at most N requests in flight, across calls, threads and event loops.

An `asyncio.Semaphore` belongs to one event loop and a `threading.Semaphore` blocks the loop
that waits on it; an `Embedder` is used from many threads and loops at once (each sync call
runs its own loop), so it needs a slot counter that threads wait on with a `threading.Event`
and coroutines with a future of their own loop, woken thread-safely when a slot frees.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator


class ConcurrencyLimit:
    """A counting semaphore shared by threads and coroutines of any event loop (FIFO).

    Args:
        limit: slots; at most this many holders at once.

    Example:
        >>> limit = ConcurrencyLimit(4)
        >>> with limit.hold():
        ...     pass
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit!r}")
        self.limit = limit
        self._lock = threading.Lock()
        self._in_use = 0
        # Each waiter is a callback that takes over a freed slot; it returns False when its
        # waiter is gone (cancelled, loop closed), and the slot goes to the next one.
        self._waiters: deque[Callable[[], bool]] = deque()

    @property
    def in_use(self) -> int:
        """Slots held right now."""
        return self._in_use

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Hold one slot for the ``with`` block, blocking this thread until one is free."""
        self._acquire_blocking()
        try:
            yield
        finally:
            self.release()

    @contextlib.asynccontextmanager
    async def ahold(self) -> AsyncIterator[None]:
        """Hold one slot for the ``async with`` block; waiting never blocks the event loop."""
        await self._acquire_async()
        try:
            yield
        finally:
            self.release()

    def release(self) -> None:
        """Free one slot, handing it straight to the longest waiter if there is one."""
        while True:
            with self._lock:
                if not self._waiters:
                    if self._in_use < 1:
                        raise RuntimeError("ConcurrencyLimit released more often than acquired")
                    self._in_use -= 1
                    return
                take_over = self._waiters.popleft()
            if take_over():  # the slot now belongs to that waiter; in_use is unchanged
                return

    # -- acquiring -----------------------------------------------------------------------------
    def _try_take(self) -> bool:
        """Take a free slot if no one is queued for it (caller holds the lock)."""
        if self._in_use < self.limit and not self._waiters:
            self._in_use += 1
            return True
        return False

    def _acquire_blocking(self) -> None:
        granted = threading.Event()

        def take_over() -> bool:
            granted.set()
            return True

        with self._lock:
            if self._try_take():
                return
            self._waiters.append(take_over)
        granted.wait()

    async def _acquire_async(self) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def grant() -> None:  # runs in the waiter's loop
            if future.cancelled():
                self.release()  # cancelled after the hand-over was scheduled: pass it on
            else:
                future.set_result(None)

        def take_over() -> bool:  # runs in the releasing thread
            try:
                loop.call_soon_threadsafe(grant)
            except RuntimeError:  # that loop is closed: its waiter is gone
                return False
            return True

        with self._lock:
            if self._try_take():
                return
            self._waiters.append(take_over)
        try:
            await future
        except asyncio.CancelledError:
            with self._lock:
                queued = take_over in self._waiters
                if queued:
                    self._waiters.remove(take_over)
            if not queued and future.done() and not future.cancelled():
                self.release()  # granted, then cancelled before this task resumed
            raise
