"""Safety replies on the risk path: choosing the text for an assessment and filling in the hotlines."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.core.content_error import ContentError, line_of
from bot.core.hotlines import Hotline, HotlineDirectory
from bot.core.triage.assessment import CATEGORIES, Assessment, Level
from bot.core.triage.lexicon import SCREENING_STEPS as ANSWERABLE

LANGS = ("zh", "en")
# The Columbia screener's order: ask about thoughts before method, intent, plan and recent behaviour.
SCREENING_STEPS = ("thoughts", "method", "intent", "plan", "behaviour")
# Every level on the risk path needs a fallback text; red and orange must always give hotlines.
REQUIRED_KEYS = ("red.default", "orange.default", "yellow.default")
PLACEHOLDER = "{hotlines}"


@dataclass(frozen=True, slots=True)
class SafetyReplies:
    """Reply texts keyed by ``level.category`` and language, and the screening questions."""

    texts: Mapping[str, Mapping[str, str]]
    screening: Mapping[str, Mapping[str, str]]
    # The question a reply's own text ends on (``asks: safe_now`` for "are you safe right now?"), by key.
    asks: Mapping[str, str] = field(default_factory=dict)
    # A line added to red and orange replies for primary pupils (请大人陪你一起打电话), by language.
    pupils: Mapping[str, str] = field(default_factory=dict)

    def key_for(self, assessment: Assessment) -> str | None:
        """The reply key for an assessment: third-party guidance first, then the most urgent category."""
        if assessment.level is Level.NONE:
            return None
        level = assessment.level.value
        if "third_party" in assessment.categories and f"{level}.third_party" in self.texts:
            return f"{level}.third_party"
        for category in assessment.categories:
            if f"{level}.{category}" in self.texts:
                return f"{level}.{category}"
        return f"{level}.default"

    def compose(
        self,
        assessment: Assessment,
        lang: str,
        directory: HotlineDirectory,
        region: str,
        asked: Sequence[str] = (),
        *,
        crisis: bool = False,
        pupil: bool = False,
    ) -> str | None:
        """The full safety reply for ``assessment`` (None for level none), hotlines of ``region`` filled in; in a
        crisis (after a red message) every reply lists 110 and 120."""
        key = self.key_for(assessment)
        if key is None:
            return None
        lang = lang if lang in LANGS else "zh"
        lines = directory.for_region(region, emergency=crisis or assessment.level is Level.RED)
        if assessment.level is Level.YELLOW:
            # A worry gets one or two numbers, not the whole directory.
            lines = lines[:YELLOW_LINES]
        text = self.texts[key][lang].replace(PLACEHOLDER, format_hotlines(lines, lang)).strip()
        if pupil and assessment.level in {Level.RED, Level.ORANGE} and lang in self.pupils:
            text = f"{text}\n{self.pupils[lang].strip()}"
        step = next_screening_step(assessment, asked)
        if step is not None:
            text = f"{text}\n\n{self.screening[step][lang]}"
        return text

    def question(self, assessment: Assessment, asked: Sequence[str] = ()) -> str | None:
        """The question the reply ``compose`` gives ends on: its screening step, else what its text asks."""
        key = self.key_for(assessment)
        if key is None:
            return None
        return next_screening_step(assessment, asked) or self.asks.get(key)


def screening_after(
    replies: SafetyReplies, assessment: Assessment, asked: tuple[str, ...], *, replied: bool
) -> tuple[tuple[str, ...], str | None]:
    """Where screening stands after a message: the steps asked so far and the one now awaiting an answer. A message
    with no risk ends the stretch; a reply held back (a counselor has the conversation) asks nothing."""
    if assessment.level is Level.NONE:
        return (), None
    step = replies.question(assessment, asked) if replied else None
    if step is None:
        return asked, None
    return (asked if step in asked else (*asked, step)), step


YELLOW_LINES = 2
# The directory's note for hours not confirmed from an official listing (content/hotlines.yml, rules for editors).
_UNVERIFIED = re.compile(
    r"(?:本地时段)?以官方公布为准（未核实）|(?:local hours )?not verified; check the official listing"
)


def format_hotlines(hotlines: Sequence[Hotline], lang: str, *, for_people: bool = True) -> str:
    """One line per hotline: name, number, hours. For people the directory's verification notes are left out (they
    are for counsellors and admins: ``for_people=False``); hours nobody has confirmed are then not shown."""
    lines = []
    for hotline in hotlines:
        hours = hotline.hours[lang]
        if for_people:
            hours = _UNVERIFIED.sub("", hours).strip(" ；;，,")
        if lang == "zh":
            lines.append(f"· {hotline.name[lang]}：{hotline.number}" + (f"（{hours}）" if hours else ""))
        else:
            lines.append(f"· {hotline.name[lang]}: {hotline.number}" + (f" ({hours})" if hours else ""))
    return "\n".join(lines)


def next_screening_step(assessment: Assessment, asked: Sequence[str] = ()) -> str | None:
    """Which direct question to ask next when cues are ambiguous; red already asks about safety now."""
    remaining: tuple[str, ...]
    if assessment.level is Level.ORANGE and "suicide" in assessment.categories:
        # Thoughts of suicide said outright go on to the method; a wish to be dead is asked about thoughts first.
        remaining = SCREENING_STEPS if assessment.passive_only else SCREENING_STEPS[1:]
    elif assessment.level is Level.YELLOW and "suicide" in assessment.categories:
        # Only a thought of death softened to yellow (我没有想死, 想死哈哈) is asked about directly; everyday stress
        # is not met with a suicide question.
        remaining = SCREENING_STEPS
    else:
        return None
    return next((step for step in remaining if step not in asked), None)


def _bilingual(raw: Mapping[str, Any], source: str, what: str) -> dict[str, str]:
    missing = [lang for lang in LANGS if not isinstance(raw.get(lang), str) or not raw[lang].strip()]
    if missing:
        raise ContentError(source, line_of(raw), f"{what}: missing {', '.join(missing)} text")
    return {lang: str(raw[lang]) for lang in LANGS}


def parse_safety_replies(source: str, document: Any) -> SafetyReplies:
    """Validate ``content/safety/replies.yml``: known keys, both languages, hotlines on red and orange."""
    if not isinstance(document, Mapping):
        raise ContentError(source, line_of(document), "expected a mapping with 'replies' and 'screening'")
    replies, screening = document.get("replies"), document.get("screening")
    if not isinstance(replies, list) or not isinstance(screening, list):
        raise ContentError(source, line_of(document), "expected lists under 'replies' and 'screening'")
    texts: dict[str, dict[str, str]] = {}
    asks: dict[str, str] = {}
    valid_levels = {level.value for level in Level if level is not Level.NONE}
    for raw in replies:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("key"), str):
            raise ContentError(source, line_of(raw) or line_of(replies), "each reply has a key like red.suicide")
        key = raw["key"]
        level, _, category = key.partition(".")
        if level not in valid_levels or (category != "default" and category not in CATEGORIES):
            raise ContentError(source, line_of(raw), f"{key}: key must be <red|orange|yellow>.<category|default>")
        if key in texts:
            raise ContentError(source, line_of(raw), f"{key}: defined twice")
        texts[key] = _bilingual(raw, source, key)
        if "asks" in raw:
            if raw["asks"] not in ANSWERABLE:
                raise ContentError(source, line_of(raw), f"{key}: asks must be one of {', '.join(ANSWERABLE)}")
            asks[key] = raw["asks"]
        if level in {"red", "orange"} and any(PLACEHOLDER not in text for text in texts[key].values()):
            raise ContentError(source, line_of(raw), f"{key}: red and orange replies must contain {PLACEHOLDER}")
    missing = [key for key in REQUIRED_KEYS if key not in texts]
    if missing:
        raise ContentError(source, None, f"missing required repl(ies): {', '.join(missing)}")
    pupils = document.get("pupils")
    lines = _bilingual(pupils, source, "pupils") if isinstance(pupils, Mapping) else {}
    return SafetyReplies(texts, _screening(source, screening), asks, lines)


def _screening(source: str, screening: list[Any]) -> dict[str, dict[str, str]]:
    steps: dict[str, dict[str, str]] = {}
    for raw in screening:
        step = raw.get("step") if isinstance(raw, Mapping) else None
        if step not in SCREENING_STEPS:
            raise ContentError(source, line_of(raw), f"screening step must be one of {', '.join(SCREENING_STEPS)}")
        steps[step] = _bilingual(raw, source, f"screening {step}")
    if list(steps) != list(SCREENING_STEPS):
        raise ContentError(
            source, line_of(screening), f"screening must list {', '.join(SCREENING_STEPS)} in that order"
        )
    return steps
