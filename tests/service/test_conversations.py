"""Whole conversations through the running app (SQLite and PostgreSQL), in zh and en: what was said, and what the
answer must and must not do. ``converse`` runs a script turn by turn on one session."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.service.conftest import Service, new_session

MENU_PAYLOADS = ("/menu", "/browse_topics", "/capabilities")


@dataclass(frozen=True)
class Expect:
    """What one answer must contain (any of ``says``), must not contain, and which buttons it must or must not
    offer; ``menus=False`` forbids the menu buttons and article cards."""

    says: Sequence[str] = ()
    never: Sequence[str] = ()
    offers: Sequence[str] = ()
    menus: bool = True
    replies: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def text_of(body: dict[str, Any]) -> str:
    return "\n".join(r["text"] for r in body["replies"])


def payloads_of(body: dict[str, Any]) -> list[str]:
    return [b["payload"] for r in body["replies"] for b in r["buttons"]]


async def converse(service: Service, script: Sequence[tuple[str, Expect]]) -> list[dict[str, Any]]:
    """Say each line in turn on one new session and check its answer; the bodies, for further checks."""
    session_id = new_session()
    bodies = []
    for number, (said, expect) in enumerate(script, start=1):
        body = await service.say(session_id, said)
        text, offered = text_of(body), payloads_of(body)
        where = f"turn {number} ({said!r}) got: {text!r} {offered}"
        if expect.says:
            assert any(s in text for s in expect.says), where
        for word in expect.never:
            assert word not in text, where
        for payload in expect.offers:
            assert any(p.startswith(payload) for p in offered), where
        if not expect.menus:
            assert not any(p in MENU_PAYLOADS for p in offered), where
            assert "/articles/" not in text, where
        if expect.replies is not None:
            assert len(body["replies"]) == expect.replies, where
        bodies.append(body)
    return bodies


async def test_after_a_red_message_the_bot_stays_in_crisis_until_the_person_is_safe(service: Service) -> None:
    await converse(
        service,
        [
            ("药都准备好了，今晚就吃", Expect(says=["110"], menus=False)),
            ("好", Expect(says=["身边有人吗", "陪着你"], never=["接下来想做点什么"], menus=False)),
            ("没有人", Expect(says=["一个人"], menus=False)),
            ("我能去哪里", Expect(says=["派出所"], menus=False)),
            ("不要告诉别人好吗", Expect(says=["安全最重要"], menus=False)),
            ("我现在安全了", Expect(says=["松了一口气"], menus=False)),
            ("你好", Expect(never=["身边有人吗"])),
        ],
    )


async def test_crisis_in_english_answers_what_was_said(service: Service) -> None:
    await converse(
        service,
        [
            ("/lang_en", Expect()),
            ("i have the pills ready and i'm taking them tonight", Expect(says=["110"], menus=False)),
            ("where can i go", Expect(says=["police station"], menus=False)),
            ("please don't tell anyone", Expect(says=["safety matters most"], menus=False)),
            ("i'm safe now", Expect(says=["relieved"], menus=False)),
        ],
    )


async def test_a_worry_after_a_red_message_gets_the_crisis_check_in_not_a_yellow_template(service: Service) -> None:
    await converse(
        service,
        [
            ("我现在在楼顶，一个人", Expect(says=["110"], menus=False)),
            ("最近压力好大，睡不着", Expect(says=["陪着你"], never=["小练习", "压力也很大"], menus=False)),
        ],
    )


async def test_the_safety_plan_can_be_made_in_crisis(service: Service) -> None:
    await converse(
        service,
        [
            ("药都准备好了，今晚就吃", Expect(says=["110"])),
            ("/safety_plan", Expect(says=["第1步"])),
            ("一个人待着的时候", Expect(says=["第2步"])),
        ],
    )


async def test_questions_about_the_bot_get_real_answers(service: Service) -> None:
    await converse(
        service,
        [
            ("你会告诉我爸妈吗", Expect(says=["安全最重要"], never=["不太确定你的意思"])),
            ("你会讲笑话吗", Expect(says=["心桥"], never=["加密保存"])),
            ("能删掉我说的话吗", Expect(says=["删除"])),
            ("你是机器人吗", Expect(says=["机器人"])),
        ],
    )


async def test_an_offer_declined_is_taken_kindly_and_accepted_leads_somewhere(service: Service) -> None:
    await converse(
        service,
        [
            ("考试前一晚紧张得睡不着怎么办", Expect(offers=['/tool{"id": "zh-t-'], never=["结束自己的生命"])),
            ("不用了", Expect(says=["没关系"])),
        ],
    )
    await converse(
        service,
        [
            ("考试前一晚紧张得睡不着怎么办", Expect(offers=['/tool{"id": "zh-t-'])),
            ("要", Expect(says=["（1/"], offers=["/tool_next"])),
        ],
    )


async def test_english_worry_gets_an_exercise_in_english(service: Service) -> None:
    await converse(
        service,
        [
            ("/lang_en", Expect()),
            ("exams next week and i'm so stressed i can't sleep", Expect(offers=['/tool{"id": "en-t-'])),
            ("yes", Expect(says=["(1/"], offers=["/tool_next"])),
        ],
    )


async def test_an_unplaced_message_is_answered_from_the_library_in_words_that_pick_up_the_topic(
    service: Service,
) -> None:
    await converse(
        service,
        [
            ("孩子天天玩手机到半夜，说了也不听", Expect(says=["听起来你在想"], never=["不太确定你的意思"])),
        ],
    )


async def test_more_inside_a_sentence_is_not_the_read_on_button(service: Service) -> None:
    bodies = await converse(service, [("他还要更多，我不知道该怎么办了", Expect())])
    assert "第 1/" not in text_of(bodies[0])
    assert "这部分暂时没有更多内容" not in text_of(bodies[0])


async def test_in_crisis_every_safety_reply_lists_the_emergency_numbers(service: Service) -> None:
    await converse(
        service,
        [
            ("药都准备好了，今晚就吃", Expect(says=["110"])),
            ("我真的不想活了", Expect(says=["110"], menus=False)),
        ],
    )


async def test_sextortion_is_answered_plainly_and_asks_whether_they_are_safe(service: Service) -> None:
    await converse(
        service,
        [
            (
                "网友拿我的裸照威胁我，说不给钱就发到班级群",
                Expect(says=["人生也没有完"], menus=False),
            ),
        ],
    )
    bodies = await converse(service, [("有人拿我的裸照威胁我，不给钱就发出去", Expect())])
    assert "不是你的错" in text_of(bodies[0])
    assert "你现在安全吗" in text_of(bodies[0])


async def test_every_topic_is_reachable_from_the_menu(service: Service) -> None:
    bodies = await converse(
        service,
        [("/browse_topics", Expect(offers=["/browse_topics_more"])), ("/browse_topics_more", Expect())],
    )
    offered = " ".join(payloads_of(bodies[0]) + payloads_of(bodies[1]))
    for topic in ("grief", "left_behind", "self_harm", "career", "abuse"):
        assert f'"topic": "{topic}"' in offered


async def test_he_wants_more_after_sextortion_is_the_same_threat_going_on(service: Service) -> None:
    await converse(
        service,
        [
            ("网友拿我的裸照威胁我，说不给钱就发到班级群", Expect(says=["不是你的错"])),
            ("他还要更多", Expect(says=["不是你的错"], never=["第 1/", "没有更多内容"])),
        ],
    )


async def test_after_an_orange_message_a_plain_yes_is_met_with_presence_not_a_menu(service: Service) -> None:
    await converse(
        service,
        [
            ("我爸爸经常打我", Expect(says=["不是你的错"])),
            ("嗯", Expect(says=["陪着你"], never=["接下来想做点什么"], menus=False)),
        ],
    )


async def test_a_parent_reporting_is_spoken_to_as_a_parent_afterwards(service: Service) -> None:
    bodies = await converse(
        service,
        [
            ("我发现女儿手臂上有划痕", Expect(says=["TA"])),
            ("我该怎么跟她开口", Expect(says=["/articles/"])),
        ],
    )
    article = text_of(bodies[1]).split("/articles/", 1)[1].split()[0]
    library = service.runtime.dialogue.library
    assert "parent" in library.get(article).audience


async def test_a_primary_pupil_is_asked_to_call_with_a_grown_up(service: Service) -> None:
    await converse(
        service,
        [
            ('/set_grade{"grade": "三年级"}', Expect()),
            ("我想死", Expect(says=["请他们陪你一起打电话"])),
        ],
    )
    await converse(service, [("我想死", Expect(never=["请他们陪你一起打电话"]))])


async def test_in_crisis_the_check_in_says_how_long_they_have_waited(service: Service) -> None:
    session_id = new_session()
    await service.say(session_id, "药都准备好了，今晚就吃")
    service.clock.advance(minutes=12)
    body = await service.say(session_id, "好")
    assert "12分钟" in text_of(body)


async def test_a_veiled_goodbye_starts_crisis_mode(service: Service) -> None:
    await converse(
        service,
        [
            ("各位再見了，這些年謝謝大家", Expect(says=["110"], menus=False)),
            ("冇人會明白", Expect(says=["110"], never=["不太确定"], menus=False)),
        ],
    )


async def test_a_half_placed_sentence_never_changes_settings(service: Service) -> None:
    # NLU half-places this as "unsubscribe"; the person's reminders must stay as they were.
    await converse(service, [("他又发消息了 说只给我十分钟", Expect(never=["关掉提醒"]))])


async def test_a_parent_who_found_marks_is_answered_as_a_parent_and_helped_to_ask(service: Service) -> None:
    await converse(
        service,
        [
            ("今日見到個女手腕有傷，佢話唔小心整親，但我覺得唔係咁簡單", Expect(says=["TA"], never=["你现在有受伤吗"])),
            ("我應該點開口問佢", Expect(says=["/articles/"], never=["不太确定"])),
            ("好", Expect(says=["第 1/"])),
        ],
    )


async def test_a_no_to_the_thoughts_question_is_met_with_something_to_do(service: Service) -> None:
    await converse(
        service,
        [
            ("我觉得活着好累", Expect(says=["结束自己的生命"], never=["会怎么做"])),
            ("没有 就是累", Expect(says=["谢谢你认真回答我"], offers=["/tool"])),
            ("要", Expect(says=["（1/"])),
        ],
    )


async def test_a_worry_is_answered_on_what_was_named(service: Service) -> None:
    await converse(
        service,
        # A pupil comparing herself with 别人家孩子 gets a piece for her, not the parents' exercise.
        [("无语 我妈又拿我跟别人家孩子比", Expect(says=["/articles/"], never=["不太确定", "和孩子平静地谈一谈"]))],
    )


async def test_a_worry_half_placed_as_a_question_about_the_bot_is_answered_on_the_worry(service: Service) -> None:
    await converse(
        service,
        [
            ("我妈天天翻我手机 聊天记录都要看 一点隐私都没有", Expect(says=["亲子沟通"], never=["加密保存"])),
            ("聊天记录会被谁看到", Expect(says=["加密保存"])),  # the question itself still gets its answer
        ],
    )
