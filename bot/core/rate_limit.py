"""A sliding-window limit of events per key (e.g. messages a minute per web session). Time is passed in."""

from __future__ import annotations

from collections import deque


class SlidingWindowLimit:
    """At most ``limit`` events per ``window`` seconds per key."""

    def __init__(self, limit: int, window: float = 60.0, max_keys: int = 100_000) -> None:
        self._limit = limit
        self._window = window
        self._max_keys = max_keys
        self._events: dict[str, deque[float]] = {}

    def check(self, key: str, now: float) -> float:
        """Record an event at ``now`` and return 0, or return the seconds to wait (the event is not recorded)."""
        events = self._events.get(key)
        if events is None:
            if len(self._events) >= self._max_keys:
                self._forget_idle(now)
            events = self._events[key] = deque()
        while events and events[0] <= now - self._window:
            events.popleft()
        if len(events) >= self._limit:
            return events[0] + self._window - now
        events.append(now)
        return 0.0

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, e in self._events.items() if not e or e[-1] <= now - self._window]:
            del self._events[key]
