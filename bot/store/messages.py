"""Messages in and out, their triage, and delivery state. Text goes in and out of here only encrypted."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.messages import Button, OutboundMessage, StoredOutbound
from bot.core.triage.assessment import Assessment
from bot.store.crypto import TextCipher
from bot.store.database import insert_ignoring_conflicts
from bot.store.models import Message

REPLY_MARK = ">"  # replies to inbound message X are stored as X>0, X>1, …: channel ids never contain it
MAX_REPLIES = 8


@dataclass(frozen=True, slots=True)
class Exchange:
    """An inbound message with its triage and the replies to it, as rows ready for one INSERT."""

    user_id: int
    external_id: str
    replies: Sequence[OutboundMessage]
    rows: list[dict[str, Any]]
    # The conversation's new dialogue state, written with the message (only if the message is new).
    state_row: dict[str, Any] | None = None

    def result(self, ids: dict[tuple[int, str], int]) -> tuple[int, list[StoredOutbound]] | None:
        """The message id and stored replies from the ids an INSERT returned; None when the message was there
        before (a re-delivery: its row was skipped)."""
        inbound = ids.get((self.user_id, self.external_id))
        if inbound is None:
            return None
        return inbound, [
            StoredOutbound(ids[(self.user_id, f"{self.external_id}{REPLY_MARK}{n}")], reply)
            for n, reply in enumerate(self.replies)
        ]


def exchange(
    cipher: TextCipher,
    *,
    conversation_id: int,
    user_id: int,
    external_id: str,
    text: str,
    assessment: Assessment,
    replies: Sequence[OutboundMessage],
    now: datetime,
    delivered: bool,
) -> Exchange:
    """Encrypt and lay out the rows of one exchange."""
    if REPLY_MARK in external_id or len(replies) > MAX_REPLIES:
        raise ValueError("external id contains the reply mark, or too many replies")
    common = {"conversation_id": conversation_id, "user_id": user_id, "staff_id": None, "created_at": now}
    cues = json.dumps(list(assessment.cues), ensure_ascii=False) if assessment.cues else None
    rows = [
        common
        | {
            "direction": "in",
            "sender": "person",
            "external_id": external_id,
            "text_enc": cipher.encrypt(text),
            "buttons": None,
            "level": assessment.level.value,
            "categories": ",".join(assessment.categories),
            "cues_enc": None if cues is None else cipher.encrypt(cues),
            "delivered_at": now,
        }
    ]
    rows += [
        common
        | {
            "direction": "out",
            "sender": reply.sender,
            "external_id": f"{external_id}{REPLY_MARK}{number}",
            "text_enc": cipher.encrypt(reply.text),
            "buttons": _buttons_json(reply),
            "level": None,
            "categories": None,
            "cues_enc": None,
            "delivered_at": now if delivered else None,
        }
        for number, reply in enumerate(replies)
    ]
    return Exchange(user_id, external_id, replies, rows)


async def insert_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> dict[tuple[int, str], int]:
    """INSERT message rows in one statement, skipping any already stored; returns (user, external id) → id of
    the rows inserted."""
    # Parameters as a list (not .values(rows)): the statement is compiled once and cached, and SQLAlchemy still
    # sends the rows as one multi-row INSERT ("insertmanyvalues").
    result = await session.execute(_insert_messages(session.get_bind().dialect.name), rows)
    return {(user_id, ext): row_id for row_id, user_id, ext in result.all()}


@functools.cache
def _insert_messages(dialect: str) -> Any:
    table = Message.__table__
    return insert_ignoring_conflicts(dialect, table).returning(table.c.id, table.c.user_id, table.c.external_id)


async def insert_exchange(session: AsyncSession, item: Exchange) -> tuple[int, list[StoredOutbound]] | None:
    """Store one exchange in the session's transaction (see ``Exchange.result``)."""
    return item.result(await insert_rows(session, item.rows))


async def replies_for(
    session: AsyncSession, cipher: TextCipher, user_id: int, external_id: str
) -> tuple[int | None, list[StoredOutbound]]:
    """The stored id of an inbound message and its replies, in order (what a re-delivery gets again)."""
    names = [external_id] + [f"{external_id}{REPLY_MARK}{n}" for n in range(MAX_REPLIES)]
    rows = list(
        await session.scalars(
            select(Message).where(Message.user_id == user_id, Message.external_id.in_(names)).order_by(Message.id)
        )
    )
    inbound = next((row.id for row in rows if row.direction == "in"), None)
    return inbound, [_outbound(cipher, row) for row in rows if row.direction == "out"]


def _buttons_json(message: OutboundMessage) -> str | None:
    if not message.buttons:
        return None
    return json.dumps([{"title": b.title, "payload": b.payload} for b in message.buttons], ensure_ascii=False)


async def add_outbound(
    session: AsyncSession,
    cipher: TextCipher,
    *,
    conversation_id: int,
    user_id: int,
    message: OutboundMessage,
    now: datetime,
    staff_id: int | None = None,
) -> StoredOutbound:
    """Store an outbound message as pending delivery."""
    row = Message(
        conversation_id=conversation_id,
        user_id=user_id,
        direction="out",
        sender=message.sender,
        staff_id=staff_id,
        text_enc=cipher.encrypt(message.text),
        buttons=_buttons_json(message),
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return StoredOutbound(row.id, message)


def _outbound(cipher: TextCipher, row: Message) -> StoredOutbound:
    buttons = tuple(Button(b["title"], b["payload"]) for b in json.loads(row.buttons)) if row.buttons else ()
    return StoredOutbound(row.id, OutboundMessage(cipher.decrypt(row.text_enc), buttons, row.sender))


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
    rows = await session.scalars(
        select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id.desc()).limit(limit)
    )
    lines = [TranscriptLine(m.id, m.sender, cipher.decrypt(m.text_enc), m.created_at, m.level) for m in rows]
    return lines[::-1]
