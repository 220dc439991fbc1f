"""Every file counselors and editors own validates, and the data says what the product promises."""

from __future__ import annotations

import pytest

from bot.core.safety_replies import PLACEHOLDER, SCREENING_STEPS
from bot.core.triage.lexicon import ROLES
from bot.core.triage.lexicon import SCREENING_STEPS as TRIAGE_STEPS

DESIGN_NUMBERS = {
    "0771-2628005",
    "0771-3290001",
    "12355",
    "966525",
    "0791-88330120",
    "12356",
    "400-161-9995",
    "110",
    "120",
}


def test_every_number_named_in_the_design_is_in_the_directory(directory):
    assert {h.number for h in directory.hotlines} >= DESIGN_NUMBERS


def test_every_hotline_has_both_languages_and_hours(directory):
    for hotline in directory.hotlines:
        for lang in ("zh", "en"):
            assert hotline.name[lang]
            assert hotline.hours[lang]
            assert hotline.answered_by[lang]


def test_red_replies_give_local_national_and_emergency_numbers(replies, directory, engine):
    assessment = engine.assess("药已经准备好了，今晚就去天台，我不想活了")
    assert assessment.level.value == "red"
    for lang in ("zh", "en"):
        text = replies.compose(assessment, lang, directory, "450100")
        assert text is not None
        assert PLACEHOLDER not in text
        for number in ("0771-2628005", "12356", "110", "120"):
            assert number in text


def test_every_reply_has_both_languages(replies):
    for key, texts in replies.texts.items():
        assert texts["zh"].strip(), key
        assert texts["en"].strip(), key


def test_screening_questions_follow_the_columbia_order(replies):
    assert tuple(replies.screening) == SCREENING_STEPS


def test_lexicon_uses_every_role_the_rules_name(engine):
    # An answer to the bot's own question arrives as a cue the engine makes (asked_<step>), not a lexicon word.
    asked = {f"asked_{step}" for step in TRIAGE_STEPS}
    used = {entry.role for entry in engine.lexicon.entries} | asked
    named = {role for rule in engine.lexicon.rules for group in rule.groups for role in group}
    assert named <= used <= ROLES


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_lexicon_has_entries_in_each_language(engine, lang):
    assert sum(1 for e in engine.lexicon.entries if e.lang == lang) >= 10


def test_every_guided_exercise_exists_in_both_languages():
    from pathlib import Path

    from bot.loaders.content import load_toolbox

    tools = load_toolbox(Path(__file__).resolve().parents[2] / "content").offered
    suffixes = {lang: {t.id.removeprefix(f"{lang}-") for t in tools if t.lang == lang} for lang in ("zh", "en")}
    assert suffixes["zh"] == suffixes["en"]
    assert len(suffixes["zh"]) >= 5


def test_every_library_topic_is_reachable_from_the_topic_menus():
    import re
    from pathlib import Path

    from bot.core.library import TOPICS
    from bot.loaders.yaml_source import load_yaml

    domain = load_yaml(Path(__file__).resolve().parents[2] / "dialogues" / "domain.yml")
    for lang_index in (0, 1):
        reachable = set()
        for name in ("utter_browse_topics", "utter_browse_topics_more"):
            variation = domain["responses"][name][lang_index]
            for button in variation.get("buttons", []):
                found = re.search(r'"topic": "([a-z_]+)"', button["payload"])
                if found:
                    reachable.add(found.group(1))
        assert reachable == set(TOPICS)
