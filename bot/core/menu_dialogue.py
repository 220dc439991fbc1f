"""The small menu dialogue read from the Rasa-format ``dialogues/`` project: a button payload (``/intent``) or
a message equal to a training example picks an intent; a rule maps it to a response. Anything else gets the
fallback menu: the bot never guesses."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.content_error import ContentError, line_of
from bot.core.messages import Button, OutboundMessage

LANGS = ("zh", "en")
FALLBACK = "utter_fallback"
REQUIRED_RESPONSES = (
    "utter_greet",
    "utter_menu",
    "utter_fallback",
    "utter_hotlines",
    "utter_counselor_requested",
    "utter_counselor_joined",
    "utter_counselor_left",
    "utter_counselor_waiting",
    "utter_language_switched",
    "utter_rate_limited",
)
# Intents with an effect besides their reply.
LANGUAGE_INTENTS = {"lang_zh": "zh", "lang_en": "en"}
COUNSELOR_INTENT = "talk_to_counselor"


@dataclass(frozen=True, slots=True)
class Response:
    """One response variation: text (with ``{placeholders}``) and buttons."""

    text: str
    buttons: tuple[Button, ...]


@dataclass(frozen=True, slots=True)
class Turn:
    """What the dialogue decided: the intent (None when unsure), the response name, and a language change."""

    intent: str | None
    response: str
    new_lang: str | None = None

    @property
    def requests_counselor(self) -> bool:
        """True when the person asked for a human."""
        return self.intent == COUNSELOR_INTENT


class MenuDialogue:
    """Intents by payload or exact example; rules from intent to response; responses per language."""

    def __init__(
        self,
        responses: Mapping[str, Mapping[str, Response]],
        examples: Mapping[str, str],
        rules: Mapping[str, str],
        fold: Callable[[str], str],
    ) -> None:
        self._responses = responses
        self._examples = examples  # folded example → intent
        self._rules = rules  # intent → response name
        self._fold = fold

    def understand(self, text: str) -> Turn:
        """Pick the intent of ``text`` and the response to give."""
        stripped = text.strip()
        intent: str | None = None
        if stripped.startswith("/") and stripped[1:] in self._rules:
            intent = stripped[1:]
        else:
            intent = self._examples.get(_key(self._fold(stripped)))
        if intent is None:
            return Turn(None, FALLBACK)
        return Turn(intent, self._rules[intent], LANGUAGE_INTENTS.get(intent))

    def render(self, response: str, lang: str, **values: str) -> OutboundMessage:
        """The response in ``lang`` with placeholders filled in."""
        variation = self._responses[response][lang if lang in LANGS else "zh"]
        text = variation.text
        for name, value in values.items():
            text = text.replace("{" + name + "}", value)
        return OutboundMessage(text.strip(), variation.buttons)


def _key(text: str) -> str:
    # Punctuation and spacing do not change a menu choice: "你好！" is "你好".
    return "".join(ch for ch in text if not unicodedata.category(ch).startswith(("P", "Z", "S")) and ch != " ")


def parse_dialogues(
    domain: tuple[str, Any], nlu: tuple[str, Any], rules: tuple[str, Any], fold: Callable[[str], str]
) -> MenuDialogue:
    """Validate the domain, NLU examples and rules (each given as (source, parsed YAML)); errors name the line."""
    domain_source, domain_doc = domain
    if not isinstance(domain_doc, Mapping) or not isinstance(domain_doc.get("responses"), Mapping):
        raise ContentError(domain_source, line_of(domain_doc), "expected a mapping with `responses:`")
    intents = domain_doc.get("intents")
    if not isinstance(intents, list) or not all(isinstance(i, str) for i in intents):
        raise ContentError(domain_source, line_of(domain_doc), "`intents:` must be a list of names")
    responses = {name: _variations(domain_source, name, raw) for name, raw in domain_doc["responses"].items()}
    missing = [name for name in REQUIRED_RESPONSES if name not in responses]
    if missing:
        raise ContentError(domain_source, line_of(domain_doc), f"missing responses: {', '.join(missing)}")

    mapping = _parse_rules(rules, intents, responses)
    return MenuDialogue(responses, _parse_examples(nlu, mapping, fold), mapping, fold)


def _parse_rules(rules: tuple[str, Any], intents: list[str], responses: Mapping[str, object]) -> dict[str, str]:
    rules_source, rules_doc = rules
    mapping: dict[str, str] = {}
    for rule in _list(rules_source, rules_doc, "rules"):
        steps = rule.get("steps") if isinstance(rule, Mapping) else None
        if not isinstance(steps, list) or len(steps) != 2 or not all(isinstance(step, Mapping) for step in steps):
            raise ContentError(rules_source, line_of(rule), "a rule needs two steps: `- intent: X` then `- action: Y`")
        intent, action = steps[0].get("intent"), steps[1].get("action")
        if intent == "nlu_fallback":
            continue
        if intent not in intents:
            raise ContentError(rules_source, line_of(steps[0]), f"intent {intent!r} is not in the domain's intents")
        if action not in responses:
            raise ContentError(rules_source, line_of(steps[1]), f"action {action!r} is not a response in the domain")
        mapping[intent] = action
    return mapping


def _parse_examples(nlu: tuple[str, Any], mapping: Mapping[str, str], fold: Callable[[str], str]) -> dict[str, str]:
    nlu_source, nlu_doc = nlu
    examples: dict[str, str] = {}
    for block in _list(nlu_source, nlu_doc, "nlu"):
        intent = block.get("intent") if isinstance(block, Mapping) else None
        if intent not in mapping:
            raise ContentError(nlu_source, line_of(block), f"intent {intent!r} has no rule in the rules file")
        text = block.get("examples")
        if not isinstance(text, str):
            raise ContentError(nlu_source, line_of(block), "`examples:` must be a block of `- example` lines")
        for line in text.splitlines():
            example = line.strip().removeprefix("- ").strip()
            if not example:
                continue
            key = _key(fold(example))
            if examples.get(key, intent) != intent:
                raise ContentError(
                    nlu_source, line_of(block), f"example {example!r} is under both {examples[key]} and {intent}"
                )
            examples[key] = str(intent)
    return examples


def _list(source: str, document: Any, key: str) -> list[Any]:
    items = document.get(key) if isinstance(document, Mapping) else None
    if not isinstance(items, list):
        raise ContentError(source, line_of(document), f"expected a mapping with a `{key}:` list")
    return items


def _variations(source: str, name: str, raw: Any) -> dict[str, Response]:
    if not isinstance(raw, list):
        raise ContentError(source, line_of(raw), f"{name}: expected a list of variations")
    found: dict[str, Response] = {}
    for variation in raw:
        lang = None
        for condition in variation.get("condition", []) if isinstance(variation, Mapping) else []:
            if isinstance(condition, Mapping) and condition.get("name") == "language":
                lang = condition.get("value")
        if lang not in LANGS or not isinstance(variation.get("text"), str) or not variation["text"].strip():
            raise ContentError(
                source, line_of(variation), f"{name}: each variation needs text and a language condition (zh or en)"
            )
        buttons = []
        for button in variation.get("buttons", []):
            if not isinstance(button, Mapping) or not button.get("title") or not button.get("payload"):
                raise ContentError(source, line_of(variation), f"{name}: a button needs title and payload")
            buttons.append(Button(str(button["title"]), str(button["payload"])))
        found[lang] = Response(variation["text"], tuple(buttons))
    missing = [lang for lang in LANGS if lang not in found]
    if missing:
        raise ContentError(source, line_of(raw), f"{name}: no variation for {', '.join(missing)}")
    return found
