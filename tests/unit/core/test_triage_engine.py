"""The triage engine's mechanics on a small lexicon: matching, masking, rules, context and history."""

from __future__ import annotations

import pytest

from bot.core.triage import Level

from .lexicon_builder import make_engine

ENTRIES = [
    {
        "id": "ideation",
        "role": "ideation",
        "level": "orange",
        "category": "suicide",
        "terms": ["想死", "自杀"],
    },
    {
        "id": "topic",
        "role": "ideation",
        "level": "orange",
        "category": "suicide",
        "terms": ["轻生"],
        "topic": True,
    },
    {"id": "means", "role": "means", "level": "none", "category": "suicide", "terms": ["安眠药", "💊"]},
    {"id": "time", "role": "time", "level": "none", "category": "suicide", "terms": ["今晚"]},
    {"id": "ask", "role": "ask", "level": "none", "category": "suicide", "terms": ["吃多少"]},
    {"id": "death", "role": "death", "level": "none", "category": "suicide", "terms": ["会死"]},
    {"id": "mask", "role": "hyperbole", "level": "none", "terms": ["想死你了", "紫砂壶"]},
    {"id": "homophone", "role": "ideation", "level": "orange", "category": "suicide", "terms": ["紫砂"]},
    {"id": "third", "role": "third_party", "level": "none", "category": "third_party", "terms": ["我同学"]},
    {"id": "info", "role": "info", "level": "none", "terms": ["如何预防"]},
    {
        "id": "kms",
        "lang": "en",
        "role": "ideation",
        "level": "orange",
        "category": "suicide",
        "terms": ["kms"],
    },
    {"id": "bully", "role": "bullying", "level": "yellow", "category": "bullying", "terms": ["被孤立"]},
]
RULES = [
    {
        "id": "ideation_means",
        "all": [["ideation"], ["means", "time"]],
        "level": "red",
        "category": "suicide",
        "scope": "conversation",
    },
    {
        "id": "lethality",
        "all": ["ask", "death"],
        "level": "red",
        "category": "suicide",
        "scope": "near",
        "window": 4,
    },
]


@pytest.fixture(scope="module")
def engine():
    return make_engine(ENTRIES, RULES)


def test_plain_text_is_none(engine):
    result = engine.assess("今天天气不错")
    assert result.level is Level.NONE
    assert result.categories == ()
    assert result.cues == ()


def test_a_cue_gives_its_level_category_and_term(engine):
    result = engine.assess("我真的想死")
    assert (result.level, result.categories, result.cues) == (Level.ORANGE, ("suicide",), ("想死",))


@pytest.mark.parametrize("text", ["自 杀", "自.杀", "自*杀", "自🔪杀", "想死死死死", "自_殺"])
def test_separators_stutter_and_traditional_are_folded(engine, text):
    assert engine.assess(text).level is Level.ORANGE


def test_ideation_with_a_means_is_red(engine):
    result = engine.assess("想死，安眠药都在抽屉里")
    assert result.level is Level.RED
    assert result.cues == ("想死", "安眠药")


def test_emoji_means_count_wherever_they_stand(engine):
    assert engine.assess("想死💊💊").level is Level.RED


def test_hyperbole_masks_only_its_own_span(engine):
    assert engine.assess("想死你了！").level is Level.NONE
    assert engine.assess("买了个紫砂壶").level is Level.NONE
    assert engine.assess("想死你了，但说真的我想死").level is Level.ORANGE


def test_near_rule_needs_the_cues_close_together(engine):
    assert engine.assess("吃多少会死").level is Level.RED
    assert engine.assess("吃多少都行，反正这个天气热得会死").level is Level.NONE


def test_latin_terms_need_word_boundaries(engine):
    assert engine.assess("ugh kms").level is Level.ORANGE
    assert engine.assess("bookmarks").level is Level.NONE


def test_history_supplies_the_missing_half_of_a_rule(engine):
    result = engine.assess("今晚", history=["我想死"])
    assert result.level is Level.RED


def test_history_alone_does_not_make_a_benign_message_risky(engine):
    assert engine.assess("谢谢你", history=["我想死", "安眠药"]).level is Level.NONE


def test_third_party_marker_adds_the_category_at_the_same_level(engine):
    result = engine.assess("我同学说她想死")
    assert result.level is Level.ORANGE
    assert result.categories == ("suicide", "third_party")


def test_first_person_between_marker_and_cue_is_not_third_party(engine):
    result = engine.assess("我同学都不理我，我想死")
    assert "third_party" not in result.categories


def test_information_seeking_about_a_topic_word_is_none_with_a_hint(engine):
    result = engine.assess("如何预防青少年轻生")
    assert result.level is Level.NONE
    assert result.hints == ("warning_signs",)


def test_information_seeking_does_not_hide_first_person_ideation(engine):
    assert engine.assess("如何预防？我自己就想死").level is Level.ORANGE


def test_explanation_names_cues_and_rules(engine):
    result = engine.assess("想死 今晚")
    assert any(line.startswith("rule ideation_means") for line in result.explanation)
    assert any("cue '想死'" in line for line in result.explanation)


def test_contract_shape(engine):
    assert engine.assess("被孤立了").as_contract() == {
        "level": "yellow",
        "categories": ["bullying"],
        "cues": ["被孤立"],
    }


def test_everyday_words_alone_are_not_looked_at_but_still_complete_a_rule_with_history():
    entries = [
        *ENTRIES,
        {"id": "wish", "role": "wish", "level": "none", "category": "suicide", "terms": ["想"]},
        {"id": "dying", "role": "dying", "level": "none", "category": "suicide", "terms": ["死"]},
    ]
    rules = [
        {"id": "wish_die", "all": [["wish"], ["dying"]], "level": "orange", "category": "suicide",
         "scope": "near", "window": 2, "ordered": True},
        {"id": "later", "all": [["ideation"], ["time"]], "level": "red", "category": "suicide",
         "scope": "conversation"},
    ]  # fmt: skip
    engine = make_engine(entries, rules, everyday_roles={"wish", "time"})
    assert engine.assess("好想死").level is Level.ORANGE
    assert engine.assess("我想今晚去看电影").level is Level.NONE
    assert engine.assess("今晚", history=["我想死"]).level is Level.RED
    assert engine.assess("想死你了").level is Level.NONE  # the only trigger sits inside a hyperbole
