"""Users (one person on one channel) and their conversation."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.cases import OPEN_STATUSES
from bot.core.messages import Profile
from bot.store.database import insert_ignoring_conflicts
from bot.store.models import Base, Case, Conversation, Message, User

# What a channel may report about a person on any message; a value that differs from the stored one replaces it
# (the web page's language switch, a new signed context).
PROFILE_FIELDS = ("lang", "region", "role", "school", "grade")


@dataclass(slots=True)
class Person:
    """What the pipeline needs to know about one person between messages."""

    user_id: int
    conversation_id: int
    lang: str
    region: str
    role: str
    school: str | None
    grade: str | None
    handoff_case_id: int | None
    open_case_id: int | None
    open_case_level: str | None
    has_pending: bool


async def find_user(session: AsyncSession, channel: str, external_id: str) -> User | None:
    """The user known by ``external_id`` on ``channel``, if any."""
    return await session.scalar(select(User).where(User.channel == channel, User.external_id == external_id))


async def user_by_id(session: AsyncSession, user_id: int) -> User | None:
    """A user by primary key."""
    return await session.get(User, user_id)


async def load_person(session: AsyncSession, channel: str, external_id: str) -> Person | None:
    """The person with their conversation, open case and whether messages wait for them: one query."""
    pending = exists().where(Message.user_id == User.id, Message.direction == "out", Message.delivered_at.is_(None))
    row = (
        await session.execute(
            select(
                User.id,
                Conversation.id,
                User.lang,
                User.region,
                User.role,
                User.school,
                User.grade,
                Conversation.handoff_case_id,
                Case.id,
                Case.level,
                pending,
            )
            .join(Conversation, Conversation.user_id == User.id)
            .outerjoin(Case, and_(Case.user_id == User.id, Case.status.in_(OPEN_STATUSES)))
            .where(User.channel == channel, User.external_id == external_id)
            .order_by(Case.id.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else Person(*row)


async def create_person(
    session: AsyncSession,
    *,
    channel: str,
    external_id: str,
    profile: Profile,
    default_lang: str,
    default_region: str,
    now: datetime,
) -> tuple[Person, bool]:
    """Create the user and their conversation on first contact, or read them if another process was first;
    True when created here."""
    dialect = session.get_bind().dialect.name
    values = {
        "role": profile.role or "student",
        "lang": profile.lang or default_lang,
        "region": profile.region or default_region,
        "school": profile.school,
        "grade": profile.grade,
    }
    user_row = values | {"channel": channel, "external_id": external_id, "consent": False, "subscribed": False,
                         "linked_user_id": None, "created_at": now}  # fmt: skip
    user_id = await session.scalar(_insert_returning_id(dialect, "users"), user_row)
    if user_id is not None:
        conversation_row = {"user_id": user_id, "handoff_case_id": None, "started_at": now, "last_message_at": now}
        conversation_id = await session.scalar(_insert_returning_id(dialect, "conversations"), conversation_row)
        if conversation_id is not None:
            return Person(
                user_id,
                conversation_id,
                lang=profile.lang or default_lang,
                region=profile.region or default_region,
                role=profile.role or "student",
                school=profile.school,
                grade=profile.grade,
                handoff_case_id=None,
                open_case_id=None,
                open_case_level=None,
                has_pending=False,
            ), True
    person = await load_person(session, channel, external_id)
    if person is None:
        raise RuntimeError(f"a {channel} user vanished while being created")
    return person, False


@functools.cache
def _insert_returning_id(dialect: str, table_name: str) -> Any:
    # Built once per table: a statement with its values as parameters is compiled once and then only bound,
    # where `.values(...)` would make SQLAlchemy work out a new cache key on every call.
    table = Base.metadata.tables[table_name]
    return insert_ignoring_conflicts(dialect, table).returning(table.c.id)


async def update_user(session: AsyncSession, user_id: int, **values: object) -> None:
    """Change stored profile fields (language, region, role, school, grade)."""
    await session.execute(update(User).where(User.id == user_id).values(**values))
