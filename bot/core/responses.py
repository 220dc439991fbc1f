"""Bot responses read from the Rasa domain: one variation per language (a ``language`` slot condition)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.content_error import ContentError, line_of
from bot.core.messages import Button

LANGS = ("zh", "en")


@dataclass(frozen=True, slots=True)
class Response:
    """One response variation: text (with ``{placeholders}``) and buttons."""

    text: str
    buttons: tuple[Button, ...]


def parse_variations(source: str, name: str, raw: Any) -> dict[str, Response]:
    """The zh and en variations of response ``name``; both are required."""
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
