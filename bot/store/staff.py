"""Staff accounts, API tokens (only their hashes are kept) and the audit log."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
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
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    staff = Staff(name=name, role=role, school=school, district=district, token_hash=hash_token(token), created_at=now)
    session.add(staff)
    await session.flush()
    return member(staff), token


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
