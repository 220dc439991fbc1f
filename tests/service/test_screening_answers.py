"""Answers to the bot's own screening questions, through the running app on SQLite and PostgreSQL: a yes raises
the case to what the question meant, a no lowers nothing, and the question is remembered across a restart."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bot.app import Content
from bot.store.models import Case, Message
from tests.service.conftest import Clock, Service, new_session, running_service

LOW = "最近心情一直很差，感觉没有希望了"
THOUGHTS = "有没有想过结束自己的生命"
METHOD = "有没有想过会怎么做"


async def case_levels(service: Service) -> list[str]:
    async with service.runtime.db.reading() as session:
        return list((await session.scalars(select(Case.level).order_by(Case.id))).all())


async def inbound_levels(service: Service) -> list[str | None]:
    async with service.runtime.db.reading() as session:
        query = select(Message.level).where(Message.direction == "in").order_by(Message.id)
        return list((await session.scalars(query)).all())


def text_of(body: dict[str, object]) -> str:
    replies = body["replies"]
    assert isinstance(replies, list)
    return "\n".join(reply["text"] for reply in replies)


async def test_a_yes_to_the_thoughts_question_raises_the_case_to_orange(service: Service) -> None:
    session_id = new_session()
    first = await service.say(session_id, LOW)
    assert THOUGHTS in text_of(first)
    assert await case_levels(service) == ["yellow"]
    answer = await service.say(session_id, "有")
    assert await case_levels(service) == ["orange"]
    # The next question follows the Columbia order, and the hotlines come with the orange reply.
    assert METHOD in text_of(answer)
    assert "12356" in text_of(answer)


async def test_a_yes_to_the_method_question_is_red(service: Service) -> None:
    session_id = new_session()
    await service.say(session_id, LOW)
    await service.say(session_id, "嗯")
    await service.say(session_id, "想过")
    assert await case_levels(service) == ["red"]


async def test_the_same_word_without_a_question_is_nothing(service: Service) -> None:
    session_id = new_session()
    await service.say(session_id, "你好")
    await service.say(session_id, "有")
    assert await inbound_levels(service) == ["none", "none"]
    assert await case_levels(service) == []


async def test_a_no_lowers_nothing_and_ends_the_questions(service: Service) -> None:
    session_id = new_session()
    await service.say(session_id, LOW)
    answer = await service.say(session_id, "没有")
    assert await inbound_levels(service) == ["yellow", "none"]
    assert await case_levels(service) == ["yellow"]
    assert THOUGHTS not in text_of(answer)
    # The question is answered: a later "有" about something else is not read as a yes to it.
    await service.say(session_id, "有")
    assert await case_levels(service) == ["yellow"]


async def test_english_yes(service: Service) -> None:
    session_id = new_session()
    await service.say(session_id, "/lang_en")
    first = await service.say(session_id, "I've been feeling really down and hopeless lately")
    assert "thoughts of ending your life" in text_of(first)
    await service.say(session_id, "yeah kind of")
    assert await case_levels(service) == ["orange"]


async def test_not_safe_after_are_you_safe_stays_red(service: Service) -> None:
    session_id = new_session()
    first = await service.say(session_id, "我不想活了，药都准备好了，今晚就吃")
    assert "你现在安全吗" in text_of(first)
    await service.say(session_id, "不安全")
    assert await inbound_levels(service) == ["red", "red"]
    assert await case_levels(service) == ["red"]


async def test_the_question_is_remembered_across_a_restart(
    database_url: str, tmp_path: Path, content: Content, clock: Clock
) -> None:
    session_id = new_session()
    async with running_service(database_url, tmp_path, content, clock) as first:
        assert THOUGHTS in text_of(await first.say(session_id, LOW))
    async with running_service(database_url, tmp_path, content, clock) as second:
        await second.say(session_id, "有")
        assert await case_levels(second) == ["orange"]


async def test_a_worry_gets_the_caring_reply_and_something_for_it(service: Service) -> None:
    body = await service.say(new_session(), "最近压力好大，晚上总是睡不着")
    assert len(body["replies"]) == 2
    offered = [button["payload"] for button in body["replies"][1]["buttons"]]
    # An exercise to do now where the library has one for the worry, else the article to read on.
    assert "/more" in offered or any(p.startswith('/tool{"id": "zh-t-') for p in offered)
    # At most two numbers with a worry, and no suicide question.
    assert body["replies"][0]["text"].count("·") <= 2
    assert THOUGHTS not in text_of(body)


async def test_a_worry_written_into_the_safety_plan_is_the_plans_answer(service: Service) -> None:
    session_id = new_session()
    await service.say(session_id, "/safety_plan")
    body = await service.say(session_id, "睡不着、不想说话的时候")
    # The form moves on to its next step instead of being interrupted by a reply to the worry.
    assert text_of(body).startswith("第2步")
