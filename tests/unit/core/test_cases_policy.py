"""Case escalation policy: what a message does to an open case, claim deadlines, tiers, queue order, visibility."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.cases import (
    CaseAction,
    SlaPolicy,
    StaffScope,
    Tier,
    can_see,
    case_action,
    district_of,
    first_tier,
    next_tier,
)
from bot.core.triage.assessment import Level

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in Shanghai in the week of Monday 2024-06-03 (day 3 is Monday, 6 Thursday, 7 Friday, 8 Saturday)."""
    return datetime(2024, 6, day, hour, minute, tzinfo=SHANGHAI)


# --- case_action -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("open_level", [None, Level.YELLOW, Level.ORANGE, Level.RED])
def test_a_message_without_risk_never_touches_a_case(open_level: Level | None) -> None:
    assert case_action(Level.NONE, open_level) is CaseAction.NONE


@pytest.mark.parametrize("level", [Level.YELLOW, Level.ORANGE, Level.RED])
def test_a_risky_message_without_an_open_case_opens_one(level: Level) -> None:
    assert case_action(level, None) is CaseAction.OPEN


@pytest.mark.parametrize(
    ("level", "open_level"),
    [(Level.ORANGE, Level.YELLOW), (Level.RED, Level.YELLOW), (Level.RED, Level.ORANGE)],
)
def test_a_higher_level_raises_the_open_case(level: Level, open_level: Level) -> None:
    assert case_action(level, open_level) is CaseAction.RAISE


@pytest.mark.parametrize(
    ("level", "open_level"),
    [
        (Level.YELLOW, Level.YELLOW),
        (Level.ORANGE, Level.ORANGE),
        (Level.RED, Level.RED),
        (Level.YELLOW, Level.ORANGE),
        (Level.YELLOW, Level.RED),
        (Level.ORANGE, Level.RED),
    ],
)
def test_the_same_or_a_lower_level_is_appended_to_the_open_case(level: Level, open_level: Level) -> None:
    assert case_action(level, open_level) is CaseAction.APPEND


# --- SlaPolicy.claim_deadline ------------------------------------------------------------------------------------


def test_red_must_be_claimed_within_five_minutes() -> None:
    opened = local(6, 10)
    assert SlaPolicy().claim_deadline(Level.RED, opened, SHANGHAI) == opened + timedelta(minutes=5)


def test_orange_must_be_claimed_within_thirty_minutes() -> None:
    opened = local(6, 10)
    assert SlaPolicy().claim_deadline(Level.ORANGE, opened, SHANGHAI) == opened + timedelta(minutes=30)


def test_red_and_orange_deadlines_run_through_the_weekend() -> None:
    opened = local(8, 23, 50)  # Saturday night
    assert SlaPolicy().claim_deadline(Level.RED, opened, SHANGHAI) == local(8, 23, 55)
    assert SlaPolicy().claim_deadline(Level.ORANGE, opened, SHANGHAI) == local(9, 0, 20)


def test_yellow_on_thursday_morning_is_due_monday_morning() -> None:
    deadline = SlaPolicy().claim_deadline(Level.YELLOW, local(6, 10), SHANGHAI)
    assert deadline == local(10, 10)
    assert deadline.weekday() == 0


def test_yellow_on_friday_evening_is_due_tuesday_evening() -> None:
    deadline = SlaPolicy().claim_deadline(Level.YELLOW, local(7, 18), SHANGHAI)
    assert deadline == local(11, 18)
    assert deadline.weekday() == 1


def test_yellow_on_saturday_counts_from_monday_morning() -> None:
    deadline = SlaPolicy().claim_deadline(Level.YELLOW, local(8, 15), SHANGHAI)
    assert deadline == local(12, 9)
    assert deadline.weekday() == 2


def test_yellow_working_days_are_counted_in_the_local_time_zone() -> None:
    # Friday 23:00 UTC is already Saturday 07:00 in Shanghai: counting starts Monday 09:00 there.
    opened = datetime(2024, 6, 7, 23, 0, tzinfo=UTC)
    assert SlaPolicy().claim_deadline(Level.YELLOW, opened, SHANGHAI) == local(12, 9)


