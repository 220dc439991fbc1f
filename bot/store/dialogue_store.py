"""Dialogue state per conversation and safety plans per person, both encrypted."""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.crypto import TextCipher
from bot.store.models import DialogueStateRow, SafetyPlan


async def load_state(session: AsyncSession, cipher: TextCipher, conversation_id: int) -> dict[str, Any] | None:
    """The stored dialogue state of a conversation (JSON), if any."""
    row = await session.get(DialogueStateRow, conversation_id)
    return None if row is None else dict(json.loads(cipher.decrypt(row.state_enc)))


async def save_state(
    session: AsyncSession, cipher: TextCipher, conversation_id: int, state: dict[str, Any], now: datetime
) -> None:
    """Replace a conversation's dialogue state."""
    token = cipher.encrypt(json.dumps(state, ensure_ascii=False))
    row = await session.get(DialogueStateRow, conversation_id)
    if row is None:
        session.add(DialogueStateRow(conversation_id=conversation_id, state_enc=token, updated_at=now))
    else:
        row.state_enc, row.updated_at = token, now


async def save_plan(
    session: AsyncSession, cipher: TextCipher, user_id: int, answers: list[tuple[str, str]], now: datetime
) -> None:
    """Store (or replace) a person's safety plan; a new plan is not shared until they agree again."""
    token = cipher.encrypt(json.dumps(answers, ensure_ascii=False))
    plan = await session.get(SafetyPlan, user_id)
    if plan is None:
        session.add(SafetyPlan(user_id=user_id, plan_enc=token, shared=False, updated_at=now))
    else:
        plan.plan_enc, plan.shared, plan.updated_at = token, False, now


async def load_plan(
    session: AsyncSession, cipher: TextCipher, user_id: int
) -> tuple[list[tuple[str, str]], bool] | None:
    """A person's plan (slot, answer pairs) and whether it is shared with their counselor."""
    plan = await session.get(SafetyPlan, user_id)
    if plan is None:
        return None
    return [(str(k), str(v)) for k, v in json.loads(cipher.decrypt(plan.plan_enc))], plan.shared


async def set_plan_shared(session: AsyncSession, user_id: int, shared: bool, now: datetime) -> bool:
    """Record the person's consent to share; False when they have no plan."""
    plan = await session.scalar(select(SafetyPlan).where(SafetyPlan.user_id == user_id))
    if plan is None:
        return False
    plan.shared, plan.updated_at = shared, now
    return True


def state_row(cipher: TextCipher, conversation_id: int, state: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A dialogue state as a row for ``upsert_states``."""
    return {
        "conversation_id": conversation_id,
        "state_enc": cipher.encrypt(json.dumps(state, ensure_ascii=False)),
        "updated_at": now,
    }


async def upsert_states(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Write several conversations' states in one statement (insert, or replace the stored one)."""
    if rows:
        await session.execute(_upsert_states(session.get_bind().dialect.name), rows)


@functools.cache
def _upsert_states(dialect: str) -> Any:
    table = cast(Table, DialogueStateRow.__table__)
    statement = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(table)
    return statement.on_conflict_do_update(
        index_elements=[table.c.conversation_id],
        set_={"state_enc": statement.excluded.state_enc, "updated_at": statement.excluded.updated_at},
    )
