"""Data that can be written can be read: widths agree between the edges and the columns (enforced on
PostgreSQL), every encrypted column rotates with the keys, free text stays encrypted and out of event payloads."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import LargeBinary, select

from bot.app import Content
from bot.channels.embed_token import sign
from bot.core.messages import GRADE_MAX, SCHOOL_MAX
from bot.store.models import Base, Case, DialogueStateRow, EncryptedBytes, SafetyPlan, User
from tests.e2e.test_cli import ROOT
from tests.service.conftest import Clock, Service, new_session, running_service
from tests.service.test_dialogue_chat import PLAN_ANSWERS

RED = "我不想活了，药都准备好了，今晚就吃"


def test_every_profile_column_is_as_wide_as_the_edges_allow() -> None:
    columns = User.__table__.c
    assert columns.grade.type.length == GRADE_MAX
    assert columns.school.type.length == SCHOOL_MAX
    assert Case.__table__.c.school.type.length == SCHOOL_MAX


def test_every_binary_column_is_an_encrypted_one() -> None:
    # A plain LargeBinary column would be missed by key rotation; there is no reason for one.
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, LargeBinary):
                raise AssertionError(f"{table.name}.{column.name} is LargeBinary, not EncryptedBytes")
            if column.name.endswith("_enc"):
                assert isinstance(column.type, EncryptedBytes), f"{table.name}.{column.name}"


async def test_the_widest_grade_a_school_may_sign_is_stored_and_a_wider_one_refused(service: Service) -> None:
    widest = "Senior 2 (Class 3), IB stream A"[:GRADE_MAX].ljust(GRADE_MAX, "x")
    context = sign({"grade": widest, "school": "s" * SCHOOL_MAX, "exp": time.time() + 600}, "school-site-secret")
    body = await service.say(new_session(), RED, context=context)
    assert "12356" in body["replies"][0]["text"]
    assert service.pipeline.unsaved == 0  # stored, not left in the journal
    async with service.runtime.db.reading() as session:
        user = await session.scalar(select(User))
    assert user is not None
    assert (user.grade, user.school) == (widest, "s" * SCHOOL_MAX)
    too_wide = sign({"grade": widest + "x", "exp": time.time() + 600}, "school-site-secret")
    response = await service.client.post(
        "/api/v1/web/messages", json={"session_id": new_session(), "text": "你好", "context": too_wide}
    )
    assert response.status == 422
    assert (await response.json())["fields"] == ["context"]


async def test_the_outcome_is_encrypted_kept_out_of_events_and_erased_with_the_person(service: Service) -> None:
    admin = await service.staff("boss", "admin")
    await service.say(new_session(), RED)
    case_id = (await service.api("GET", "/api/v1/cases", admin))[1]["cases"][0]["id"]
    async with service.client.get("/api/v1/events", headers={"Authorization": f"Bearer {admin}"}) as stream:
        await stream.content.readline()
        status, _ = await service.api("POST", f"/api/v1/cases/{case_id}/resolve", admin, {"outcome": "王老师接走了"})
        assert status == 200
        event = b""
        while b"case.closed" not in event:
            event += await asyncio.wait_for(stream.content.readline(), 5)
        event += await asyncio.wait_for(stream.content.readline(), 5)
    assert "王老师".encode() not in event
    assert "outcome" not in json.loads(event.split(b"data: ", 1)[1])["case"]
    async with service.runtime.db.reading() as session:
        stored = await session.scalar(select(Case.outcome_enc))
    assert stored is not None
    assert "王老师".encode() not in stored
    view = (await service.api("GET", f"/api/v1/cases/{case_id}", admin))[1]
    assert view["outcome"] == "王老师接走了"
    person = view["person"]["id"]
    assert (await service.api("DELETE", f"/api/v1/people/{person}", admin))[0] == 200
    async with service.runtime.db.reading() as session:
        assert await session.scalar(select(Case.outcome_enc)) is None


def rotate(env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "db", "rotate-keys"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        timeout=60,
        check=False,
    )


async def test_after_rotation_the_old_key_can_be_dropped(
    database_url: str, tmp_path: Path, content: Content, clock: Clock
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    session_id = new_session()
    async with running_service(database_url, tmp_path, content, clock, XINQIAO_DATA_KEYS=old) as before:
        admin = await before.staff("boss", "admin")
        await before.say(session_id, "/safety_plan")
        for answer in PLAN_ANSWERS:
            await before.say(session_id, answer)
        await before.say(session_id, "/affirm")
        await before.say(session_id, "/safety_plan")  # a form half filled: a dialogue state in the store
        await before.say(session_id, RED)
        case_id = (await before.api("GET", "/api/v1/cases", admin))[1]["cases"][0]["id"]
        await before.api("POST", f"/api/v1/cases/{case_id}/note", admin, {"text": "家长已联系"})
        async with before.runtime.db.reading() as session:
            assert await session.scalar(select(DialogueStateRow)) is not None
            assert await session.scalar(select(SafetyPlan)) is not None
    env = {"DATABASE_URL": database_url, "XINQIAO_DATA_DIR": str(tmp_path / "data")}
    rotated = rotate(env | {"XINQIAO_DATA_KEYS": f"{new},{old}"})
    assert rotated.returncode == 0, rotated.stderr
    out = rotated.stdout.decode()
    for table in ("messages", "case_events", "dialogue_states", "safety_plans"):
        assert f"{table} " in out
    # The old key is gone: everything still reads.
    async with running_service(database_url, tmp_path, content, clock, XINQIAO_DATA_KEYS=new) as after:
        reply = await after.say(session_id, "听歌")
        assert reply["replies"]
        status, view = await after.api("GET", f"/api/v1/cases/{case_id}", admin)
        assert status == 200
        assert view["safety_plan"] is not None
        assert any(e["detail"] == "家长已联系" for e in view["events"])
