"""The risk path never waits or fails: malformed characters, failing parts, a locked database, the journal and
its replay, through the running app on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.app import Content, watchdog_once
from bot.channels.web import person_key
from bot.core.messages import InboundMessage, OutboundMessage
from bot.service.journal import ENTRIES, SET_ASIDE, Journal, JournalEntry
from bot.store.crypto import TextCipher
from bot.store.models import Case, Message
from tests.service.conftest import POSTGRES_URL, Clock, Service, new_session, next_frame, running_service

RED = "我不想活了，药都准备好了，今晚就吃"
FAST = {"XINQIAO_STORE_DEADLINE": "500ms"}


async def count(service: Service, model: type, *where: Any) -> int:
    async with service.runtime.db.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


@asynccontextmanager
async def locked(database_url: str) -> AsyncIterator[None]:
    """Another connection holds the database so that no message can be written: SQLite's write lock through an
    exclusive transaction, PostgreSQL's strongest lock on the messages table."""
    if database_url.startswith("sqlite"):
        path = make_url(database_url).database
        assert path is not None
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    pg = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
    transaction = pg.transaction()
    await transaction.start()
    await pg.execute("LOCK TABLE messages IN ACCESS EXCLUSIVE MODE")
    try:
        yield
    finally:
        await transaction.rollback()
        await pg.close()


async def drain_journal(service: Service, seconds: float = 10.0) -> None:
    """Replay until the journal is empty (store attempts given up at a deadline may still hold the database a
    moment after a lock ends)."""
    deadline = time.monotonic() + seconds
    while service.pipeline.unsaved:
        assert time.monotonic() < deadline, "the journal did not drain"
        await service.pipeline.replay_journal()
        await asyncio.sleep(0.1)


async def timed_say(service: Service, session_id: str, text: str, **extra: Any) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    body = await service.say(session_id, text, **extra)
    return time.monotonic() - started, body


