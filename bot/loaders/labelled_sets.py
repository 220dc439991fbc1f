"""Reads sets of messages labelled by level (``tests/data/triage_*.yml``) for checking a lexicon edit."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.core.content_error import ContentError, line_of
from bot.core.triage.assessment import Level
from bot.core.triage.lexicon import SCREENING_STEPS as ANSWERABLE
from bot.core.triage.scoring import LabelledMessage
from bot.loaders.yaml_source import load_yaml

_LEVELS = {level.value for level in Level}


def load_labelled(path: Path) -> list[LabelledMessage]:
    """The messages of a set file: a list, or a mapping with ``items``, of ``text`` + ``level`` (and optionally
    ``history`` or ``context``, and ``bot_asked``). Errors name the file and line."""
    source = str(path)
    if not path.is_file():
        raise ContentError(source, None, "labelled set not found")
    document = load_yaml(path)
    items = document.get("items") if isinstance(document, Mapping) else document
    if not isinstance(items, list):
        raise ContentError(source, line_of(document), "expected a list of messages (or a mapping with 'items')")
    return [_message(source, raw) for raw in items]


def _message(source: str, raw: Any) -> LabelledMessage:
    line = line_of(raw)
    if not isinstance(raw, Mapping) or not isinstance(raw.get("text"), str):
        raise ContentError(source, line, "each message needs a text")
    level = raw.get("level")
    if level not in _LEVELS:
        raise ContentError(source, line, f"level must be one of {', '.join(sorted(_LEVELS))}")
    history = raw.get("history") or raw.get("context") or []
    if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
        raise ContentError(source, line, "history must be a list of earlier messages")
    asked = raw.get("bot_asked")
    if asked is not None and asked not in ANSWERABLE:
        raise ContentError(source, line, f"bot_asked must be one of {', '.join(ANSWERABLE)}")
    return LabelledMessage(raw["text"], Level(level), tuple(history), asked, line)
