"""Everything stored about one person, for export, and its erasure: what they wrote, what was written to them,
their plan and dialogue state go; an anonymous skeleton of their cases stays for the service's own records."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.crypto import TextCipher
from bot.store.models import Case, CaseEvent, Conversation, DialogueStateRow, Message, SafetyPlan, User


async def export(session: AsyncSession, cipher: TextCipher, user_id: int) -> dict[str, Any] | None:
    """The person's profile, messages (decrypted), cases with their timelines, and safety plan."""
    user = await session.get(User, user_id)
    if user is None:
        return None
    messages = await session.scalars(select(Message).where(Message.user_id == user_id).order_by(Message.id))
    cases = list(await session.scalars(select(Case).where(Case.user_id == user_id).order_by(Case.id)))
    events = await session.scalars(
        select(CaseEvent).where(CaseEvent.case_id.in_([c.id for c in cases])).order_by(CaseEvent.id)
    )
    plan = await session.get(SafetyPlan, user_id)
    return {
        "person": {
            "id": user.id, "channel": user.channel, "role": user.role, "lang": user.lang, "region": user.region,
            "school": user.school, "grade": user.grade, "subscribed": user.subscribed,
            "created_at": user.created_at.isoformat(),
        },
        "messages": [
            {"id": m.id, "direction": m.direction, "from": m.sender, "text": cipher.decrypt(m.text_enc),
             "level": m.level, "at": m.created_at.isoformat()}
            for m in messages
        ],
        "cases": [
            {"id": c.id, "level": c.level, "status": c.status, "opened_at": c.opened_at.isoformat(),
             "outcome": None if c.outcome_enc is None else cipher.decrypt(c.outcome_enc)}
            for c in cases
        ],
        "case_events": [
            {"case_id": e.case_id, "kind": e.kind, "at": e.at.isoformat(),
             "detail": None if e.detail_enc is None else cipher.decrypt(e.detail_enc)}
            for e in events
        ],
        "safety_plan": None if plan is None else json.loads(cipher.decrypt(plan.plan_enc)),
    }  # fmt: skip


async def erase(session: AsyncSession, user_id: int, now: datetime) -> tuple[str, str] | None:
    """Remove the person's words and identity; returns their former (channel, external id), or None if unknown.
    Cases keep level, status and dates (no text, outcome or link to any message) so counts and SLAs stay true."""
    user = await session.get(User, user_id)
    if user is None:
        return None
    former = (user.channel, user.external_id)
    case_ids = list(await session.scalars(select(Case.id).where(Case.user_id == user_id)))
    if case_ids:
        await session.execute(
            update(CaseEvent).where(CaseEvent.case_id.in_(case_ids)).values(detail_enc=None, message_id=None)
        )
        # The outcome is a counselor's words about this person: it goes with them.
        await session.execute(
            update(Case).where(Case.id.in_(case_ids)).values(trigger_message_id=None, outcome_enc=None)
        )
    await session.execute(delete(Message).where(Message.user_id == user_id))
    conversation_ids = select(Conversation.id).where(Conversation.user_id == user_id)
    await session.execute(delete(DialogueStateRow).where(DialogueStateRow.conversation_id.in_(conversation_ids)))
    await session.execute(update(Conversation).where(Conversation.user_id == user_id).values(handoff_case_id=None))
    await session.execute(delete(SafetyPlan).where(SafetyPlan.user_id == user_id))
    user.external_id = f"erased-{user.id}-{int(now.timestamp())}"
    user.school = user.grade = None
    user.subscribed = False
    return former
