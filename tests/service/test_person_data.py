"""Per person export and erasure through the admin API (DESIGN.md §6), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.channels.web import person_key
from bot.core.messages import InboundMessage, OutboundMessage
from bot.service.journal import JournalEntry
from bot.store.models import AuditEntry, Case, Message, SafetyPlan
from tests.service.conftest import Service, new_session

RED = "我不想活了，药都准备好了，今晚就吃"


async def person_with_a_case(service: Service) -> tuple[str, int, int, str]:
    session_id = new_session()
    await service.say(session_id, RED)
    await service.say(session_id, "/safety_plan")
    for answer in ["睡不着", "听歌", "操场", "妈妈", "心理老师", "交给妈妈"]:
        await service.say(session_id, answer)
    admin = await service.staff("boss", "admin")
    case = (await service.api("GET", "/api/v1/cases", admin))[1]["cases"][0]
    person_id = (await service.api("GET", f"/api/v1/cases/{case['id']}", admin))[1]["person"]["id"]
    return session_id, person_id, case["id"], admin


async def test_admin_exports_everything_about_a_person(service: Service) -> None:
    _session, person_id, _case, admin = await person_with_a_case(service)
    status, data = await service.api("GET", f"/api/v1/people/{person_id}/export", admin)
    assert status == 200
    assert any(m["text"] == RED for m in data["messages"])
    assert [c["level"] for c in data["cases"]] == ["red"]
    assert ["plan_coping", "听歌"] in data["safety_plan"]


async def test_erasure_removes_words_and_identity_and_keeps_an_anonymous_case(service: Service) -> None:
    session_id, person_id, case_id, admin = await person_with_a_case(service)
    status, body = await service.api("DELETE", f"/api/v1/people/{person_id}", admin)
    assert (status, body) == (200, {"erased": person_id, "journal_entries": 0})
    async with service.runtime.db.reading() as session:
        messages = await session.scalar(select(func.count()).select_from(Message).where(Message.user_id == person_id))
        plans = await session.scalar(select(func.count()).select_from(SafetyPlan))
        case = await session.get(Case, case_id)
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert (messages, plans) == (0, 0)
    assert case is not None
    assert (case.level, case.trigger_message_id) == ("red", None)
    assert "person.erase" in actions
    exported = (await service.api("GET", f"/api/v1/people/{person_id}/export", admin))[1]
    assert exported["messages"] == []
    # The same browser session now starts afresh, as a new person.
    again = await service.say(session_id, "你好")
    assert again["replies"]
    view = (await service.api("GET", f"/api/v1/cases/{case_id}", admin))[1]
    assert view["messages"] == []


async def test_only_admins_and_only_known_people(service: Service) -> None:
    _session, person_id, _case, admin = await person_with_a_case(service)
    counselor = await service.staff("li")
    assert (await service.api("GET", f"/api/v1/people/{person_id}/export", counselor))[0] == 403
    assert (await service.api("DELETE", f"/api/v1/people/{person_id}", counselor))[0] == 403
    assert (await service.api("DELETE", "/api/v1/people/999999", admin))[0] == 404
    assert (await service.api("GET", "/api/v1/people/abc/export", admin))[0] == 404


async def test_erasure_takes_the_persons_journal_entries_too(service: Service) -> None:
    session_id, person_id, _case, admin = await person_with_a_case(service)
    journal = service.runtime.journal
    mine, other = person_key(session_id), person_key(new_session())
    sent = (OutboundMessage("(sent)"),)
    await journal.append(
        JournalEntry(InboundMessage("web", mine, "late-1", "我还在想那件事"), service.clock(), sent, True)
    )
    doomed = await journal.append(JournalEntry(InboundMessage("web", mine, "x", "秘密"), service.clock(), sent, True))
    await journal.put_aside(doomed, "ValueError")
    await journal.append(JournalEntry(InboundMessage("web", other, "o-1", "你好"), service.clock(), sent, True))
    status, body = await service.api("DELETE", f"/api/v1/people/{person_id}", admin)
    assert (status, body) == (200, {"erased": person_id, "journal_entries": 2})
    assert journal.depth == 1
    set_aside = service.runtime.settings.data_dir / "journal" / "set-aside.log"
    assert set_aside.read_text() == ""
    # Replaying brings back only the other person; the erased one is not recreated from the journal.
    assert await service.pipeline.replay_journal() == 1
    async with service.runtime.db.reading() as session:
        ids = set(await session.scalars(select(Message.external_id).where(Message.direction == "in")))
    assert "late-1" not in ids
    assert "o-1" in ids


async def test_an_erasure_waits_for_a_replay_of_the_person_and_then_takes_what_it_stored(service: Service) -> None:
    session_id, person_id, _case, admin = await person_with_a_case(service)
    journal, pipeline = service.runtime.journal, service.pipeline
    mine = person_key(session_id)
    sent = (OutboundMessage("(sent)"),)
    for number in (1, 2):
        entry = JournalEntry(
            InboundMessage("web", mine, f"late-{number}", f"秘密{number}"), service.clock(), sent, True
        )
        await journal.append(entry)
    gate = asyncio.Event()
    replay_one = pipeline._replay

    async def slow_replay(entry: JournalEntry) -> None:
        await gate.wait()  # the replay is half way when the erasure comes
        await replay_one(entry)

    pipeline._replay = slow_replay
    replaying = asyncio.ensure_future(pipeline.replay_journal())
    await asyncio.sleep(0.05)
    erasing = asyncio.ensure_future(service.api("DELETE", f"/api/v1/people/{person_id}", admin))
    await asyncio.sleep(0.05)
    gate.set()
    await replaying
    status, _body = await erasing
    assert status == 200
    async with service.runtime.db.reading() as session:
        ids = set(await session.scalars(select(Message.external_id).where(Message.user_id == person_id)))
    assert ids == set()
    assert journal.depth == 0
