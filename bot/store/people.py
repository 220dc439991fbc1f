"""Users (one person on one channel) and their conversation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.messages import Profile
from bot.store.models import Conversation, User


async def find_user(session: AsyncSession, channel: str, external_id: str) -> User | None:
    """The user known by ``external_id`` on ``channel``, if any."""
    return await session.scalar(select(User).where(User.channel == channel, User.external_id == external_id))


async def upsert_user(
    session: AsyncSession,
    *,
    channel: str,
    external_id: str,
    profile: Profile,
    default_lang: str,
    default_region: str,
    now: datetime,
) -> User:
    """The user, created on first contact; profile fields the channel knows overwrite stored ones, except the
    language, which the person changes in the conversation (a page's language only seeds a new user)."""
    user = await find_user(session, channel, external_id)
    if user is None:
        user = User(
            channel=channel,
            external_id=external_id,
            role=profile.role or "student",
            lang=profile.lang or default_lang,
            region=profile.region or default_region,
            school=profile.school,
            grade=profile.grade,
            consent=False,
            created_at=now,
        )
        try:
            # Two first messages of one person can race; the loser reads the winner's row.
            async with session.begin_nested():
                session.add(user)
        except IntegrityError:
            found = await find_user(session, channel, external_id)
            if found is None:
                raise
            user = found
    for name in ("region", "role", "school", "grade"):
        value = getattr(profile, name)
        if value is not None and getattr(user, name) != value:
            setattr(user, name, value)
    return user


async def conversation_of(session: AsyncSession, user: User, now: datetime) -> Conversation:
    """The person's conversation, created on first contact."""
    conversation = await session.scalar(select(Conversation).where(Conversation.user_id == user.id))
    if conversation is None:
        conversation = Conversation(user_id=user.id, started_at=now, last_message_at=now)
        try:
            async with session.begin_nested():
                session.add(conversation)
        except IntegrityError:
            conversation = await session.scalar(select(Conversation).where(Conversation.user_id == user.id))
            if conversation is None:
                raise
    return conversation


async def user_by_id(session: AsyncSession, user_id: int) -> User | None:
    """A user by primary key."""
    return await session.get(User, user_id)
