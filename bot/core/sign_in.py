"""When a console account is locked after failed sign-ins, and when a session has been idle too long."""

from __future__ import annotations

from datetime import datetime, timedelta

# Failures allowed before the first lock; each further failure doubles the lock, up to the longest.
FREE_FAILURES = 5
FIRST_LOCK = timedelta(minutes=1)
LONGEST_LOCK = timedelta(hours=1)


def lock_after(failures: int) -> timedelta | None:
    """How long the account is locked after ``failures`` failures in a row (None: not locked). Backoff doubles
    from one minute so guessing stays slow while a counselor who mistyped waits at most a minute or two."""
    if failures < FREE_FAILURES:
        return None
    lock: timedelta = FIRST_LOCK * (2 ** min(failures - FREE_FAILURES, 12))
    return min(lock, LONGEST_LOCK)


def is_locked(locked_until: datetime | None, now: datetime) -> bool:
    """Whether a lock set until ``locked_until`` still holds at ``now``."""
    return locked_until is not None and now < locked_until


def is_idle(last_seen: datetime, now: datetime, idle: timedelta) -> bool:
    """Whether a session last used at ``last_seen`` has been idle longer than ``idle``."""
    return now - last_seen > idle
