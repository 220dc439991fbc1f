"""The menu dialogue from the real ``dialogues/`` project: payloads and exact examples pick an intent, anything
else gets the fallback menu; broken files fail with the file and the problem."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bot.content_loader import load_dialogues
from bot.core.content_error import ContentError
from bot.core.menu_dialogue import FALLBACK, LANGS, MenuDialogue
from bot.yaml_source import load_yaml

DIALOGUES = Path(__file__).resolve().parents[3] / "dialogues"
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def dialogue() -> MenuDialogue:
    return load_dialogues(DIALOGUES)


@pytest.fixture
def copied(tmp_path: Path) -> Path:
    """A copy of the real dialogue project that a test may break."""
    target = tmp_path / "dialogues"
    shutil.copytree(DIALOGUES, target)
    return target


def break_file(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= 1, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# --- understanding -----------------------------------------------------------------------------------------------


def test_a_button_payload_picks_its_intent(dialogue: MenuDialogue) -> None:
    turn = dialogue.understand("/hotlines")
    assert turn.intent == "hotlines"
    assert turn.response == "utter_hotlines"
    assert turn.new_lang is None


def test_an_exact_example_picks_its_intent(dialogue: MenuDialogue) -> None:
    assert dialogue.understand("菜单").intent == "menu"


def test_punctuation_and_traditional_characters_do_not_change_the_choice(dialogue: MenuDialogue) -> None:
    turn = dialogue.understand("  菜單！")
    assert turn.intent == "menu"
    assert turn.response == "utter_menu"


def test_english_examples_ignore_case_and_punctuation(dialogue: MenuDialogue) -> None:
    assert dialogue.understand("Main Menu!").intent == "menu"


@pytest.mark.parametrize("text", ["我今天有点烦", "我想看菜单和热线", "菜单吧吧", "/not_an_intent", "", "asdf"])
def test_anything_else_gets_the_fallback_and_no_guess(dialogue: MenuDialogue, text: str) -> None:
    turn = dialogue.understand(text)
    assert turn.intent is None
    assert turn.response == FALLBACK == "utter_fallback"
    assert turn.new_lang is None
    assert not turn.requests_counselor


def test_the_language_payloads_switch_language(dialogue: MenuDialogue) -> None:
    assert dialogue.understand("/lang_en").new_lang == "en"
    assert dialogue.understand("/lang_zh").new_lang == "zh"
    assert dialogue.understand("/lang_en").response == "utter_language_switched"


def test_a_language_example_switches_language(dialogue: MenuDialogue) -> None:
    assert dialogue.understand("English").new_lang == "en"
    assert dialogue.understand("說中文").new_lang == "zh"


def test_asking_for_a_counselor_requests_one(dialogue: MenuDialogue) -> None:
    assert dialogue.understand("/talk_to_counselor").requests_counselor
    assert dialogue.understand("转人工").requests_counselor
    assert not dialogue.understand("/hotlines").requests_counselor


# --- rendering ---------------------------------------------------------------------------------------------------


def test_render_fills_hotlines_in_english(dialogue: MenuDialogue) -> None:
    message = dialogue.render("utter_hotlines", "en", hotlines="12356 national line")
    assert "12356 national line" in message.text
    assert "{hotlines}" not in message.text
    assert "call" in message.text
    assert not HAN.search(message.text)


def test_render_fills_hotlines_in_chinese(dialogue: MenuDialogue) -> None:
    message = dialogue.render("utter_hotlines", "zh", hotlines="12356 心理援助热线")
    assert "12356 心理援助热线" in message.text
    assert "{hotlines}" not in message.text
    assert "电话" in message.text


def test_render_fills_the_counselor_role(dialogue: MenuDialogue) -> None:
    english = dialogue.render("utter_counselor_joined", "en", counselor="school counsellor")
    chinese = dialogue.render("utter_counselor_joined", "zh", counselor="学校心理老师")
    assert "The school counsellor has joined" in english.text
    assert chinese.text.startswith("学校心理老师已经加入")
    assert "{counselor}" not in english.text + chinese.text


def test_render_gives_the_buttons_of_the_language(dialogue: MenuDialogue) -> None:
    english = dialogue.render("utter_menu", "en")
    chinese = dialogue.render("utter_menu", "zh")
    assert "Hotlines" in [button.title for button in english.buttons]
    assert "热线电话" in [button.title for button in chinese.buttons]
    assert all(button.payload.startswith("/") for button in english.buttons + chinese.buttons)


def test_render_of_an_unknown_language_falls_back_to_chinese(dialogue: MenuDialogue) -> None:
    assert dialogue.render("utter_menu", "fr") == dialogue.render("utter_menu", "zh")


# --- the real files ----------------------------------------------------------------------------------------------


def test_every_response_in_the_domain_has_zh_and_en() -> None:
    domain = load_yaml(DIALOGUES / "domain.yml")
    for name, variations in domain["responses"].items():
        langs = [
            condition["value"]
            for variation in variations
            for condition in variation["condition"]
            if condition["name"] == "language"
        ]
        assert sorted(langs) == sorted(LANGS), f"{name} has variations for {langs}"


def test_every_response_in_the_domain_renders_in_both_languages(dialogue: MenuDialogue) -> None:
    domain = load_yaml(DIALOGUES / "domain.yml")
    for name in domain["responses"]:
        assert dialogue.render(name, "zh").text != dialogue.render(name, "en").text, name


def test_every_intent_in_the_domain_has_a_rule(dialogue: MenuDialogue) -> None:
    domain = load_yaml(DIALOGUES / "domain.yml")
    rules = load_yaml(DIALOGUES / "data" / "rules.yml")
    ruled = {rule["steps"][0]["intent"] for rule in rules["rules"]}
    for intent in domain["intents"]:
        assert intent in ruled, f"intent {intent} has no rule"
        assert dialogue.understand(f"/{intent}").intent == intent


# --- broken files ------------------------------------------------------------------------------------------------

EN_SWITCHED = """    - condition:
        - type: slot
          name: language
          value: en
      text: OK, I'll reply in English from now on.
