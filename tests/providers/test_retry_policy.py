"""`RetryPolicy.delay`: exponential, capped, jittered within bounds, Retry-After as a floor."""

from __future__ import annotations

import random

import pytest

from embedkit.providers.retry import RetryPolicy


def test_backoff_doubles_and_is_capped_without_jitter():
    policy = RetryPolicy(base_delay=0.5, max_delay=3.0, jitter=0.0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_jitter_stays_within_its_fraction():
    policy = RetryPolicy(base_delay=1.0, max_delay=100.0, jitter=0.5)
    rng = random.Random(7)
    delays = [policy.delay(3, rng=rng) for _ in range(500)]
    assert min(delays) >= 2.0 and max(delays) <= 4.0  # 4 s backoff, up to half of it random
    assert max(delays) - min(delays) > 1.5  # and it really varies


def test_retry_after_is_a_floor_not_a_cap():
    policy = RetryPolicy(base_delay=0.1, jitter=0.0)
    assert policy.delay(1, retry_after=2.5) == 2.5
    assert policy.delay(6, retry_after=0.01) == pytest.approx(3.2)  # backoff already longer


@pytest.mark.parametrize("kwargs", [{"max_attempts": 0}, {"base_delay": -1}, {"jitter": 1.5}])
def test_invalid_policies_are_refused(kwargs):
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)
