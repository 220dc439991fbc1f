"""Triage: lexicon cues, composition rules, context (hyperbole, information-seeking, third party) → a level."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.core.triage.assessment import CATEGORY_ORDER, Assessment, Level
from bot.core.triage.lexicon import Lexicon, Rule
from bot.core.triage.matcher import NO_POSITION, CueMatcher, Match
from bot.core.triage.normalize import normalize, visible_characters

# Only the recent past changes how a new message reads; older turns are the counselor's to weigh.
HISTORY_LIMIT = 12
# Roles that describe the context of a message rather than a risk in it.
_CONTEXT_ROLES = frozenset({"third_party", "info", "hyperbole"})
# Cues that no question-asking context can explain away: something is happening or about to.
_UNDENIABLE_ROLES = frozenset({"act", "farewell", "pact", "lethality", "danger"})
_FIRST_PERSON = re.compile(r"我|(?<![a-z])(?:i|i'm|im|me|myself|my)(?![a-z])")


class SecondOpinion(Protocol):
    """A learned model that may raise, but never lower, what the lexicon found."""

    def level(self, normalized: str) -> Level:
        """The level the model would give ``normalized`` text on its own."""
        ...


@dataclass(frozen=True, slots=True)
class _Reading:
    normalized: str
    matches: tuple[Match, ...]


class TriageEngine:
    """Assesses messages against one lexicon; pure and deterministic, safe to share."""

    def __init__(
        self,
        lexicon: Lexicon,
        to_simplified: Callable[[str], str],
        second_opinion: SecondOpinion | None = None,
    ) -> None:
        self._lexicon = lexicon
        self._to_simplified = to_simplified
        self._matcher = CueMatcher(lexicon.entries)
        self._second_opinion = second_opinion

    @property
    def lexicon(self) -> Lexicon:
        """The lexicon this engine matches against."""
        return self._lexicon

    def normalize(self, text: str) -> str:
        """The matching form of ``text`` (see ``normalize.normalize``)."""
        return normalize(text, self._to_simplified)

    def _read(self, text: str) -> _Reading:
        normalized = self.normalize(text)
        matches = self._matcher.find(normalized, visible_characters(text))
        masks = [(m.start, m.end) for m in matches if m.entry.role == "hyperbole"]
        if masks:
            # A hyperbole hides only the cues inside its own span, never a real cue elsewhere in the message.
            matches = [
                m
                for m in matches
                if m.entry.role == "hyperbole"
                or m.start == NO_POSITION
                or not any(start <= m.start and m.end <= end for start, end in masks)
            ]
        return _Reading(normalized, tuple(matches))

    def assess(self, text: str, *, history: Sequence[str] = (), lang: str | None = None) -> Assessment:
        """Triage ``text``; ``history`` holds earlier messages of the same conversation, oldest first.

        ``lang`` is accepted as a hint only: every language's lexicon is applied, since people mix languages.
        """
        del lang
        reading = self._read(text)
        earlier = [self._read(message) for message in history[-HISTORY_LIMIT:]]
        explanation: list[str] = []
        hints: list[str] = []

        risk = [m for m in reading.matches if m.entry.role not in _CONTEXT_ROLES]
        roles = {m.entry.role for m in reading.matches}
        third_party_markers = [m for m in reading.matches if m.entry.role == "third_party"]
        floor = Level.NONE
        if "info" in roles:
            alarming = [m for m in risk if m.entry.level is not Level.NONE]
            if alarming and all(m.entry.topic for m in alarming) and not roles & _UNDENIABLE_ROLES:
                # Asking about the topic (a lesson, warning signs) is not disclosing risk: the topic words are
                # set aside, while anything else in the message (a method question, say) still counts. A parent
                # asking about their own child still gets a quiet follow-up.
                risk = [m for m in risk if m not in alarming]
                hints.append("warning_signs")
                explanation.append(f"information-seeking about {', '.join(sorted({m.term for m in alarming}))}")
                if third_party_markers:
                    floor = Level.YELLOW
            elif not alarming:
                hints.append("warning_signs")

        levels: list[Level] = []
        categories: set[str] = set()
        contributing: list[Match] = []
        for match in risk:
            if match.entry.level is not Level.NONE and match.entry.category is not None:
                levels.append(match.entry.level)
                categories.add(match.entry.category)
                contributing.append(match)
                explanation.append(f"cue {match.term!r} ({match.entry.id}) → {match.entry.level}")

        for rule in self._lexicon.rules:
            used = self._fire(rule, risk, earlier)
            if used is not None:
                levels.append(rule.level)
                categories.add(rule.category)
                contributing.extend(m for m in used if m in risk)
                terms = ", ".join(dict.fromkeys(m.term for m in used))
                explanation.append(f"rule {rule.id} ({terms}) → {rule.level}")

        level = Level.highest(levels)
        if floor.rank > level.rank:
            level = floor
            categories.update(("distress", "third_party"))
        if self._second_opinion is not None and level.rank < Level.ORANGE.rank:
            opinion = self._second_opinion.level(reading.normalized)
            if opinion.rank > level.rank:
                explanation.append(f"learned second opinion → {opinion}")
                level = opinion
                if not categories:
                    categories.add("distress" if opinion is Level.YELLOW else "suicide")
        if level is Level.NONE:
            return Assessment(Level.NONE, (), (), tuple(explanation), tuple(hints))

        if self._about_someone_else(reading.normalized, third_party_markers, contributing or risk):
            categories.add("third_party")
            contributing.extend(third_party_markers)
            explanation.append("reported about someone else")
        cues = tuple(dict.fromkeys(m.term for m in sorted(contributing, key=lambda m: m.start)))
        ordered = tuple(sorted(categories, key=CATEGORY_ORDER.__getitem__))
        return Assessment(level, ordered, cues, tuple(explanation), tuple(hints))

    @staticmethod
    def _fire(rule: Rule, risk: list[Match], earlier: list[_Reading]) -> list[Match] | None:
        """The matches that satisfy ``rule`` in this message (and, for conversation scope, its history)."""
        here = [[m for m in risk if m.entry.role in group] for group in rule.groups]
        if rule.scope == "near":
            # Each group's cue must stand within ``window`` characters of the previous group's cue (and after
            # it, when the rule is ordered: 想…死 is a wish to die, 死…想 is not).
            for anchor in here[0]:
                if anchor.start == NO_POSITION:
                    continue
                picked = [anchor]
                for candidates in here[1:]:
                    last = picked[-1]
                    close = next(
                        (
                            m
                            for m in candidates
                            if _gap(last, m) <= rule.window and (not rule.ordered or m.start >= last.end)
                        ),
                        None,
                    )
                    if close is None:
                        break
                    picked.append(close)
                else:
                    return picked
            return None
        if rule.scope == "message":
            return [group[0] for group in here] if all(here) else None
        # Conversation scope: the new message must bring at least one group; history may bring the rest.
        if not any(here):
            return None
        past = [m for r in earlier for m in r.matches if m.entry.role not in _CONTEXT_ROLES]
        picked = []
        for group, found in zip(rule.groups, here, strict=True):
            candidates = found or [m for m in past if m.entry.role in group]
            if not candidates:
                return None
            picked.append(candidates[0])
        return picked

    @staticmethod
    def _about_someone_else(normalized: str, markers: list[Match], cues: list[Match]) -> bool:
        """A cue preceded by a third-party marker with no first person in between is about someone else."""
        for cue in cues:
            if cue.start == NO_POSITION or _FIRST_PERSON.search(cue.term):
                continue
            for marker in markers:
                if marker.end <= cue.start and not _FIRST_PERSON.search(normalized, marker.end, cue.start):
                    return True
        return False


def _gap(a: Match, b: Match) -> int:
    if b.start == NO_POSITION:
        return 10**9
    return max(b.start - a.end, a.start - b.end, 0)
