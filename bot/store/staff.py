"""Staff accounts, API tokens (only their hashes are kept) and the audit log."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.cases import StaffMember
from bot.store.models import AuditEntry, Staff

TOKEN_PREFIX = "xq_"  # noqa: S105 - a visible prefix, not a secret


def hash_token(token: str) -> str:
    """SHA-256 of a token: tokens are long random strings, so a plain hash is enough (no password stretching)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def member(row: Staff) -> StaffMember:
    """The service's view of a staff row."""
    return StaffMember(row.id, row.name, row.role, school=row.school, district=row.district)


async def add_staff(
    session: AsyncSession, *, name: str, role: str, school: str | None, district: str | None, now: datetime
) -> tuple[StaffMember, str]:
    """Create an account; returns it with its API token, which is shown once and never stored."""
    token = _new_token()
    staff = Staff(name=name, role=role, school=school, district=district, token_hash=hash_token(token), created_at=now)
    session.add(staff)
    await session.flush()
    return member(staff), token


def _new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class StaffListing:
    """One account as ``xinqiao staff list`` shows it."""

    member: StaffMember
    active: bool
    created_at: datetime


async def list_staff(session: AsyncSession) -> list[StaffListing]:
    """Every account, by name."""
    rows = await session.scalars(select(Staff).order_by(Staff.name))
    return [StaffListing(member(row), row.active, row.created_at) for row in rows]


async def set_active(session: AsyncSession, name: str, *, active: bool) -> bool:
    """Enable or disable an account (a disabled token stops working at once); False if no such account."""
    result = await session.execute(update(Staff).where(Staff.name == name).values(active=active))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def reset_token(session: AsyncSession, name: str) -> str | None:
    """Give an account a new API token (the old one stops working); returns it once, None if no such account."""
    token = _new_token()
    result = await session.execute(update(Staff).where(Staff.name == name).values(token_hash=hash_token(token)))
    return token if result.rowcount else None  # type: ignore[attr-defined]


async def active_staff_named(session: AsyncSession, name: str) -> StaffMember | None:
    """The active account named ``name``."""
    row = await session.scalar(select(Staff).where(Staff.name == name, Staff.active.is_(True)))
    return None if row is None else member(row)


async def staff_by_token(session: AsyncSession, token: str) -> StaffMember | None:
    """The active account a bearer token belongs to."""
    row = await session.scalar(select(Staff).where(Staff.token_hash == hash_token(token), Staff.active.is_(True)))
    return None if row is None else member(row)


async def audit(
    session: AsyncSession,
    staff_id: int | None,
    action: str,
    now: datetime,
    *,
    case_id: int | None = None,
    detail: str | None = None,
) -> None:
    """Record who did what to which case (never message text)."""
    session.add(AuditEntry(staff_id=staff_id, action=action, case_id=case_id, detail=detail, at=now))
