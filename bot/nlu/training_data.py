"""Reads Rasa 3 NLU training data (``dialogues/data/nlu.yml``): intent examples with ``[text](entity)``
annotations, ``synonym:`` blocks and ``lookup:`` tables."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.core.content_error import ContentError, line_of

# [text](entity), [text]{"entity": "e", "value": "v"} — the two annotation forms of Rasa 3.
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<name>[^)]+)\)|(?P<json>\{[^}]*\}))")


@dataclass(frozen=True, slots=True)
class Example:
    """One training message with its intent and the entities annotated in it."""

    text: str
    intent: str
    entities: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class TrainingData:
    """Examples, synonyms (surface form → value) and lookup tables (entity → surface forms)."""

    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)

    @property
    def intents(self) -> list[str]:
        """Intent names, in first-seen order."""
        return list(dict.fromkeys(example.intent for example in self.examples))


def strip_annotations(text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The plain message and its (entity, surface text) pairs."""
    entities: list[tuple[str, str]] = []

    def plain(match: re.Match[str]) -> str:
        name = match.group("name")
        if name is None:
            try:
                name = str(json.loads(match.group("json")).get("entity", ""))
            except ValueError:
                name = ""
        if name:
            entities.append((name, match.group("text")))
        return match.group("text")

    return _ANNOTATION.sub(plain, text), tuple(entities)


def _lines(block: str) -> list[str]:
    return [line.strip().removeprefix("- ").strip() for line in block.splitlines() if line.strip()]


def parse_training_data(source: str, document: Any) -> TrainingData:
    """Validate and read one NLU file; errors name the file and line."""
    items = document.get("nlu") if isinstance(document, Mapping) else None
    if not isinstance(items, list):
        raise ContentError(source, line_of(document), "expected a mapping with an `nlu:` list")
    data = TrainingData()
    for item in items:
        if not isinstance(item, Mapping) or not isinstance(item.get("examples"), str):
            raise ContentError(source, line_of(item), "each nlu item needs `examples: |` with `- example` lines")
        lines = _lines(item["examples"])
        if "intent" in item:
            for line in lines:
                text, entities = strip_annotations(line)
                data.examples.append(Example(text, str(item["intent"]), entities))
        elif "synonym" in item:
            for line in lines:
                data.synonyms[line] = str(item["synonym"])
        elif "lookup" in item:
            data.lookups.setdefault(str(item["lookup"]), []).extend(lines)
        elif "regex" not in item:
            raise ContentError(source, line_of(item), "an nlu item is an intent, synonym, lookup or regex")
    if not data.examples:
        raise ContentError(source, line_of(document), "no intent examples")
    _annotated_into_lookups(data)
    return data


def parse_training_files(files: list[tuple[str, Any]]) -> TrainingData:
    """Several NLU files (Rasa reads every file under ``data/``) as one training set; errors name the file."""
    data = TrainingData()
    for source, document in files:
        part = parse_training_data(source, document)
        data.examples.extend(part.examples)
        data.synonyms.update(part.synonyms)
        for name, surfaces in part.lookups.items():
            known = data.lookups.setdefault(name, [])
            known.extend(s for s in surfaces if s not in known)
    return data


def _annotated_into_lookups(data: TrainingData) -> None:
    # Every annotated surface form is also found at parse time, as if it were in a lookup table.
    for example in data.examples:
        for name, surface in example.entities:
            known = data.lookups.setdefault(name, [])
            if surface not in known:
                known.append(surface)
