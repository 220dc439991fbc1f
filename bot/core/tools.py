"""Guided exercises done in the chat, a step and a button at a time, with a check-in at the end
(``content/tools/{zh,en}/*.yml``). Validated like articles; only approved tools are offered."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.core.content_error import ContentError, line_of
from bot.core.library import Review, index_by_id, parse_front_matter

TOOL_ID = re.compile(r"^(zh|en)-t-[a-z0-9]+(?:-[a-z0-9]+)*$")
FIELDS = ("id", "title", "lang", "audience", "topics", "summary", "minutes", "sources", "review", "steps", "check_in")
MIN_STEPS, MAX_STEPS = 2, 8
CHECK_IN_OPTIONS = 3
MAX_STEP = {"zh": 160, "en": 600}


@dataclass(frozen=True, slots=True)
class Step:
    """One step: what to do, and the button that says it is done."""

    text: str
    button: str


@dataclass(frozen=True, slots=True)
class CheckIn:
    """The question at the end and its three answers (better, about the same, worse), each with its reply."""

    question: str
    options: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Tool:
    """One guided exercise."""

    id: str
    title: str
    lang: str
    audience: tuple[str, ...]
    topics: tuple[str, ...]
    summary: str
    minutes: int
    sources: tuple[str, ...]
    review: Review
    steps: tuple[Step, ...]
    check_in: CheckIn
    source: str = field(default="", compare=False)

    @property
    def approved(self) -> bool:
        """Only approved tools are offered."""
        return self.review.status == "approved"


@dataclass(frozen=True, slots=True)
class Toolbox:
    """Every tool by id; ``offered`` the approved ones."""

    by_id: Mapping[str, Tool]

    @property
    def offered(self) -> list[Tool]:
        """The approved tools, by id."""
        return [t for t in self.by_id.values() if t.approved]

    def get(self, tool_id: str) -> Tool | None:
        """An approved tool by id."""
        tool = self.by_id.get(tool_id)
        return tool if tool is not None and tool.approved else None

    def for_topics(self, topics: Iterable[str], lang: str, audience: str | None) -> Tool | None:
        """The approved tool for the first of ``topics`` that has one, in the person's language, one made for
        their audience first."""
        for topic in topics:
            fitting = [t for t in self.offered if t.lang == lang and topic in t.topics]
            fitting.sort(key=lambda t: (audience is not None and audience not in t.audience, t.topics.index(topic)))
            if fitting:
                return fitting[0]
        return None


def parse_tool(source: str, raw: Any, *, file_stem: str, folder_lang: str) -> Tool:
    """Validate one tool file; errors name the file and the field."""
    common = parse_front_matter(
        source, raw, fields=FIELDS, id_pattern=TOOL_ID, file_stem=file_stem, folder_lang=folder_lang
    )
    minutes = raw["minutes"]
    if not isinstance(minutes, int) or not 1 <= minutes <= 30:
        raise ContentError(source, line_of(raw), "minutes: how long it takes, 1 to 30")
    return Tool(
        common.id,
        common.title,
        common.lang,
        common.audience,
        common.topics,
        common.summary,
        minutes,
        common.sources,
        common.review,
        _steps(source, raw["steps"], common.lang),
        _check_in(source, raw["check_in"]),
        source,
    )


def _steps(source: str, raw: Any, lang: str) -> tuple[Step, ...]:
    if not isinstance(raw, list) or not MIN_STEPS <= len(raw) <= MAX_STEPS:
        raise ContentError(source, line_of(raw), f"steps: a list of {MIN_STEPS} to {MAX_STEPS} steps")
    steps = []
    for number, item in enumerate(raw, start=1):
        if not isinstance(item, Mapping):
            raise ContentError(source, line_of(raw), f"steps: step {number} needs text and button")
        text, button = item.get("text"), item.get("button")
        if not isinstance(text, str) or not text.strip() or not isinstance(button, str) or not button.strip():
            raise ContentError(source, line_of(item), f"steps: step {number} needs text and button")
        if len(text.strip()) > MAX_STEP[lang]:
            raise ContentError(source, line_of(item), f"steps: step {number} is longer than {MAX_STEP[lang]}")
        steps.append(Step(text.strip(), button.strip()))
    return tuple(steps)


def _check_in(source: str, raw: Any) -> CheckIn:
    options = raw.get("options") if isinstance(raw, Mapping) else None
    question = raw.get("question") if isinstance(raw, Mapping) else None
    if not isinstance(question, str) or not isinstance(options, list) or len(options) != CHECK_IN_OPTIONS:
        raise ContentError(
            source, line_of(raw), "check_in: a question and three options (better, about the same, worse)"
        )
    parsed = []
    for item in options:
        label = item.get("label") if isinstance(item, Mapping) else None
        reply = item.get("reply") if isinstance(item, Mapping) else None
        if not isinstance(label, str) or not label.strip() or not isinstance(reply, str) or not reply.strip():
            raise ContentError(source, line_of(item), "check_in: each option needs label and reply")
        parsed.append((label.strip(), reply.strip()))
    return CheckIn(question.strip(), tuple(parsed))


def build_toolbox(tools: Iterable[Tool]) -> Toolbox:
    """Index tools by id; a repeated id is an error."""
    return Toolbox(index_by_id(tools))
