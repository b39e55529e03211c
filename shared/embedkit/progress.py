"""Progress bars through tqdm when it is installed; silent otherwise.

A caller that draws its own bar over a longer job (``embedkit bench``: one bar over every model)
wraps the job in `report_progress(callback)`: while it is active no bar of this module is drawn,
and each step that declared its ``size`` calls ``callback(size)`` once done (texts embedded).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

# A plain global, not a ContextVar: API batches run on an event loop in another thread.
_listener: Callable[[int], object] | None = None
_listener_lock = threading.Lock()


@contextmanager
def report_progress(callback: Callable[[int], object]) -> Iterator[None]:
    """Send progress to ``callback(done)`` instead of drawing bars, for the ``with`` block."""
    global _listener
    with _listener_lock:
        previous, _listener = _listener, callback
    try:
        yield
    finally:
        with _listener_lock:
            _listener = previous


def progress(items: Iterable[T], *, total: int, desc: str, enabled: bool,
             size: Callable[[T], int] | None = None) -> Iterator[T]:
    """Iterate ``items`` with a bar when ``enabled``.

    Args:
        size: how much work an item is (e.g. ``len`` for a batch of texts); only sized steps
            are sent to a `report_progress` callback.
    """
    listener = _listener
    if listener is not None:
        for item in items:
            yield item
            if size is not None:
                listener(size(item))
        return
    if enabled:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            pass
        else:
            yield from tqdm(items, total=total, desc=desc, unit="batch")
            return
    yield from items


def report_done(amount: int) -> bool:
    """Tell the active `report_progress` callback ``amount`` units are done; False if none."""
    listener = _listener
    if listener is None:
        return False
    listener(amount)
    return True


def progress_reported() -> bool:
    """Whether a `report_progress` callback is active (then no bar should be drawn)."""
    return _listener is not None
