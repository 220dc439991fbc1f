"""Cases and their timeline: open, raise, claim (one winner), escalate, close, and the scoped queue."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import cast

from sqlalchemy import ColumnElement, Table, and_, case, func, insert, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.cases import OPEN_STATUSES, StaffScope, Status, Tier
from bot.core.triage.assessment import Level
from bot.store.crypto import TextCipher
from bot.store.models import Case, CaseEvent


async def add_event(
    session: AsyncSession,
    cipher: TextCipher,
    case_id: int,
    kind: str,
    now: datetime,
    *,
    staff_id: int | None = None,
    message_id: int | None = None,
    detail: str | None = None,
) -> None:
    """Append to a case's timeline; ``detail`` (note, reply, reason) is encrypted."""
    session.add(
        CaseEvent(
            case_id=case_id,
            kind=kind,
            staff_id=staff_id,
            message_id=message_id,
            detail_enc=None if detail is None else cipher.encrypt(detail),
            at=now,
        )
    )


_CASE_TABLE = cast(Table, Case.__table__)
# One statement object, values bound per call: compiled once (see people._insert_returning_id).
_INSERT_CASE = insert(_CASE_TABLE).returning(_CASE_TABLE.c.id)


async def insert_case(session: AsyncSession, case: Case) -> int:
    """Insert a new case (given as an unsaved ``Case``) with one Core statement; returns its id."""
    table = cast(Table, Case.__table__)
    values = {column.key: getattr(case, column.key) for column in table.columns if column.key != "id"}
    case_id = await session.scalar(_INSERT_CASE, values)
    assert case_id is not None
    return int(case_id)


def scope_filter(scope: StaffScope) -> ColumnElement[bool]:
    """SQL form of ``bot.core.cases.can_see``."""
    if scope.is_whole_deployment:
        return true()
    if scope.school is not None:
        return Case.school == scope.school
    return and_(Case.district == scope.district, or_(Case.tier != Tier.SCHOOL.value, Case.level == Level.RED.value))


# The queue's order is the levels' own order (Level.rank): the highest risk first, then the longest waiting.
_LEVEL_RANK = case({level.value: -level.rank for level in Level}, value=Case.level, else_=0)


async def queue(
    session: AsyncSession,
    scope: StaffScope,
    *,
    statuses: Sequence[str] | None = None,
    levels: Sequence[str] | None = None,
    limit: int = 50,
    offset: int = 0,
    school: str | None = None,
    tier: str | None = None,
) -> tuple[list[Case], int]:
    """A page of the cases in ``scope`` (highest level first, then longest waiting) and how many there are;
    ``school`` and ``tier`` narrow it further (never widen: the scope comes first)."""
    where = [scope_filter(scope), Case.status.in_(statuses if statuses else OPEN_STATUSES)]
    if levels:
        where.append(Case.level.in_(levels))
    if school:
        where.append(Case.school == school)
    if tier:
        where.append(Case.tier == tier)
    total = await session.scalar(select(func.count()).select_from(Case).where(*where))
    rows = await session.scalars(
        select(Case).where(*where).order_by(_LEVEL_RANK, Case.opened_at, Case.id).limit(limit).offset(offset)
    )
    return list(rows), int(total or 0)


async def follow_ups_due(
    session: AsyncSession, scope: StaffScope, staff_id: int, today: date, *, limit: int = 50
) -> list[Case]:
    """The cases ``staff_id`` holds in ``scope`` whose follow-up day has come (the oldest first), open or closed."""
    rows = await session.scalars(
        select(Case)
        .where(scope_filter(scope), Case.assignee_id == staff_id, Case.follow_up_on.is_not(None))
        .where(Case.follow_up_on <= today)
        .order_by(Case.follow_up_on, Case.id)
        .limit(limit)
    )
    return list(rows)


async def get_in_scope(session: AsyncSession, case_id: int, scope: StaffScope) -> Case | None:
    """The case, if it exists and ``scope`` may see it (otherwise None, so existence does not leak)."""
    return await session.scalar(select(Case).where(Case.id == case_id, scope_filter(scope)))


async def claim(session: AsyncSession, case_id: int, staff_id: int, now: datetime) -> bool:
    """Take an open case; exactly one of several racing counselors gets True."""
    result = await session.execute(
        update(Case)
        .where(Case.id == case_id, Case.status == Status.OPEN.value)
        .values(status=Status.CLAIMED.value, assignee_id=staff_id, claimed_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def overdue(session: AsyncSession, now: datetime) -> list[Case]:
    """Unclaimed cases past their claim deadline."""
    rows = await session.scalars(
        select(Case).where(Case.status == Status.OPEN.value, Case.claim_deadline < now).order_by(Case.id)
    )
    return list(rows)


async def events_of(session: AsyncSession, cipher: TextCipher, case: Case) -> list[dict[str, object]]:
    """A case's timeline, oldest first, with details decrypted; its opening (the case row) comes first."""
    rows = await session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))
    opened: dict[str, object] = {
        "kind": "requested" if case.categories == "request" else "opened",
        "at": case.opened_at.isoformat(),
        "staff_id": None,
        "message_id": case.trigger_message_id,
        "detail": None,
    }
    return [opened] + [
        {
            "kind": e.kind,
            "at": e.at.isoformat(),
            "staff_id": e.staff_id,
            "message_id": e.message_id,
            "detail": None if e.detail_enc is None else cipher.decrypt(e.detail_enc),
        }
        for e in rows
    ]


async def counts(session: AsyncSession) -> list[tuple[str, str, int]]:
    """(level, status, number) over all cases, for metrics."""
    rows = await session.execute(select(Case.level, Case.status, func.count()).group_by(Case.level, Case.status))
    return [(level, status, int(number)) for level, status, number in rows.all()]