def test_a_naive_opening_time_is_refused() -> None:
    naive = datetime(2024, 6, 6, 10, 0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="timezone-aware"):
        SlaPolicy().claim_deadline(Level.RED, naive, SHANGHAI)


# --- tiers -------------------------------------------------------------------------------------------------------


def test_a_person_with_a_school_is_routed_to_the_school_first() -> None:
    assert first_tier("school-1", "450102") is Tier.SCHOOL


def test_a_person_without_a_school_is_routed_to_their_district() -> None:
    assert first_tier(None, "450102") is Tier.DISTRICT


def test_a_person_without_school_or_district_is_routed_to_the_city() -> None:
    assert first_tier(None, None) is Tier.CITY


def test_an_unclaimed_school_case_climbs_to_the_district() -> None:
    assert next_tier(Tier.SCHOOL, "450102") is Tier.DISTRICT


def test_an_unclaimed_school_case_with_no_district_climbs_to_the_city() -> None:
    assert next_tier(Tier.SCHOOL, None) is Tier.CITY


def test_an_unclaimed_district_case_climbs_to_the_city() -> None:
    assert next_tier(Tier.DISTRICT, "450102") is Tier.CITY


def test_the_city_is_the_top_tier() -> None:
    assert next_tier(Tier.CITY, "450102") is None
    assert next_tier(Tier.CITY, None) is None


# --- district_of -------------------------------------------------------------------------------------------------


def test_a_district_code_is_its_own_district() -> None:
    assert district_of("450102") == "450102"


@pytest.mark.parametrize("region", ["450100", "450000", "CN", None, "abc"])
def test_a_city_province_nation_or_junk_has_no_district(region: str | None) -> None:
    assert district_of(region) is None


# --- can_see -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tier", list(Tier))
@pytest.mark.parametrize("level", [Level.YELLOW, Level.ORANGE, Level.RED])
def test_whole_deployment_staff_see_every_case(level: Level, tier: Tier) -> None:
    assert can_see(StaffScope(), level=level, tier=tier, school="school-1", district="450102")
    assert can_see(StaffScope(), level=level, tier=tier, school=None, district=None)


def test_school_staff_see_their_own_schools_case() -> None:
    scope = StaffScope(school="school-1", district="450102")
    assert can_see(scope, level=Level.YELLOW, tier=Tier.SCHOOL, school="school-1", district="450102")


def test_school_staff_do_not_see_another_schools_case() -> None:
    scope = StaffScope(school="school-1", district="450102")
    assert not can_see(scope, level=Level.RED, tier=Tier.SCHOOL, school="school-2", district="450102")


def test_district_staff_do_not_see_an_orange_case_still_at_the_school() -> None:
    scope = StaffScope(district="450102")
    assert not can_see(scope, level=Level.ORANGE, tier=Tier.SCHOOL, school="school-1", district="450102")


def test_district_staff_see_a_red_case_at_the_school_at_once() -> None:
    scope = StaffScope(district="450102")
    assert can_see(scope, level=Level.RED, tier=Tier.SCHOOL, school="school-1", district="450102")


def test_district_staff_see_an_orange_case_routed_to_the_district() -> None:
    scope = StaffScope(district="450102")
    assert can_see(scope, level=Level.ORANGE, tier=Tier.DISTRICT, school="school-1", district="450102")


@pytest.mark.parametrize("level", [Level.YELLOW, Level.ORANGE, Level.RED])
def test_district_staff_do_not_see_another_districts_case(level: Level) -> None:
    scope = StaffScope(district="450102")
    assert not can_see(scope, level=level, tier=Tier.DISTRICT, school=None, district="450103")


def test_district_staff_do_not_see_a_case_without_a_district() -> None:
    scope = StaffScope(district="450102")
    assert not can_see(scope, level=Level.RED, tier=Tier.CITY, school=None, district=None)
