"""The web chat through HTTP and WebSocket against the running app."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import func, select, text

from bot.channels.embed_token import sign
from bot.store.models import Case, Message, User
from tests.service.conftest import Service, new_session, next_frame

RED = "我不想活了，药都准备好了，今晚就吃"


async def count(service: Service, model: type) -> int:
    async with service.runtime.db.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_red_message_gets_hotlines_and_opens_a_case(service: Service) -> None:
    body = await service.say(new_session(), RED, lang="zh")
    reply = body["replies"][0]["text"]
    assert "12356" in reply
    assert "110" in reply
    assert "安全" in reply
    assert await count(service, Case) == 1


async def test_greeting_and_menu_buttons(service: Service) -> None:
    body = await service.say(new_session(), "你好")
    payloads = [b["payload"] for b in body["replies"][0]["buttons"]]
    assert "/hotlines" in payloads
    assert "/talk_to_counselor" in payloads


async def test_language_switch_answers_in_english_from_then_on(service: Service) -> None:
    session_id = new_session()
    switched = await service.say(session_id, "/lang_en", lang="zh")
    assert "English" in switched["replies"][0]["text"]
    # The response tells the page the person's language, and the page follows it.
    assert switched["lang"] == "en"
    later = await service.say(session_id, "/hotlines")
    assert "110" in later["replies"][0]["text"]
    assert "热线" not in later["replies"][0]["text"]


async def test_the_pages_language_is_honoured_after_the_first_message(service: Service) -> None:
    session_id = new_session()
    first = await service.say(session_id, "/hotlines", lang="zh")
    assert "热线" in first["replies"][0]["text"]
    changed = await service.say(session_id, "/hotlines", lang="en")
    assert changed["lang"] == "en"
    assert "热线" not in changed["replies"][0]["text"]
    again = await service.say(session_id, RED, lang="zh")
    assert again["lang"] == "zh"
    assert "12356" in again["replies"][0]["text"]
    assert "安全" in again["replies"][0]["text"]


async def test_unclear_message_gets_the_menu_not_a_guess(service: Service) -> None:
    body = await service.say(new_session(), "紫色的长颈鹿会飞吗")
    assert body["replies"][0]["buttons"]


async def test_duplicate_delivery_makes_one_message(service: Service) -> None:
    session_id = new_session()
    first = await service.say(session_id, RED, message_id="m-1")
    again = await service.say(session_id, RED, message_id="m-1")
    assert again["replies"] == first["replies"]
    assert await count(service, Case) == 1
    async with service.runtime.db.reading() as session:
        inbound = await session.scalar(select(func.count()).select_from(Message).where(Message.direction == "in"))
    assert inbound == 1


async def test_a_failure_after_the_commit_still_answers_and_stores_once(service: Service) -> None:
    crashed = []

    def crash_once(_outcome: object) -> None:
        if not crashed:
            crashed.append(True)
            raise RuntimeError("simulated failure between commit and reply")

    service.pipeline.after_commit = crash_once
    session_id = new_session()
    first = await service.say(session_id, RED, message_id="m-7")
    assert "12356" in first["replies"][0]["text"]
    # The journal holds it too; replaying finds it stored already and lets it go.
    assert service.pipeline.unsaved == 1
    await service.pipeline.replay_journal()
    assert service.pipeline.unsaved == 0
    retried = await service.say(session_id, RED, message_id="m-7")
    assert "12356" in retried["replies"][0]["text"]
    assert await count(service, Case) == 1
    assert await count(service, Message) == 2


async def test_safety_reply_goes_out_when_the_store_fails(service: Service) -> None:
    async with service.runtime.db.transaction() as session:
        await session.execute(text("ALTER TABLE messages RENAME TO messages_away"))
    body = await service.say(new_session(), RED, message_id="lost-1")
    assert "12356" in body["replies"][0]["text"]
    assert service.pipeline.unsaved == 1
    health = await service.client.get("/healthz")
    assert health.status == 503
    assert (await health.json())["journal"] == 1
    async with service.runtime.db.transaction() as session:
        await session.execute(text("ALTER TABLE messages_away RENAME TO messages"))
    assert await service.pipeline.replay_journal() == 1
    assert service.pipeline.unsaved == 0
    assert await count(service, Case) == 1


async def test_text_is_encrypted_at_rest(service: Service) -> None:
    await service.say(new_session(), RED)
    async with service.runtime.db.reading() as session:
        tokens = list(await session.scalars(select(Message.text_enc)))
    assert tokens
    assert all("药".encode() not in token for token in tokens)


async def test_signed_context_sets_school_and_region(service: Service) -> None:
    token = sign(
        {"region": "450102", "role": "parent", "school": "nn-001", "exp": time.time() + 600}, "school-site-secret"
    )
    await service.say(new_session(), RED, context=token)
    async with service.runtime.db.reading() as session:
        user = await session.scalar(select(User))
        case = await session.scalar(select(Case))
    assert user is not None
    assert (user.school, user.region, user.role) == ("nn-001", "450102", "parent")
    assert case is not None
    assert (case.tier, case.school, case.district) == ("school", "nn-001", "450102")


async def test_local_hotlines_follow_the_region(service: Service) -> None:
    body = await service.say(new_session(), RED, region="450100")
    assert "0771" in body["replies"][0]["text"]


async def post_raw(service: Service, data: bytes) -> tuple[int, dict[str, object], dict[str, str]]:
    response = await service.client.post(
        "/api/v1/web/messages", data=data, headers={"Content-Type": "application/json"}
    )
    return response.status, await response.json(), dict(response.headers)


async def test_invalid_json_is_400(service: Service) -> None:
    status, body, _ = await post_raw(service, b"{not json")
    assert status == 400
    assert "JSON" in str(body["error"])


async def test_missing_and_unknown_fields_are_422_naming_them(service: Service) -> None:
    status, body, _ = await post_raw(service, b'{"session_id": "abcdefghijklmnopq", "txt": "hi"}')
    assert status == 422
    assert body["fields"] == ["text", "txt"]


async def test_short_session_id_is_422(service: Service) -> None:
    status, body, _ = await post_raw(service, b'{"session_id": "short", "text": "hi"}')
    assert status == 422
    assert body["fields"] == ["session_id"]


async def test_overlong_text_is_413_and_stores_nothing(service: Service) -> None:
    status, body, _ = await post_raw(
        service, ('{"session_id": "abcdefghijklmnopq", "text": "' + "好" * 4097 + '"}').encode()
    )
    assert status == 413
    assert body["fields"] == ["text"]
    assert await count(service, Message) == 0


async def test_text_of_exactly_4096_characters_is_accepted(service: Service) -> None:
    body = await service.say(new_session(), "好" * 4096)
    assert body["replies"]


async def test_too_many_messages_get_429_with_retry_after(service: Service) -> None:
    session_id = new_session()
    for number in range(20):
        await service.say(session_id, f"第{number}条")
    status, body, headers = await post_raw(service, f'{{"session_id": "{session_id}", "text": "再一条"}}'.encode())
    assert status == 429
    assert int(headers["Retry-After"]) >= 1
    assert "110" in str(body["replies"])
    # Another person is not slowed down.
    assert (await service.say(new_session(), "你好"))["replies"]


async def test_websocket_hello_greeting_and_reply(service: Service) -> None:
    async with service.client.ws_connect("/api/v1/web/ws") as ws:
        await ws.send_json({"type": "hello", "session_id": new_session(), "lang": "zh"})
        assert (await next_frame(ws, 5))["type"] == "ready"
        greeting = await next_frame(ws, 5)
        assert greeting["type"] == "reply"
        assert greeting["buttons"]
        await ws.send_json({"type": "message", "text": RED, "message_id": "w1"})
        reply = await next_frame(ws, 5)
        assert "12356" in reply["text"]


async def test_websocket_rejects_a_bad_hello(service: Service) -> None:
    async with service.client.ws_connect("/api/v1/web/ws") as ws:
        await ws.send_json({"type": "hello", "session_id": "short"})
        error = await next_frame(ws, 5)
        assert error["type"] == "error"
        assert error["fields"] == ["session_id"]


async def test_websocket_bad_frame_gets_an_error_and_the_socket_stays(service: Service) -> None:
    async with service.client.ws_connect("/api/v1/web/ws") as ws:
        await ws.send_json({"type": "hello", "session_id": new_session()})
        await next_frame(ws, 5)
        await next_frame(ws, 5)
        await ws.send_str("not json")
        assert (await next_frame(ws, 5))["status"] == 400
        await ws.send_json({"type": "message", "text": "x" * 5000})
        assert (await next_frame(ws, 5))["status"] == 413
        await ws.send_json({"type": "message", "text": "你好"})
        assert (await next_frame(ws, 5))["type"] == "reply"


async def test_chat_page_and_hotline_page_are_served(service: Service) -> None:
    page = await service.client.get("/")
    assert page.status == 200
    assert "/static/chat.js" in await page.text()
    script = await service.client.get("/static/chat.js")
    assert script.status == 200
    hotlines = await service.client.get("/hotlines?region=450100&lang=zh")
    assert "0771-2628005" in await hotlines.text()
    bad = await service.client.get("/api/v1/hotlines?region=nowhere")
    assert bad.status == 422


async def test_many_people_at_once_are_all_stored_once(service: Service) -> None:
    sessions = [new_session() for _ in range(20)]
    for session_id in sessions:
        await service.say(session_id, "你好")  # known people take the group-commit path from now on

    async def talk(session_id: str) -> None:
        for number in range(5):
            await service.say(session_id, f"今天第{number}节课", message_id=f"{session_id[:8]}-{number}")

    await asyncio.gather(*(talk(s) for s in sessions))
    async with service.runtime.db.reading() as session:
        inbound = await session.scalar(select(func.count()).select_from(Message).where(Message.direction == "in"))
        replies = await session.scalar(select(func.count()).select_from(Message).where(Message.direction == "out"))
    assert inbound == 20 + 100
    assert replies == 20 + 100


async def test_duplicate_of_an_ordinary_message_returns_the_first_replies(service: Service) -> None:
    session_id = new_session()
    await service.say(session_id, "你好")
    first = await service.say(session_id, "菜单", message_id="menu-1")
    again = await service.say(session_id, "菜单", message_id="menu-1")
    assert again == first
    async with service.runtime.db.reading() as session:
        inbound = await session.scalar(select(func.count()).select_from(Message).where(Message.direction == "in"))
    assert inbound == 2


async def test_history_in_the_conversation_raises_a_later_message(service: Service) -> None:
    session_id = new_session()
    await service.say(session_id, "我真的不想活了")
    await service.say(session_id, "你好")
    later = await service.say(session_id, "药都准备好了")
    assert "110" in later["replies"][0]["text"]
    admin = await service.staff("boss", "admin")
    cases = (await service.api("GET", "/api/v1/cases", admin))[1]["cases"]
    assert [c["level"] for c in cases] == ["red"]


async def test_ordinary_message_during_an_outage_is_answered_and_kept(service: Service) -> None:
    session_id = new_session()
    await service.say(session_id, "你好")
    async with service.runtime.db.transaction() as session:
        await session.execute(text("ALTER TABLE messages RENAME TO messages_away"))
    body = await service.say(session_id, "菜单", message_id="during-outage")
    assert body["replies"][0]["buttons"]
    assert service.pipeline.unsaved == 1
    async with service.runtime.db.transaction() as session:
        await session.execute(text("ALTER TABLE messages_away RENAME TO messages"))
    assert await service.pipeline.replay_journal() == 1
    again = await service.say(session_id, "菜单", message_id="during-outage")
    assert again["replies"][0]["buttons"]
    async with service.runtime.db.reading() as session:
        inbound = await session.scalar(select(func.count()).select_from(Message).where(Message.direction == "in"))
    assert inbound == 2
