"""Safety replies: which text an assessment gets, the hotlines filled in, and the screener's order."""

from __future__ import annotations

import copy

import pytest

from bot.core.content_error import ContentError
from bot.core.hotlines import parse_hotlines
from bot.core.safety_replies import format_hotlines, next_screening_step, parse_safety_replies, screening_after
from bot.core.triage import Assessment, Level


def both(text):
    return {"zh": text, "en": text}


DOC = {
    "replies": [
        {"key": "red.default", **both("RED {hotlines}")},
        {"key": "red.third_party", **both("RED-3P {hotlines}")},
        {"key": "orange.default", **both("ORANGE {hotlines}")},
        {"key": "orange.abuse", **both("ABUSE {hotlines}")},
        {"key": "yellow.default", **both("YELLOW")},
    ],
    "screening": [{"step": s, **both(f"Q-{s}")} for s in ("thoughts", "method", "intent", "plan", "behaviour")],
}
TEXTS = {"zh": "热线", "en": "line"}
DIRECTORY = parse_hotlines(
    "h.yml",
    {
        "hotlines": [
            {
                "id": "n",
                "number": "12356",
                "region": "CN",
                "kind": "crisis",
                "name": TEXTS,
                "answered_by": TEXTS,
                "hours": TEXTS,
            },
            {
                "id": "p",
                "number": "110",
                "region": "CN",
                "kind": "emergency",
                "name": TEXTS,
                "answered_by": TEXTS,
                "hours": TEXTS,
            },
        ]
    },
)


@pytest.fixture
def replies():
    return parse_safety_replies("r.yml", DOC)


def test_level_none_gets_no_safety_reply(replies):
    assert replies.compose(Assessment(Level.NONE), "zh", DIRECTORY, "CN") is None


def test_red_gets_emergency_numbers_and_no_screening_question(replies):
    text = replies.compose(Assessment(Level.RED, ("suicide",)), "zh", DIRECTORY, "CN")
    assert text.startswith("RED")
    assert "12356" in text
    assert "110" in text
    assert "Q-" not in text


def test_orange_does_not_list_emergency_numbers_but_asks_about_method(replies):
    text = replies.compose(Assessment(Level.ORANGE, ("suicide",)), "en", DIRECTORY, "CN")
    assert "12356" in text
    assert "110" not in text
    assert text.endswith("Q-method")


def test_the_most_urgent_category_with_its_own_text_is_chosen(replies):
    assert replies.key_for(Assessment(Level.ORANGE, ("suicide", "abuse"))) == "orange.abuse"


def test_third_party_guidance_wins_over_the_category(replies):
    assert replies.key_for(Assessment(Level.RED, ("suicide", "third_party"))) == "red.third_party"


def test_screening_skips_what_was_already_asked():
    orange = Assessment(Level.ORANGE, ("suicide",))
    assert next_screening_step(orange, asked=("method",)) == "intent"
    # Everyday distress is not met with a suicide question; hopelessness (category suicide at yellow) is.
    assert next_screening_step(Assessment(Level.YELLOW, ("distress",))) is None
    assert next_screening_step(Assessment(Level.YELLOW, ("suicide", "distress"))) == "thoughts"
    assert next_screening_step(orange, asked=("method", "intent", "plan", "behaviour")) is None


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["replies"][2].update(zh="ORANGE without numbers"), "must contain"),
        (lambda d: d["replies"].pop(0), "red.default"),
        (lambda d: d["replies"][0].pop("en"), "missing en"),
        (lambda d: d["replies"][0].update(key="purple.default"), "key must be"),
        (lambda d: d["screening"].reverse(), "in that order"),
    ],
)
def test_invalid_files_are_rejected_with_a_reason(mutate, message):
    doc = copy.deepcopy(DOC)
    mutate(doc)
    with pytest.raises(ContentError, match=message):
        parse_safety_replies("r.yml", doc)


def test_the_question_a_reply_ends_on():
    doc = copy.deepcopy(DOC)
    doc["replies"][0]["asks"] = "safe_now"
    replies = parse_safety_replies("r.yml", doc)
    hopeless = Assessment(Level.YELLOW, ("suicide",))
    assert replies.question(hopeless) == "thoughts"
    assert replies.question(hopeless, ("thoughts",)) == "method"
    assert replies.question(Assessment(Level.YELLOW, ("distress",))) is None
    assert replies.question(Assessment(Level.RED, ("suicide",))) == "safe_now"
    assert replies.question(Assessment(Level.ORANGE, ("abuse",))) is None
    assert replies.question(Assessment(Level.NONE)) is None


def test_screening_moves_on_and_ends_with_a_message_without_risk(replies):
    distress = Assessment(Level.YELLOW, ("suicide", "distress"))
    assert screening_after(replies, distress, (), replied=True) == (("thoughts",), "thoughts")
    suicide = Assessment(Level.ORANGE, ("suicide",))
    assert screening_after(replies, suicide, ("thoughts",), replied=True) == (("thoughts", "method"), "method")
    # A reply held back (a counselor has the conversation) asks nothing.
    assert screening_after(replies, distress, ("thoughts",), replied=False) == (("thoughts",), None)
    assert screening_after(replies, Assessment(Level.NONE), ("thoughts", "method"), replied=True) == ((), None)


def test_an_unknown_question_is_refused_with_its_line():
    doc = copy.deepcopy(DOC)
    doc["replies"][0]["asks"] = "how_are_you"
    with pytest.raises(ContentError, match="asks must be one of"):
        parse_safety_replies("r.yml", doc)


def test_hotlines_for_people_leave_out_the_directorys_verification_notes():
    from bot.core.hotlines import Hotline

    hours = {
        "zh": "每天至少18小时；本地时段以官方公布为准（未核实）",
        "en": "daily; local hours not verified; check the official listing",
    }
    line = Hotline(
        "x", "12356", "CN", "psych", {"zh": "热线", "en": "Line"}, {"zh": "人", "en": "people"}, hours, (), ""
    )  # fmt: skip
    unverified = Hotline(
        "y", "0771", "450100", "psych", {"zh": "中心", "en": "Centre"}, {"zh": "人", "en": "people"},
        {"zh": "以官方公布为准（未核实）", "en": "not verified; check the official listing"}, (), "",
    )  # fmt: skip
    people = format_hotlines([line, unverified], "zh")
    assert people == "· 热线：12356（每天至少18小时）\n· 中心：0771"
    assert "not verified" not in format_hotlines([line, unverified], "en")
    assert "未核实" in format_hotlines([line], "zh", for_people=False)