async def test_a_red_message_with_a_lone_surrogate_gets_the_hotlines(service: Service) -> None:
    # Raw JSON: half a surrogate pair, as a broken client or an emoji cut in two sends it.
    raw = json.dumps({"session_id": new_session(), "text": "PLACEHOLDER"}).replace(
        "PLACEHOLDER", "我不想活了\\ud83d今晚就走\\u0000"
    )
    response = await service.client.post(
        "/api/v1/web/messages", data=raw.encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status == 200
    reply = (await response.json())["replies"][0]["text"]
    assert "12356" in reply
    assert "110" in reply
    assert await count(service, Message, Message.direction == "in") == 1
    assert await count(service, Case) == 1


async def test_a_lone_surrogate_over_the_websocket_gets_the_hotlines_and_the_socket_stays(service: Service) -> None:
    async with service.client.ws_connect("/api/v1/web/ws") as ws:
        await ws.send_json({"type": "hello", "session_id": new_session()})
        await next_frame(ws, 5)
        await next_frame(ws, 5)
        await ws.send_str('{"type": "message", "text": "我想自杀\\udc00药准备好了"}')
        reply = await next_frame(ws, 5)
        assert reply["type"] == "reply"
        assert "12356" in reply["text"]
        await ws.send_json({"type": "message", "text": "你好"})
        assert (await next_frame(ws, 5))["type"] == "reply"


class _FailingNlu:
    """An NLU backend that fails on every message, and remembers what it was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def understand(self, text: str) -> Any:
        self.asked.append(text)
        raise RuntimeError("NLU is broken")

    async def close(self) -> None:
        return None


async def test_triage_runs_before_nlu_and_a_broken_nlu_silences_nothing(service: Service) -> None:
    broken = _FailingNlu()
    service.runtime.nlu = broken
    red = await service.say(new_session(), RED)
    assert "12356" in red["replies"][0]["text"]
    # A risky message never reached NLU at all.
    assert broken.asked == []
    ordinary = await service.say(new_session(), "今天天气怎么样")
    assert ordinary["replies"]
    assert broken.asked == ["今天天气怎么样"]


class _FailingTriage:
    def assess(self, _text: str, **_options: Any) -> Any:
        raise RuntimeError("triage is broken")


async def test_a_message_triage_cannot_read_goes_to_a_counselor(service: Service) -> None:
    service.runtime.triage = _FailingTriage()  # type: ignore[assignment]
    body = await service.say(new_session(), "随便说点什么")
    assert body["replies"]
    async with service.runtime.db.reading() as session:
        case = await session.scalar(select(Case))
    assert case is not None
    assert case.level == "yellow"


async def test_a_failure_inside_the_dialogue_still_answers_with_a_way_to_help(service: Service) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("dialogue is broken")

    session_id = new_session()
    await service.say(session_id, "你好")
    service.runtime.dialogue.respond = broken  # type: ignore[method-assign]
    try:
        # An ordinary message goes to the dialogue on every path (the stored one and the one without the store).
        body = await service.say(session_id, "今天有点无聊")
        assert "110" in body["replies"][0]["text"]
        assert "12356" in body["replies"][0]["text"]
    finally:
        del service.runtime.dialogue.respond
    # It is kept, and stored by the replay.
    assert await service.pipeline.replay_journal() == 1
    assert await count(service, Message, Message.direction == "in") == 2


async def test_a_watchdog_part_that_fails_does_not_stop_the_other(service: Service) -> None:
    async def broken() -> int:
        raise OSError("connection refused")

    journal = service.runtime.journal
    await journal.append(
        JournalEntry(InboundMessage("web", "p-w", "w1", RED), service.clock(), (OutboundMessage("sent"),), True)
    )
    service.casework.sweep = broken
    await watchdog_once(service.app)
    assert journal.depth == 0
    assert await count(service, Case) == 1


async def test_red_messages_during_a_lock_are_answered_within_the_deadline(
    database_url: str, tmp_path: Path, content: Content, clock: Clock
) -> None:
    async with running_service(database_url, tmp_path, content, clock, **FAST) as service:
        await service.say(new_session(), "你好")  # the tables exist and the pool is warm
        async with locked(database_url):
            one_at_a_time = [await timed_say(service, new_session(), RED) for _ in range(3)]
            together = await asyncio.gather(*(timed_say(service, new_session(), RED) for _ in range(5)))
            started = time.monotonic()
            health = await service.client.get("/healthz")
            health_seconds = time.monotonic() - started
            assert health.status == 503
            assert (await health.json()) | {"database": "?"} == {
                "status": "degraded",
                "database": "?",
                "journal": 8,
                "set_aside": 0,
            }
        for seconds, body in [*one_at_a_time, *together]:
            assert "12356" in body["replies"][0]["text"]
            # The deadline plus a margin: neither a busy timeout nor a queue of earlier messages.
            assert seconds < 1.5
        assert health_seconds < 1.0
        await drain_journal(service)
        assert await count(service, Case, Case.level == "red") == 8
        assert service.pipeline.unsaved == 0
        healthy = await service.client.get("/healthz")
        assert healthy.status == 200
        assert (await healthy.json())["status"] == "ok"


async def test_an_ordinary_message_during_a_lock_is_answered_by_the_dialogue(
    database_url: str, tmp_path: Path, content: Content, clock: Clock
) -> None:
    async with running_service(database_url, tmp_path, content, clock, **FAST) as service:
        session_id = new_session()
        await service.say(session_id, "你好")
        async with locked(database_url):
            _seconds, body = await timed_say(service, session_id, "/hotlines")
            assert "110" in body["replies"][0]["text"]
        await drain_journal(service)
        assert await count(service, Message, Message.direction == "in") == 2


async def test_the_journal_survives_a_restart_during_an_outage(
    database_url: str, tmp_path: Path, content: Content, clock: Clock
) -> None:
    stack = AsyncExitStack()
    first = await stack.enter_async_context(running_service(database_url, tmp_path, content, clock, **FAST))
    await first.say(new_session(), "你好")
    async with locked(database_url):
        body = await first.say(new_session(), RED, message_id="before-restart")
        assert "12356" in body["replies"][0]["text"]
        assert first.pipeline.unsaved == 1
        await stack.aclose()
        # The first process is gone while the database is still locked: the message is on disk only.
        on_disk = (tmp_path / "data" / "journal" / ENTRIES).read_text()
        assert on_disk.startswith("+")
        assert RED not in on_disk
    # The next one stores what the first left, at start.
    async with running_service(database_url, tmp_path, content, clock, **FAST) as second:
        assert second.pipeline.unsaved == 0
        assert await count(second, Case, Case.level == "red") == 1
        assert await count(second, Message, Message.external_id == "before-restart") == 1
    assert (tmp_path / "data" / "journal" / ENTRIES).read_text() == ""


async def test_a_persons_older_journal_entry_is_stored_before_their_new_message(service: Service) -> None:
    session_id = new_session()
    entry = JournalEntry(
        InboundMessage("web", person_key(session_id), "older", "我真的不想活了"),
        service.clock(),
        (OutboundMessage("(the safety reply that went out)"),),
        delivered=True,
    )
    await service.runtime.journal.append(entry)
    await service.say(session_id, "药都准备好了", message_id="newer")
    async with service.runtime.db.reading() as session:
        rows = list(await session.scalars(select(Message.external_id).where(Message.direction == "in")))
    assert rows == ["older", "newer"]
    # The conversation says more than the new message alone: ideation, then the means at hand.
    async with service.runtime.db.reading() as session:
        case = await session.scalar(select(Case))
    assert case is not None
    assert case.level == "red"


async def test_an_entry_that_can_never_be_stored_is_set_aside_and_blocks_nothing(service: Service) -> None:
    journal = service.runtime.journal
    now = service.clock()
    reply = (OutboundMessage("sent"),)
    for external_id, person in (("a1", "person-a"), ("bad>1", "person-a"), ("a2", "person-a"), ("b1", "person-b")):
        # An id with the reply mark in it can never be stored (it would collide with reply ids).
        await journal.append(JournalEntry(InboundMessage("web", person, external_id, RED), now, reply, True))
    assert await service.pipeline.replay_journal() == 3
    assert journal.depth == 0
    assert journal.set_aside == 1
    set_aside = (service.runtime.settings.data_dir / "journal" / SET_ASIDE).read_text()
    assert set_aside.endswith(" ValueError\n")
    assert RED not in set_aside  # encrypted like the database
    metrics = await (await service.client.get("/metrics")).text()
    assert "xinqiao_journal_set_aside_total 1.0" in metrics


def test_an_entry_under_a_dropped_key_or_a_torn_record_is_not_replayed(tmp_path: Path) -> None:
    old, new = TextCipher([Fernet.generate_key()]), TextCipher([Fernet.generate_key()])
    folder = tmp_path / "journal"
    folder.mkdir()
    token = old.encrypt(
        JournalEntry(
            InboundMessage("web", "p", "m1", "hello"),
            Clock()(),
            (),
            delivered=True,
        ).to_json()
    ).decode()
    (folder / ENTRIES).write_text(f"+1 {token}\n+2 half-writ")
    journal = Journal(folder, new)
    journal.open()
    assert journal.depth == 0
    assert journal.set_aside == 1
    assert (folder / ENTRIES).read_text() == ""
    assert "InvalidToken" in (folder / SET_ASIDE).read_text()
    assert folder.stat().st_mode & 0o777 == 0o700


async def test_a_message_waiting_behind_the_same_persons_earlier_one_is_read_with_it(service: Service) -> None:
    session_id = new_session()
    async with locked(service_url(service)):
        # The first message waits on the database (holding the person's turn); the second arrives meanwhile.
        first = asyncio.ensure_future(service.say(session_id, "我真的不想活了", message_id="first"))
        await asyncio.sleep(0.2)
        second = asyncio.ensure_future(service.say(session_id, "今晚就吃", message_id="second"))
        await asyncio.sleep(0.2)
    orange, red = await first, await second
    assert "12356" in orange["replies"][0]["text"]
    # Alone "今晚就吃" is nothing; after "I really don't want to live" it is a time set.
    assert "110" in red["replies"][0]["text"]
    async with service.runtime.db.reading() as session:
        case = await session.scalar(select(Case))
    assert case is not None
    assert case.level == "red"


def service_url(service: Service) -> str:
    return str(service.runtime.db.engine.url.render_as_string(hide_password=False))


def test_rotating_keys_leaves_an_entry_no_key_opens_and_rotates_the_rest(tmp_path: Path) -> None:
    lost_key, old_key, new_key = Fernet.generate_key(), Fernet.generate_key(), Fernet.generate_key()
    lost, old, new = TextCipher([lost_key]), TextCipher([old_key]), TextCipher([new_key])
    folder = tmp_path / "journal"
    folder.mkdir()
    entry = JournalEntry(InboundMessage("web", "p", "m1", "hello"), Clock()(), (), delivered=True).to_json()
    (folder / ENTRIES).write_text(f"+1 {old.encrypt(entry).decode()}\n")
    (folder / SET_ASIDE).write_text(f"7 {lost.encrypt(entry).decode()} ValueError\n")
    assert Journal(folder, TextCipher([new_key, old_key])).rotate() == (1, 1)
    token = (folder / ENTRIES).read_text().split()[1]
    assert new.decrypt(token.encode()) == entry


async def test_a_returning_page_is_not_held_behind_its_welcome_when_the_store_is_slow(
    database_url: str, tmp_path: Path, content: Content, clock: Clock
) -> None:
    async with running_service(database_url, tmp_path, content, clock, **FAST) as service:
        session_id = new_session()
        await service.say(session_id, "你好")  # known: the welcome reads what waits for them
        async with locked(database_url), service.client.ws_connect("/api/v1/web/ws") as ws:
            await ws.send_json({"type": "hello", "session_id": session_id})
            started = time.monotonic()
            await ws.send_json({"type": "message", "text": RED, "message_id": "m1"})
            while True:
                frame = await next_frame(ws, 10)
                if frame.get("reply_to") == "m1":
                    break
            assert "12356" in frame["text"]
            assert time.monotonic() - started < 1.5  # the deadline (0.5 s) and a margin, not two


async def test_a_message_that_timed_out_is_not_overtaken_by_the_next_one(
    database_url: str, tmp_path: Path, content: Content, clock: Clock
) -> None:
    async with running_service(database_url, tmp_path, content, clock, **FAST) as service:
        session_id = new_session()
        await service.say(session_id, "你好", message_id="hello")
        async with locked(database_url):
            first = asyncio.ensure_future(service.say(session_id, "我真的不想活了", message_id="first"))
            await asyncio.sleep(0.2)
            # Waits for the person's turn while the first one runs into its deadline.
            second = asyncio.ensure_future(service.say(session_id, "今晚就吃", message_id="second"))
            await asyncio.sleep(0.45)
        orange, red = await first, await second
        assert "12356" in orange["replies"][0]["text"]
        assert "110" in red["replies"][0]["text"]
        await drain_journal(service)
        async with service.runtime.db.reading() as session:
            order = list(
                await session.scalars(select(Message.external_id).where(Message.direction == "in").order_by(Message.id))
            )
            levels = list(await session.scalars(select(Case.level)))
        assert order == ["hello", "first", "second"]
        assert levels == ["red"]


async def test_a_flood_is_slowed_but_a_message_in_danger_goes_through(service: Service) -> None:
    session_id = new_session()
    for number in range(20):
        await service.say(session_id, f"第{number}条")
    response = await service.client.post(
        "/api/v1/web/messages", json={"session_id": session_id, "text": "再一条普通的"}
    )
    assert response.status == 429
    red = await service.say(session_id, RED)
    assert "12356" in red["replies"][0]["text"]
    assert await count(service, Case, Case.level == "red") == 1


async def test_websocket_answers_end_with_done_even_when_a_counselor_holds_the_conversation(
    service: Service,
) -> None:
    session_id = new_session()
    await service.say(session_id, RED)
    admin = await service.staff("boss", "admin")
    case_id = (await service.api("GET", "/api/v1/cases", admin))[1]["cases"][0]["id"]
    await service.api("POST", f"/api/v1/cases/{case_id}/claim", admin)
    async with service.client.ws_connect("/api/v1/web/ws") as ws:
        await ws.send_json({"type": "hello", "session_id": session_id})
        await ws.send_json({"type": "message", "text": "谢谢老师", "message_id": "held-1"})
        frames = []
        while not frames or frames[-1].get("type") != "done":
            frames.append(await ws.receive_json(timeout=5))
    assert frames[-1] == {"type": "done", "reply_to": "held-1"}


async def test_an_entry_the_disk_refuses_stays_in_memory_and_is_stored(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = service.runtime.journal
    real_write = os.write
    calls = {"n": 0}

    def half_then_full(descriptor: int, data: Any) -> int:
        # The first write to the journal gets half its record down and then the disk is full.
        calls["n"] += 1
        if calls["n"] == 1:
            real_write(descriptor, bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(descriptor, data)

    monkeypatch.setattr(os, "write", half_then_full)
    sent = (OutboundMessage("sent"),)
    refused = await journal.append(JournalEntry(InboundMessage("web", "p-d", "d1", RED), service.clock(), sent, True))
    assert not journal.written(refused)
    # Cut back to where it was: no half record for the next one to run into.
    after_failure = (service.runtime.settings.data_dir / "journal" / ENTRIES).read_text()
    assert after_failure == "" or after_failure.endswith("\n")
    kept = await journal.append(JournalEntry(InboundMessage("web", "p-d", "d2", "你好"), service.clock(), sent, True))
    assert journal.written(kept)
    assert journal.written(refused)  # written again with the next write that worked
    monkeypatch.undo()
    # The file holds two whole records: a reader after a crash finds both.
    reread = Journal(service.runtime.settings.data_dir / "journal-copy", service.runtime.cipher)
    (service.runtime.settings.data_dir / "journal-copy").mkdir()
    text = (service.runtime.settings.data_dir / "journal" / ENTRIES).read_text()
    (service.runtime.settings.data_dir / "journal-copy" / ENTRIES).write_text(text)
    reread.open()
    assert reread.depth == 2
    await reread.close()
    assert await service.pipeline.replay_journal() == 2
    assert await count(service, Message, Message.direction == "in") == 2
