"""The JSON shape of a case for the counselor API and the event stream."""

from __future__ import annotations

from typing import Any

from bot.store.models import Case


def case_summary(case: Case) -> dict[str, Any]:
    """A case without any free text (no message, note or outcome): safe to push to every console in scope."""
    return {
        "id": case.id,
        "level": case.level,
        "categories": [c for c in case.categories.split(",") if c],
        "status": case.status,
        "tier": case.tier,
        "school": case.school,
        "district": case.district,
        "region": case.region,
        "assignee_id": case.assignee_id,
        "opened_at": case.opened_at.isoformat(),
        "claim_deadline": case.claim_deadline.isoformat(),
        "claimed_at": case.claimed_at.isoformat() if case.claimed_at else None,
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        "escalations": case.escalations,
        "follow_up_on": case.follow_up_on.isoformat() if case.follow_up_on else None,
    }
