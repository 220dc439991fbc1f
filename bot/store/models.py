"""Tables. Text a person or counselor wrote is stored only as Fernet tokens (``*_enc`` columns)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.core.messages import GRADE_MAX, SCHOOL_MAX


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which drops the zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002 - signature fixed by SQLAlchemy
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002 - signature fixed by SQLAlchemy
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class EncryptedBytes(TypeDecorator[bytes]):
    """A Fernet token (``TextCipher``): stored as bytes. Marking every encrypted column with this type is what lets
    ``xinqiao db rotate-keys`` find them all from the models."""

    impl = LargeBinary
    cache_ok = True


def encrypted_columns() -> list[tuple[Table, Column[Any]]]:
    """Every (table, column) that holds a Fernet token."""
    return [
        (table, column)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, EncryptedBytes)
    ]


class Base(DeclarativeBase):
    """Declarative base of every table."""


class User(Base):
    """One person on one channel."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_users_channel_external"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16), default="student")
    lang: Mapped[str] = mapped_column(String(8))
    region: Mapped[str] = mapped_column(String(8))
    school: Mapped[str | None] = mapped_column(String(SCHOOL_MAX))
    grade: Mapped[str | None] = mapped_column(String(GRADE_MAX))
    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    subscribed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    linked_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Conversation(Base):
    """A person's conversation with the service; ``handoff_case_id`` is set while a counselor holds it."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    handoff_case_id: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DialogueStateRow(Base):
    """Where a conversation's dialogue stands (a form half filled, an article half read); encrypted, since form
    answers are the person's words."""

    __tablename__ = "dialogue_states"

    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), primary_key=True)
    state_enc: Mapped[bytes] = mapped_column(EncryptedBytes)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SafetyPlan(Base):
    """A person's own safety plan (Stanley–Brown), encrypted; shown to their counselor only when shared."""

    __tablename__ = "safety_plans"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    plan_enc: Mapped[bytes] = mapped_column(EncryptedBytes)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Message(Base):
    """One message in or out, with its triage for inbound ones. ``external_id`` is unique per person: a
    re-delivery finds the first; replies to an inbound message carry its external id plus ``>N``."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("user_id", "external_id", name="uq_messages_user_external"),
        Index("ix_messages_conversation", "conversation_id", "id"),
        Index("ix_messages_pending", "user_id", "delivered_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    sender: Mapped[str] = mapped_column(String(16))  # person | bot | counselor | system
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    external_id: Mapped[str | None] = mapped_column(String(160))
    text_enc: Mapped[bytes] = mapped_column(EncryptedBytes)
    buttons: Mapped[str | None] = mapped_column(Text)  # JSON list of {title, payload}
    level: Mapped[str | None] = mapped_column(String(8))  # triage of an inbound message
    categories: Mapped[str | None] = mapped_column(String(200))  # comma-separated
    cues_enc: Mapped[bytes | None] = mapped_column(EncryptedBytes)  # the cue words quote the person: encrypted
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Staff(Base):
    """A staff account. Only a SHA-256 of the API token is kept."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    school: Mapped[str | None] = mapped_column(String(SCHOOL_MAX))
    district: Mapped[str | None] = mapped_column(String(8))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The console password (argon2id, with its own salt and cost), a TOTP secret (encrypted) when the account uses
    # one, and the sign-in failures that lock it for a while.
    password_hash: Mapped[str | None] = mapped_column(String(160))
    totp_enc: Mapped[bytes | None] = mapped_column(EncryptedBytes)
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ConsoleSession(Base):
    """A signed-in console: only a SHA-256 of the cookie's token is kept, with the session's CSRF token, so any
    serving process can check it."""

    __tablename__ = "console_sessions"
    __table_args__ = (Index("ix_console_sessions_staff", "staff_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())


class Case(Base):
    """An escalation of one person's risk to the human queue."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_queue", "status", "level", "opened_at"),
        Index("ix_cases_user_status", "user_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    level: Mapped[str] = mapped_column(String(8))
    categories: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12))
    tier: Mapped[str] = mapped_column(String(12))
    school: Mapped[str | None] = mapped_column(String(SCHOOL_MAX))
    district: Mapped[str | None] = mapped_column(String(8))
    region: Mapped[str] = mapped_column(String(8))
    trigger_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claim_deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome_enc: Mapped[bytes | None] = mapped_column(EncryptedBytes)  # the counselor's words: encrypted
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    # 追踪反馈: the day the counselor means to check on the person again (the case is on their due list from then).
    follow_up_on: Mapped[date | None] = mapped_column(Date)


class CaseEvent(Base):
    """The timeline of a case; ``detail_enc`` holds note and reply text, encrypted."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    detail_enc: Mapped[bytes | None] = mapped_column(EncryptedBytes)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditEntry(Base):
    """Who looked at or acted on what, and when (never the content itself)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_case", "case_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    action: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
