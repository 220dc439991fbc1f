"""Messages in and out, their triage, and delivery state. Text goes in and out of here only encrypted."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.messages import Button, OutboundMessage
from bot.core.triage.assessment import Assessment
from bot.store.crypto import TextCipher
from bot.store.models import Message, TriageResult


@dataclass(frozen=True, slots=True)
class StoredOutbound:
    """An outbound message as stored: its id (for delivery receipts) and content."""

    id: int
    message: OutboundMessage


async def find_inbound(session: AsyncSession, user_id: int, external_id: str) -> Message | None:
    """The inbound message a re-delivery repeats, if it was stored before."""
    return await session.scalar(
        select(Message).where(Message.user_id == user_id, Message.external_id == external_id, Message.direction == "in")
    )


async def add_inbound(
    session: AsyncSession,
    cipher: TextCipher,
    *,
    conversation_id: int,
    user_id: int,
    external_id: str,
    text: str,
    assessment: Assessment,
    now: datetime,
) -> Message:
    """Store an inbound message with its triage."""
    message = Message(
        conversation_id=conversation_id,
        user_id=user_id,
        direction="in",
        sender="person",
        external_id=external_id,
        text_enc=cipher.encrypt(text),
        created_at=now,
        delivered_at=now,
    )
    session.add(message)
    await session.flush()
    session.add(
        TriageResult(
            message_id=message.id,
            level=assessment.level.value,
            categories=",".join(assessment.categories),
            cues_enc=cipher.encrypt(json.dumps(list(assessment.cues), ensure_ascii=False)),
            created_at=now,
        )
    )
    return message


async def add_outbound(
    session: AsyncSession,
    cipher: TextCipher,
    *,
    conversation_id: int,
    user_id: int,
    message: OutboundMessage,
    now: datetime,
    in_reply_to: int | None = None,
    staff_id: int | None = None,
) -> StoredOutbound:
    """Store an outbound message as pending delivery."""
    row = Message(
        conversation_id=conversation_id,
        user_id=user_id,
        direction="out",
        sender=message.sender,
        staff_id=staff_id,
        in_reply_to=in_reply_to,
        text_enc=cipher.encrypt(message.text),
        buttons=json.dumps([{"title": b.title, "payload": b.payload} for b in message.buttons], ensure_ascii=False)
        if message.buttons
        else None,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return StoredOutbound(row.id, message)


def _outbound(cipher: TextCipher, row: Message) -> StoredOutbound:
    buttons = tuple(Button(b["title"], b["payload"]) for b in json.loads(row.buttons)) if row.buttons else ()
    return StoredOutbound(row.id, OutboundMessage(cipher.decrypt(row.text_enc), buttons, row.sender))


async def replies_to(session: AsyncSession, cipher: TextCipher, message_id: int) -> list[StoredOutbound]:
    """The replies stored for an inbound message, in order (what a re-delivery gets again)."""
    rows = await session.scalars(select(Message).where(Message.in_reply_to == message_id).order_by(Message.id))
    return [_outbound(cipher, row) for row in rows]


async def pending_for(session: AsyncSession, cipher: TextCipher, user_id: int) -> list[StoredOutbound]:
    """Outbound messages not yet delivered to the person, oldest first."""
    rows = await session.scalars(
        select(Message)
        .where(Message.user_id == user_id, Message.direction == "out", Message.delivered_at.is_(None))
        .order_by(Message.id)
    )
    return [_outbound(cipher, row) for row in rows]


async def mark_delivered(session: AsyncSession, ids: Sequence[int], now: datetime) -> None:
    """Record that these outbound messages reached the person."""
    if ids:
        await session.execute(
            update(Message).where(Message.id.in_(ids), Message.delivered_at.is_(None)).values(delivered_at=now)
        )


async def recent_person_texts(session: AsyncSession, cipher: TextCipher, conversation_id: int, limit: int) -> list[str]:
    """The person's last ``limit`` messages, oldest first (triage history)."""
    rows = await session.scalars(
        select(Message.text_enc)
        .where(Message.conversation_id == conversation_id, Message.direction == "in")
        .order_by(Message.id.desc())
        .limit(limit)
    )
    return [cipher.decrypt(token) for token in reversed(list(rows))]


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    """One line of a conversation as a counselor reads it."""

    id: int
    sender: str
    text: str
    at: datetime
    level: str | None


async def transcript(
    session: AsyncSession, cipher: TextCipher, conversation_id: int, limit: int = 200
) -> list[TranscriptLine]:
    """The last ``limit`` messages of a conversation, oldest first, with each inbound message's level."""
    rows = await session.execute(
        select(Message, TriageResult.level)
        .outerjoin(TriageResult, TriageResult.message_id == Message.id)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.id.desc())
        .limit(limit)
    )
    lines = [TranscriptLine(m.id, m.sender, cipher.decrypt(m.text_enc), m.created_at, level) for m, level in rows.all()]
    return lines[::-1]
