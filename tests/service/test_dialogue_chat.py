"""The dialogue through the web chat: questions answered from the library, articles in parts, profile,
subscriptions, the safety plan, and the clarifying menu instead of a guess."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.channels.web import person_key
from bot.store.models import SafetyPlan, User
from tests.service.conftest import Service, new_session

PLAN_ANSWERS = [
    "睡不着、不想说话的时候",
    "听歌、画画",
    "去操场、找表姐",
    "妈妈、班主任",
    "学校心理老师、12356",
    "把让我难受的东西交给妈妈",
]


def texts(body: dict[str, Any]) -> str:
    return "\n".join(r["text"] for r in body["replies"])


def payloads(body: dict[str, Any]) -> list[str]:
    return [b["payload"] for r in body["replies"] for b in r["buttons"]]


async def test_a_worry_gets_one_caring_line_and_an_exercise_to_do_now(service: Service) -> None:
    session_id = new_session()
    # A worry (yellow): the caring reply, then the exercise for it, offered; 好 starts it, step by step.
    body = await service.say(session_id, "考试前一晚紧张得睡不着怎么办")
    assert len(body["replies"]) == 2
    assert "你有没有想过结束自己的生命" not in texts(body)
    start = next(p for p in payloads(body) if p.startswith("/tool"))
    assert start.startswith('/tool{"id": "zh-t-')
    step = await service.say(session_id, "好")
    assert "/tool_next" in payloads(step)
    assert "（1/" in texts(step)
    for _ in range(10):
        step = await service.say(session_id, "/tool_next")
        if "/tool_next" not in payloads(step):
            break
    done = [p for p in payloads(step) if p.startswith("/tool_done")]
    assert len(done) == 3
    worse = await service.say(session_id, done[2])
    assert "/talk_to_counselor" in payloads(worse)


async def test_a_question_gets_a_summary_a_link_and_the_article_in_parts(service: Service) -> None:
    session_id = new_session()
    body = await service.say(session_id, "怎样帮孩子适应小学")
    link = next(line for line in texts(body).splitlines() if "/articles/" in line)
    article_id = link.rsplit("/articles/", 1)[1].strip()
    assert "/more" in payloads(body)
    page = await service.client.get(f"/articles/{article_id}")
    assert page.status == 200
    assert "12356" in await page.text()
    parts = []
    for _ in range(10):
        more = await service.say(session_id, "/more")
        parts.append(texts(more))
        if "/more" not in payloads(more):
            break
    assert len(parts) >= 2
    assert "**" not in "".join(parts)
    assert "/browse_topics" in payloads(more)


async def test_english_question_gets_an_english_article(service: Service) -> None:
    session_id = new_session()
    await service.say(session_id, "/lang_en")
    body = await service.say(session_id, "how can I calm down before an exam")
    assert "/articles/en-" in texts(body)


async def test_unknown_article_and_drafts_are_404(service: Service) -> None:
    assert (await service.client.get("/articles/zh-no-such-thing")).status == 404


async def test_role_buttons_set_the_profile(service: Service) -> None:
    session_id = new_session()
    await service.say(session_id, '/set_role{"role": "parent"}')
    await service.say(session_id, '/set_region{"city": "450100"}')
    async with service.runtime.db.reading() as session:
        user = await session.scalar(select(User))
    assert user is not None
    assert (user.role, user.region) == ("parent", "450100")


async def test_subscribe_and_unsubscribe(service: Service) -> None:
    session_id = new_session()
    await service.say(session_id, "/subscribe")
    async with service.runtime.db.reading() as session:
        assert (await session.scalar(select(User.subscribed))) is True
    await service.say(session_id, "/unsubscribe")
    async with service.runtime.db.reading() as session:
        assert (await session.scalar(select(User.subscribed))) is False


async def test_safety_plan_is_asked_in_order_saved_encrypted_and_shown_back(service: Service) -> None:
    session_id = new_session()
    start = await service.say(session_id, "/safety_plan")
    assert len(start["replies"]) >= 2
    for answer in PLAN_ANSWERS:
        body = await service.say(session_id, answer)
    assert "/affirm" in payloads(body) or "/deny" in payloads(body)
    await service.say(session_id, "/deny")
    async with service.runtime.db.reading() as session:
        plan = await session.scalar(select(SafetyPlan))
    assert plan is not None
    assert plan.shared is False
    assert "听歌".encode() not in plan.plan_enc
    shown = await service.say(session_id, "/show_plan")
    assert "听歌、画画" in texts(shown)
    assert "妈妈、班主任" in texts(shown)


async def test_shared_plan_is_visible_to_the_counselor(service: Service) -> None:
    session_id = new_session()
    await service.say(session_id, "/safety_plan")
    for answer in PLAN_ANSWERS:
        await service.say(session_id, answer)
    await service.say(session_id, "/affirm")
    await service.say(session_id, "/talk_to_counselor")
    admin = await service.staff("boss", "admin")
    case = (await service.api("GET", "/api/v1/cases", admin))[1]["cases"][0]
    view = (await service.api("GET", f"/api/v1/cases/{case['id']}", admin))[1]
    assert view["safety_plan"] is not None
    assert any("听歌" in answer for _slot, answer in view["safety_plan"])


async def test_leaving_the_plan_midway_with_the_menu(service: Service) -> None:
    session_id = new_session()
    await service.say(session_id, "/safety_plan")
    await service.say(session_id, "睡不着的时候")
    menu = await service.say(session_id, "/menu")
    assert "/hotlines" in payloads(menu)
    async with service.runtime.db.reading() as session:
        assert await session.scalar(select(SafetyPlan)) is None


async def test_an_unclear_message_gets_an_open_question_and_the_menu_only_after_two(service: Service) -> None:
    session_id = new_session()
    first = await service.say(session_id, "紫色长颈鹿打翻了月亮的咖啡")
    assert "能多说一点吗" in texts(first)
    assert "/articles/" not in texts(first)
    assert "不太确定你的意思" not in texts(first)
    second = await service.say(session_id, "蓝色的星期三在唱歌")
    assert "/hotlines" in payloads(second)
    assert "不太确定你的意思" in texts(second)


async def test_orange_distress_offers_a_safety_plan_and_plan_command_starts_it(service: Service) -> None:
    session_id = new_session()
    body = await service.say(session_id, "我最近一直想死")
    assert "/safety_plan" in payloads(body)
    started = await service.say(session_id, "/plan")
    assert len(started["replies"]) >= 2
    abuse = await service.say(new_session(), "我爸爸经常打我")
    assert "/safety_plan" not in payloads(abuse)


async def test_feedback_is_asked_for_and_thanked(service: Service) -> None:
    session_id = new_session()
    asked = await service.say(session_id, "/feedback")
    thanked = await service.say(session_id, "字太小了，希望可以调大一点")
    assert texts(thanked) != texts(asked)
    again = await service.say(session_id, "字太小了，希望可以调大一点", message_id="after-feedback")
    assert texts(again) != texts(thanked)


async def test_reading_position_survives_redelivery_and_a_cold_cache(service: Service) -> None:
    session_id = new_session()
    await service.say(session_id, "你好")
    await service.say(session_id, "怎么和孩子聊手机使用的问题", message_id="q1")
    first = await service.say(session_id, "/more")
    assert texts(first).startswith("第 1/")
    await service.say(session_id, "怎么和孩子聊手机使用的问题", message_id="q1")  # a re-delivery
    second = await service.say(session_id, "/more")
    assert texts(second).startswith("第 2/")
    service.runtime.people.forget(("web", person_key(session_id)))  # as after a restart
    third = await service.say(session_id, "/more")
    assert texts(third).startswith("第 3/") or "/browse_topics" in payloads(third)
