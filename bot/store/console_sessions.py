"""Console sign-in state: an account's password hash, TOTP secret and failures, and the server-side sessions
(only a hash of each cookie token is kept)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.cases import StaffMember
from bot.store.models import ConsoleSession, Staff
from bot.store.staff import hash_token, member


@dataclass(frozen=True, slots=True)
class SignInRecord:
    """What checking a password needs to know of an account."""

    member: StaffMember
    active: bool
    password_hash: str | None
    totp_enc: bytes | None
    failed_sign_ins: int
    locked_until: datetime | None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A live console session and its account."""

    member: StaffMember
    csrf: str
    last_seen: datetime


async def sign_in_record(session: AsyncSession, name: str) -> SignInRecord | None:
    """The account named ``name``, as sign-in sees it; None if there is none."""
    row = await session.scalar(select(Staff).where(Staff.name == name))
    if row is None:
        return None
    return SignInRecord(
        member(row), row.active, row.password_hash, row.totp_enc, row.failed_sign_ins or 0, row.locked_until
    )


async def record_failure(session: AsyncSession, staff_id: int, *, failures: int, locked_until: datetime | None) -> None:
    """Count a failed sign-in and, past the limit, lock the account until ``locked_until``."""
    await session.execute(
        update(Staff).where(Staff.id == staff_id).values(failed_sign_ins=failures, locked_until=locked_until)
    )


async def open_session(session: AsyncSession, staff_id: int, token: str, csrf: str, now: datetime) -> None:
    """A new session for the account; its failures are forgotten."""
    await session.execute(update(Staff).where(Staff.id == staff_id).values(failed_sign_ins=0, locked_until=None))
    session.add(
        ConsoleSession(token_hash=hash_token(token), staff_id=staff_id, csrf=csrf, created_at=now, last_seen=now)
    )


async def find_session(session: AsyncSession, token: str) -> SessionRecord | None:
    """The session a cookie token belongs to, if its account is still active."""
    row = await session.execute(
        select(ConsoleSession, Staff)
        .join(Staff, Staff.id == ConsoleSession.staff_id)
        .where(ConsoleSession.token_hash == hash_token(token), Staff.active.is_(True))
    )
    found = row.first()
    if found is None:
        return None
    console, staff = found
    return SessionRecord(member(staff), console.csrf, console.last_seen)


async def touch_session(session: AsyncSession, token: str, now: datetime) -> None:
    """The session was used now (the idle timeout counts from here)."""
    await session.execute(
        update(ConsoleSession).where(ConsoleSession.token_hash == hash_token(token)).values(last_seen=now)
    )


async def close_session(session: AsyncSession, token: str) -> None:
    """Sign out: the session is gone for every process."""
    await session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == hash_token(token)))


async def close_sessions_of(session: AsyncSession, name: str) -> int:
    """End every session of the account named ``name`` (disabled, or its password reset); how many ended."""
    staff_id = await session.scalar(select(Staff.id).where(Staff.name == name))
    if staff_id is None:
        return 0
    result = await session.execute(delete(ConsoleSession).where(ConsoleSession.staff_id == staff_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def set_password(session: AsyncSession, name: str, password_hash: str) -> bool:
    """Set an account's console password hash (and unlock it); False if there is no such account."""
    result = await session.execute(
        update(Staff)
        .where(Staff.name == name)
        .values(password_hash=password_hash, failed_sign_ins=0, locked_until=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def set_totp(session: AsyncSession, name: str, totp_enc: bytes | None) -> bool:
    """Turn TOTP on (with the encrypted secret) or off for an account; False if there is no such account."""
    result = await session.execute(update(Staff).where(Staff.name == name).values(totp_enc=totp_enc))
    return bool(result.rowcount)  # type: ignore[attr-defined]
