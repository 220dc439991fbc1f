"""In-process publish/subscribe of case changes, filtered by each subscriber's scope (feeds the SSE stream)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.core.cases import StaffScope, Tier, can_see
from bot.core.triage.assessment import Level

log = logging.getLogger(__name__)
QUEUE_LIMIT = 1000
BYE = "bye"  # the last event a listener gets when the service stops


@dataclass(eq=False)
class Subscription:
    """One listener (an open SSE connection) and what it may see."""

    scope: StaffScope
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    dropped: bool = False


class CaseEvents:
    """Fan-out of case events to subscribers whose scope covers the case."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()

    def subscribe(self, scope: StaffScope) -> Subscription:
        """Start listening."""
        subscription = Subscription(scope)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop listening."""
        self._subscriptions.discard(subscription)

    def close(self) -> None:
        """The service is stopping: every listener gets a last ``bye`` event (in place of its oldest if full)."""
        for subscription in self._subscriptions:
            if subscription.queue.full():
                subscription.queue.get_nowait()
                subscription.dropped = True
            subscription.queue.put_nowait({"type": BYE})

    def publish(self, kind: str, case: Mapping[str, Any]) -> None:
        """Send ``{"type": kind, "case": case}`` to every subscriber allowed to see ``case``."""
        event = {"type": kind, "case": dict(case)}
        for subscription in list(self._subscriptions):
            if not can_see(
                subscription.scope,
                level=Level(case["level"]),
                tier=Tier(case["tier"]),
                school=case.get("school"),
                district=case.get("district"),
            ):
                continue
            try:
                subscription.queue.put_nowait(event)
            except asyncio.QueueFull:
                # A stalled console must not stall the pipeline; it is told to reload instead.
                subscription.dropped = True
                log.warning("event subscriber too slow; events dropped", extra={"event": "sse_dropped"})