"""


def test_a_response_missing_its_english_variation_is_an_error(copied: Path) -> None:
    domain = copied / "domain.yml"
    break_file(domain, EN_SWITCHED, "")
    with pytest.raises(ContentError) as error:
        load_dialogues(copied)
    assert error.value.source == str(domain)
    assert "utter_language_switched: no variation for en" in str(error.value)


def test_a_rule_naming_an_unknown_action_is_an_error(copied: Path) -> None:
    rules = copied / "data" / "rules.yml"
    break_file(rules, "- action: utter_goodbye", "- action: utter_farewell")
    with pytest.raises(ContentError) as error:
        load_dialogues(copied)
    assert error.value.source == str(rules)
    assert error.value.line is not None
    assert "action 'utter_farewell' is not a response in the domain" in str(error.value)


def test_an_nlu_intent_without_a_rule_is_an_error(copied: Path) -> None:
    rules = copied / "data" / "rules.yml"
    break_file(rules, "  - rule: thanks\n    steps:\n      - intent: thanks\n      - action: utter_thanks\n", "")
    with pytest.raises(ContentError) as error:
        load_dialogues(copied)
    assert error.value.source == str(copied / "data" / "nlu.yml")
    assert "intent 'thanks' has no rule in the rules file" in str(error.value)


def test_the_same_example_under_two_intents_is_an_error(copied: Path) -> None:
    nlu = copied / "data" / "nlu.yml"
    break_file(nlu, "      - 热线电话\n", "      - 热线电话\n      - 菜單\n")
    with pytest.raises(ContentError) as error:
        load_dialogues(copied)
    assert error.value.source == str(nlu)
    assert error.value.line is not None
    assert "example '菜單' is under both menu and hotlines" in str(error.value)


def test_a_button_without_a_payload_is_an_error(copied: Path) -> None:
    domain = copied / "domain.yml"
    break_file(domain, "        - title: 热线电话\n          payload: /hotlines\n", "        - title: 热线电话\n")
    with pytest.raises(ContentError) as error:
        load_dialogues(copied)
    assert error.value.source == str(domain)
    assert "utter_greet: a button needs title and payload" in str(error.value)


def test_a_missing_dialogue_file_is_named(copied: Path) -> None:
    (copied / "data" / "rules.yml").unlink()
    with pytest.raises(ContentError, match=r"rules\.yml: dialogue file not found"):
        load_dialogues(copied)
