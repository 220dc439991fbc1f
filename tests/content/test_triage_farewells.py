"""Veiled goodbyes, vague acts, waiting until nobody sees, marks a parent finds, and questions of meaning, read by
the real lexicon (content/risk/*/farewells.yml and the rules that compose them)."""

from __future__ import annotations

import pytest

from bot.core.safety_replies import next_screening_step
from bot.core.triage import TriageEngine
from bot.core.triage.assessment import Level


@pytest.mark.parametrize(
    "text",
    [
        "各位再見了，這些年謝謝大家",
        "goodbye. thank you for trying",
        "我刚刚已经做了 现在有点害怕",
        "i already did something to myself and i feel really weird now",
        "东西都准备好了 等他们睡着就动手",
        "i wrote letters for everyone. im done after this weekend",
        "gave most of my stuff away today. wont need it anymore",
        "i cant do this anymore. tonight is it",
        "我今晚就要结束了 已经准备好了",
        "cutting rn and i cant stop",
        "我頂唔順喇，啲藥我已經食晒，好攰",  # Cantonese: the medicine is all taken
        "already did it. feel weird and floaty. just wanted someone to know",
        "my stepdad is coming into my room again right now i dont know what to do",
        "别担心，过了今晚我就不会再是大家的负担了",
        "i wont be a problem after tonight",
    ],
)
def test_veiled_goodbyes_and_acts_are_red(engine: TriageEngine, text: str) -> None:
    assert engine.assess(text).level is Level.RED


@pytest.mark.parametrize(
    "text",
    [
        "好的谢谢你 再见",  # the end of an ordinary chat
        "作业已经做了",  # a vague "done" with nothing around it
        "我打篮球摔了一跤，胳膊上有伤口",  # marks explained by a fall
        "how do I talk to my daughter about the marks on her arm",  # a question, not a disclosure
        "奶奶上个月走了，孩子晚上问我人死了去哪里",  # grief, not a farewell
        "笑到我想死 你睇下我哋班主任今日個髮型",  # X到想死 is a manner of speaking
        "im cutting the cake now",
        "我今天最后一条消息啦 去写作业了 拜拜",  # logging off for the day
        "this is our secret ok? dont tell my mom i got a B",
        "我想消失一会儿 去图书馆",
        "i have to take my meds tonight",
    ],
)
def test_ordinary_lookalikes_stay_below_orange(engine: TriageEngine, text: str) -> None:
    assert engine.assess(text).level.rank < Level.ORANGE.rank


def test_marks_on_a_childs_arm_are_orange_and_said_by_a_parent(engine: TriageEngine) -> None:
    assessment = engine.assess("今日見到個女手腕有傷，佢話唔小心整親，但我覺得唔係咁簡單")
    assert assessment.level is Level.ORANGE
    assert {"self_harm", "third_party"} <= set(assessment.categories)
    assert assessment.reporter == "parent"


def test_asking_what_living_is_for_is_yellow_with_the_thoughts_question(engine: TriageEngine) -> None:
    assessment = engine.assess("人活着到底为了啥 天天上学考试 没意思")
    assert assessment.level is Level.YELLOW
    assert next_screening_step(assessment) == "thoughts"


def test_a_wish_to_be_dead_is_asked_about_thoughts_before_the_method(engine: TriageEngine) -> None:
    passive = engine.assess("我觉得活着好累")
    assert passive.level is Level.ORANGE
    assert passive.passive_only
    assert next_screening_step(passive) == "thoughts"
    direct = engine.assess("我想自杀")
    assert not direct.passive_only
    assert next_screening_step(direct) == "method"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("这周我只喝水，我不配吃东西", "self_harm"),  # not eating as a punishment
        ("my dad said if i tell anyone what he does to me he'll kill me", "abuse"),
        ("this man in a game keeps asking where i live and told me to delete our chats", "sexual_abuse"),
        ("老師，我們班有個同學手上都是傷，她說是自己弄的", "self_harm"),
    ],
)
def test_harm_said_without_naming_it_is_at_least_orange(engine: TriageEngine, text: str, category: str) -> None:
    assessment = engine.assess(text)
    assert assessment.level.rank >= Level.ORANGE.rank
    assert category in assessment.categories
