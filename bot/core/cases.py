"""Escalation policy for cases: what a triaged message does to a person's case, deadlines, routing tiers,
queue order and who may see a case. Pure: times are passed in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.core.triage.assessment import Level


class Status(StrEnum):
    """Case status, DESIGN.md §4: open → claimed → active → resolved | referred."""

    OPEN = "open"
    CLAIMED = "claimed"
    ACTIVE = "active"
    RESOLVED = "resolved"
    REFERRED = "referred"

    @property
    def is_closed(self) -> bool:
        """Resolved and referred cases are finished; a new risky message opens a new case."""
        return self in {Status.RESOLVED, Status.REFERRED}


# Statuses of a case still being worked: a person has at most one such case.
OPEN_STATUSES = (Status.OPEN.value, Status.CLAIMED.value, Status.ACTIVE.value)


class Tier(StrEnum):
    """Who a case is routed to; an unclaimed case climbs school → district → city."""

    SCHOOL = "school"
    DISTRICT = "district"
    CITY = "city"


_TIER_ORDER = (Tier.SCHOOL, Tier.DISTRICT, Tier.CITY)


class CaseAction(StrEnum):
    """What a triaged message does to the person's open case."""

    NONE = "none"  # nothing to escalate
    OPEN = "open"  # no open case: open one at this level
    RAISE = "raise"  # open case at a lower level: raise it (and its deadline if unclaimed)
    APPEND = "append"  # open case at this level or higher: add the message to its timeline


def case_action(level: Level, open_case_level: Level | None) -> CaseAction:
    """Decide how a message at ``level`` touches the person's open case (None when there is none)."""
    if level is Level.NONE:
        return CaseAction.NONE
    if open_case_level is None:
        return CaseAction.OPEN
    if level.rank > open_case_level.rank:
        return CaseAction.RAISE
    return CaseAction.APPEND


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """Time to claim per level. Yellow is counted in working days (Monday–Friday) in the local time zone."""

    red: timedelta = timedelta(minutes=5)
    orange: timedelta = timedelta(minutes=30)
    yellow_working_days: int = 2

    def claim_deadline(self, level: Level, opened_at: datetime, tz: ZoneInfo) -> datetime:
        """When a case at ``level`` opened at ``opened_at`` must have been claimed."""
        if opened_at.tzinfo is None:
            raise ValueError("opened_at must be timezone-aware")
        if level is Level.RED:
            return opened_at + self.red
        if level is Level.ORANGE:
            return opened_at + self.orange
        return add_working_days(opened_at.astimezone(tz), self.yellow_working_days)


def add_working_days(start: datetime, days: int) -> datetime:
    """``start`` plus ``days`` working days (weekends skipped; public holidays are not known here)."""
    current = start
    # A message on Saturday counts from Monday morning's start, not from the weekend.
    while current.weekday() >= 5:
        current = (current + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current


def first_tier(school: str | None, district: str | None) -> Tier:
    """Route to the person's school first; without a school to their district; otherwise to the city centre."""
    if school:
        return Tier.SCHOOL
    if district:
        return Tier.DISTRICT
    return Tier.CITY


def next_tier(tier: Tier, district: str | None) -> Tier | None:
    """The tier an unclaimed case climbs to, or None when it is already at the top."""
    index = _TIER_ORDER.index(tier)
    if index + 1 >= len(_TIER_ORDER):
        return None
    following = _TIER_ORDER[index + 1]
    if following is Tier.DISTRICT and not district:
        return Tier.CITY
    return following


def district_of(region: str | None) -> str | None:
    """The district-level GB/T 2260 code of a region, or None for CN, a province or a whole city."""
    if region is None or len(region) != 6 or not region.isdigit() or region.endswith("00"):
        return None
    return region


@dataclass(frozen=True, slots=True)
class StaffScope:
    """Where a staff member works: a school, a district, or (both None) the whole deployment."""

    school: str | None = None
    district: str | None = None

    @property
    def is_whole_deployment(self) -> bool:
        """Staff with no school or district see every case (the city centre, admins)."""
        return self.school is None and self.district is None


@dataclass(frozen=True, slots=True)
class StaffMember:
    """A staff account as the service sees it: who they are, their role and their scope."""

    id: int
    name: str
    role: str
    school: str | None = None
    district: str | None = None

    @property
    def scope(self) -> StaffScope:
        """The cases they may see (no school and no district: the whole deployment)."""
        return StaffScope(school=self.school, district=self.district)


def can_see(scope: StaffScope, *, level: Level, tier: Tier, school: str | None, district: str | None) -> bool:
    """True when staff with ``scope`` may see a case. School staff see their school's cases; district staff see
    their district's cases once routed to the district, and red ones at once (red pages the district on-call)."""
    if scope.is_whole_deployment:
        return True
    if scope.school is not None:
        return scope.school == school
    if district is None or scope.district != district:
        return False
    return tier is not Tier.SCHOOL or level is Level.RED
