"""Sliding-window rate limit: ``limit`` events per window per key; a refusal says how long to wait."""

from __future__ import annotations

from bot.core.rate_limit import SlidingWindowLimit


def test_allows_limit_events_in_a_window() -> None:
    limiter = SlidingWindowLimit(limit=3, window=60.0)
    assert [limiter.check("a", now) for now in (0.0, 10.0, 20.0)] == [0.0, 0.0, 0.0]


def test_the_next_event_gets_a_positive_wait_until_the_oldest_leaves() -> None:
    limiter = SlidingWindowLimit(limit=3, window=60.0)
    for now in (0.0, 10.0, 20.0):
        limiter.check("a", now)
    wait = limiter.check("a", 30.0)
    assert wait > 0
    assert wait == 30.0  # the event at 0 leaves the window at 60


def test_waiting_exactly_the_returned_time_is_enough() -> None:
    limiter = SlidingWindowLimit(limit=2, window=60.0)
    limiter.check("a", 5.0)
    limiter.check("a", 15.0)
    wait = limiter.check("a", 25.0)
    assert wait == 40.0
    assert limiter.check("a", 25.0 + wait - 0.5) > 0
    assert limiter.check("a", 25.0 + wait) == 0.0


def test_keys_are_independent() -> None:
    limiter = SlidingWindowLimit(limit=1, window=60.0)
    assert limiter.check("a", 0.0) == 0.0
    assert limiter.check("a", 1.0) > 0
    assert limiter.check("b", 1.0) == 0.0
    assert limiter.check("b", 2.0) > 0


def test_events_are_allowed_again_after_the_window_passes() -> None:
    limiter = SlidingWindowLimit(limit=2, window=60.0)
    limiter.check("a", 0.0)
    limiter.check("a", 1.0)
    assert limiter.check("a", 2.0) > 0
    assert limiter.check("a", 200.0) == 0.0
    assert limiter.check("a", 201.0) == 0.0
    assert limiter.check("a", 202.0) > 0


def test_a_refused_event_is_not_recorded() -> None:
    limiter = SlidingWindowLimit(limit=2, window=60.0)
    limiter.check("a", 0.0)
    limiter.check("a", 10.0)
    assert limiter.check("a", 20.0) > 0
    assert limiter.check("a", 30.0) > 0
    # Only the events at 0 and 10 count: at 60 the first has left, so there is room again.
    assert limiter.check("a", 60.0) == 0.0
    # And the wait now runs to when the event at 10 leaves, not to when a refused one would.
    assert limiter.check("a", 65.0) == 5.0


def test_max_keys_forgets_idle_keys() -> None:
    limiter = SlidingWindowLimit(limit=1, window=60.0, max_keys=2)
    limiter.check("idle", 0.0)
    limiter.check("busy", 50.0)
    assert limiter.check("new", 70.0) == 0.0
    assert set(limiter._events) == {"busy", "new"}


def test_forgetting_idle_keys_keeps_active_limits() -> None:
    limiter = SlidingWindowLimit(limit=1, window=60.0, max_keys=2)
    limiter.check("idle", 0.0)
    limiter.check("busy", 50.0)
    limiter.check("new", 70.0)
    assert limiter.check("busy", 71.0) == 39.0
    assert limiter.check("idle", 71.0) == 0.0
