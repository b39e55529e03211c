"""Retries for API calls: only where a retry can help, bounded in attempts and in waiting.

One retry layer only: the providers turn the SDKs' own retries off (``max_retries=0``) and
retry here, so a 429 is never retried 3 x 3 times by two stacked layers.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from ..errors import APIError

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Failure:
    """What a provider makes of an exception: can a retry help, and what to tell the user.

    ``reason`` must already be free of secrets: it goes into logs and exception messages.
    """

    retryable: bool
    reason: str
    status: int | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, honouring Retry-After, bounded twice.

    Args:
        max_attempts: requests per batch, the first one included.
        base_delay: the first backoff in seconds; doubles after each failure.
        max_delay: no single wait is longer than this (a longer Retry-After gives up instead).
        max_total_wait: seconds of waiting per batch before giving up.
        jitter: fraction of each backoff that is randomized (0 = none, 1 = "full jitter").
    """

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_total_wait: float = 120.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if min(self.base_delay, self.max_delay, self.max_total_wait) < 0:
            raise ValueError("retry delays must be >= 0")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be between 0 and 1, got {self.jitter}")

    def delay(self, failures: int, retry_after: float | None = None,
              rng: random.Random | None = None) -> float:
        """Seconds to wait after the ``failures``-th failure (1-based).

        A server's Retry-After is a floor: waiting less only earns another 429.
        """
        backoff = min(self.max_delay, self.base_delay * 2 ** (failures - 1))
        backoff *= 1 - self.jitter * (rng or random).random()
        if retry_after is not None and retry_after > 0:
            return max(retry_after, backoff)
        return backoff


NO_RETRIES = RetryPolicy(max_attempts=1)


async def call_with_retries(
    send: Callable[[], Awaitable[T]],
    classify: Callable[[BaseException], Failure | None],
    policy: RetryPolicy,
    *,
    label: str,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Await ``send()`` until it succeeds, retrying the failures ``classify`` calls retryable.

    ``classify`` returns None for exceptions that are not API failures (bugs): they propagate
    unchanged. Everything else ends as `APIError`, raised ``from None`` so no SDK exception
    (which may hold request headers) rides along in the traceback.
    """
    waited = 0.0
    for attempt in range(1, policy.max_attempts + 1):
        try:
            return await send()
        except Exception as exc:  # noqa: BLE001 - classified below
            failure = classify(exc)
            if failure is None:
                raise
        delay = policy.delay(attempt, failure.retry_after)
        give_up = _why_give_up(failure, attempt, waited, delay, policy)
        if give_up is not None:
            raise APIError(f"{label}: {failure.reason}{give_up}", status=failure.status,
                           retryable=failure.retryable, attempts=attempt) from None
        logger.warning("%s: %s; retry %d of %d in %.2f s", label, failure.reason, attempt,
                       policy.max_attempts - 1, delay)
        await sleep(delay)
        waited += delay
    raise AssertionError("unreachable")  # pragma: no cover


def _why_give_up(failure: Failure, attempt: int, waited: float, delay: float,
                 policy: RetryPolicy) -> str | None:
    """None to retry, else the (possibly empty) explanation appended to the error."""
    if not failure.retryable:
        return ""
    if attempt >= policy.max_attempts:
        return f" (gave up after {attempt} attempt{'s' if attempt > 1 else ''})"
    if (failure.retry_after or 0.0) > policy.max_delay:
        return (f" (the server asked to wait {failure.retry_after:g} s, more than max_delay="
                f"{policy.max_delay:g} s; gave up after {attempt} attempt(s))")
    if waited + delay > policy.max_total_wait:
        return (f" (gave up after {attempt} attempt(s) and {waited:.1f} s of waiting; "
                f"max_total_wait={policy.max_total_wait:g} s)")
    return None
