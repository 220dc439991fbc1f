"""Pushing stored outbound messages to a person through their channel, and recording what arrived."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from bot.core.messages import StoredOutbound

log = logging.getLogger(__name__)
# A pusher sends messages to the person known on its channel by ``external_id``; True when they arrived.
Pusher = Callable[[str, Sequence[StoredOutbound]], Awaitable[bool]]


class Deliveries:
    """Channel name → pusher. Messages a channel cannot push now stay pending in the store."""

    def __init__(self) -> None:
        self._pushers: dict[str, Pusher] = {}

    def register(self, channel: str, pusher: Pusher) -> None:
        """Use ``pusher`` for people on ``channel``."""
        self._pushers[channel] = pusher

    async def push(self, channel: str, external_id: str, messages: Sequence[StoredOutbound]) -> bool:
        """Try to deliver now; False leaves them pending (the channel delivers them when the person is back)."""
        pusher = self._pushers.get(channel)
        if pusher is None or not messages:
            return False
        try:
            return await pusher(external_id, messages)
        except Exception:
            log.exception("delivery failed", extra={"event": "delivery_failed", "channel": channel})
            return False
