"""The channel-neutral shapes every adapter translates to and from."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Button:
    """A quick reply: ``title`` is shown, ``payload`` is sent back as the person's message."""

    title: str
    payload: str


# The longest school id and grade a channel may report: the store's columns are this wide on every database, and
# every edge (signed context, CLI) refuses longer values rather than let a message fail to store for ever.
SCHOOL_MAX = 64
GRADE_MAX = 32


@dataclass(frozen=True, slots=True)
class Profile:
    """What a channel knows about the person; None means unknown (keep what the store has)."""

    lang: str | None = None
    region: str | None = None
    role: str | None = None
    school: str | None = None
    grade: str | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message from a person. ``external_id`` is unique per person and channel; a repeat is a re-delivery."""

    channel: str
    user_external_id: str
    external_id: str
    text: str
    profile: Profile = field(default_factory=Profile)


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One message to a person. ``sender`` is ``bot``, ``counselor`` or ``system``."""

    text: str
    buttons: tuple[Button, ...] = ()
    sender: str = "bot"


@dataclass(frozen=True, slots=True)
class StoredOutbound:
    """An outbound message as stored: its id (for delivery receipts) and content."""

    id: int
    message: OutboundMessage
