"""Triage: lexicon cues, composition rules, context (hyperbole, information-seeking, third party) → a level."""

from __future__ import annotations

import functools
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from bot.core.triage.assessment import CATEGORY_ORDER, Assessment, Level
from bot.core.triage.lexicon import Lexicon, Rule
from bot.core.triage.matcher import NO_POSITION, CueMatcher, Match
from bot.core.triage.normalize import normalize, normalize_visible, visible_characters

# Only the recent past changes how a new message reads; older turns are the counselor's to weigh.
HISTORY_LIMIT = 12
# Roles that describe the context of a message rather than a risk in it.
_CONTEXT_ROLES = frozenset({"third_party", "info", "hyperbole"})
# Cues that no question-asking context can explain away: something is happening or about to.
_UNDENIABLE_ROLES = frozenset({"act", "farewell", "pact", "lethality", "danger"})
_FIRST_PERSON = re.compile(r"我|(?<![a-z])(?:i|i'm|im|me|myself|my)(?![a-z])")


@dataclass(slots=True)
class _Findings:
    """What the cues and rules of one message add up to, gathered as they are checked."""

    explanation: list[str]
    levels: list[Level] = field(default_factory=list)
    categories: set[str] = field(default_factory=set)
    contributing: list[Match] = field(default_factory=list)

    def add(self, level: Level, category: str, matches: list[Match]) -> None:
        self.levels.append(level)
        self.categories.add(category)
        self.contributing.extend(matches)


@dataclass(slots=True)
class _Reading:
    normalized: str
    matches: tuple[Match, ...]


class TriageEngine:
    """Assesses messages against one lexicon; pure and deterministic, safe to share."""

    def __init__(self, lexicon: Lexicon, to_simplified: Callable[[str], str]) -> None:
        self._lexicon = lexicon
        self._to_simplified = to_simplified
        self._matcher = CueMatcher(lexicon.entries, _trigger_entries(lexicon))
        # A conversation's earlier messages are read again with every new one; the reading of a text never
        # changes, so recent readings are kept (a pure cache, bounded).
        self._history_read = functools.lru_cache(maxsize=8192)(self._read)
        # For each role, the rules it can start: only roles of a rule's groups without everyday words (the
        # loader guarantees every rule has one), so 我 or 今晚 alone never sends a message through many rules.
        self._rules_by_role: dict[str, list[int]] = {}
        for index, rule in enumerate(lexicon.rules):
            keys = [group for group in rule.groups if group.isdisjoint(lexicon.everyday_roles)] or rule.groups
            for role in frozenset().union(*keys):
                self._rules_by_role.setdefault(role, []).append(index)

    @property
    def lexicon(self) -> Lexicon:
        """The lexicon this engine matches against."""
        return self._lexicon

    def normalize(self, text: str) -> str:
        """The matching form of ``text`` (see ``normalize.normalize``)."""
        return normalize(text, self._to_simplified)

    def _read(self, text: str, *, full: bool = False) -> _Reading:
        visible = visible_characters(text)
        normalized = normalize_visible(visible, self._to_simplified)
        found = self._matcher.find(normalized, visible) if full else self._matcher.scan(normalized, visible)
        return _Reading(normalized, () if found is None else tuple(found))

    def assess(self, text: str, *, history: Sequence[str] = (), lang: str | None = None) -> Assessment:
        """Triage ``text``; ``history`` holds earlier messages of the same conversation, oldest first.

        ``lang`` is accepted as a hint only: every language's lexicon is applied, since people mix languages.
        """
        del lang
        # With history, a message of supporting words only (今晚) may complete a rule begun earlier.
        reading = self._read(text, full=bool(history))
        explanation: list[str] = []
        hints: list[str] = []
        risk: list[Match] = []
        roles: set[str] = set()
        third_party_markers: list[Match] = []
        for match in reading.matches:
            role = match.entry.role
            roles.add(role)
            if role == "third_party":
                third_party_markers.append(match)
            elif role not in _CONTEXT_ROLES:
                risk.append(match)
        # A message with no cue at all is not made risky by its history: history only completes cues it has.
        if not risk and (not history or not reading.matches):
            return _QUESTION_ONLY if "info" in roles else _NOTHING

        floor = Level.NONE
        if "info" in roles:
            risk, aside = self._set_aside_questions(reading.normalized, risk)
            if aside:
                explanation.append(f"information-seeking about {', '.join(sorted({m.term for m in aside}))}")
                # A parent asking about their own child still gets a quiet follow-up.
                floor = Level.YELLOW if third_party_markers else Level.NONE
            if aside or all(m.entry.level is Level.NONE for m in risk):
                hints.append("warning_signs")

        found = _Findings(explanation)
        for match in risk:
            if match.entry.level is not Level.NONE and match.entry.category is not None:
                found.add(match.entry.level, match.entry.category, [match])
                explanation.append(f"cue {match.term!r} ({match.entry.id}) → {match.entry.level}")
        self._apply_rules(risk, [self._history_read(message) for message in history[-HISTORY_LIMIT:]], found)
        levels, categories, contributing = found.levels, found.categories, found.contributing

        level = Level.highest(levels)
        if floor.rank > level.rank:
            level = floor
            categories.update(("distress", "third_party"))
        if level is Level.NONE:
            return Assessment(Level.NONE, (), (), tuple(explanation), tuple(hints))

        if self._about_someone_else(reading.normalized, third_party_markers, contributing or risk):
            categories.add("third_party")
            contributing.extend(third_party_markers)
            explanation.append("reported about someone else")
        cues = tuple(dict.fromkeys(m.term for m in sorted(contributing, key=lambda m: m.start)))
        ordered = tuple(sorted(categories, key=CATEGORY_ORDER.__getitem__))
        return Assessment(level, ordered, cues, tuple(explanation), tuple(hints))

    def _apply_rules(self, risk: list[Match], earlier: list[_Reading], found: _Findings) -> None:
        """Fire every rule whose role groups are all present (in history too, for conversation scope)."""
        by_role: dict[str, list[Match]] = {}
        for match in risk:
            by_role.setdefault(match.entry.role, []).append(match)
        present = by_role.keys()
        both = present | {m.entry.role for r in earlier for m in r.matches} if earlier else present
        candidates: set[int] = set()
        for role in both:
            candidates.update(self._rules_by_role.get(role, ()))
        for index in sorted(candidates):
            rule = self._lexicon.rules[index]
            available = both if rule.scope == "conversation" else present
            if not _all_groups_present(rule, available):
                continue
            used = self._fire(rule, by_role, earlier)
            if used is not None:
                found.add(rule.level, rule.category, [m for m in used if m in risk])
                terms = ", ".join(dict.fromkeys(m.term for m in used))
                found.explanation.append(f"rule {rule.id} ({terms}) → {rule.level}")

    @staticmethod
    def _set_aside_questions(text: str, risk: list[Match]) -> tuple[list[Match], list[Match]]:
        """Split cues of a question into those that still count and those set aside.

        A question about a topic or about someone else is not a disclosure: topic words, cues about another
        person and cues only quoted (「下辈子见」是什么梗) are set aside; what the writer says of themself still
        counts, and so does anything happening now unless it is only quoted.
        """
        quoted = _quoted_spans(text)
        aside = [
            m
            for m in risk
            if m.entry.level is not Level.NONE
            and (
                _within(m, quoted)
                or (m.entry.role not in _UNDENIABLE_ROLES and (m.entry.topic or not _said_of_oneself(text, m)))
            )
        ]
        if not aside:
            return risk, aside
        # Atoms inside a set-aside cue (自杀 in 想自杀) go with it.
        spans = [(m.start, m.end) for m in aside]
        return [m for m in risk if m not in aside and not _within(m, spans)], aside

    @staticmethod
    def _fire(rule: Rule, by_role: dict[str, list[Match]], earlier: list[_Reading]) -> list[Match] | None:
        """The matches that satisfy ``rule`` in this message (and, for conversation scope, its history)."""
        here = [[m for role in group for m in by_role.get(role, ())] for group in rule.groups]
        if rule.scope == "near":
            return _near_chain(here, rule.window, ordered=rule.ordered)
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


# Most messages come to nothing; one shared (immutable) answer saves building it each time.
_NOTHING = Assessment(Level.NONE)
_QUESTION_ONLY = Assessment(Level.NONE, hints=("warning_signs",))
_QUOTED = re.compile(r"“[^”]{1,40}”|「[^」]{1,40}」|『[^』]{1,40}』|\"[^\"]{1,40}\"")
_SUBJECTS = re.compile(
    r"我|他|她|孩子|同学|朋友|儿子|女儿|学生|别人|有人|室友|同桌"
    r"|(?<![a-z])(?:i|i'm|im|me|my|he|she|they|kid|child|son|daughter|friend|student|someone|people)(?![a-z])"
)
_SUBJECT_LOOKBACK = 12


def _all_groups_present(rule: Rule, roles: AbstractSet[str]) -> bool:
    # A plain loop: this runs for every candidate rule of every message, and a generator costs more.
    for group in rule.groups:  # noqa: SIM110
        if group.isdisjoint(roles):
            return False
    return True


def _quoted_spans(text: str) -> list[tuple[int, int]]:
    return [match.span() for match in _QUOTED.finditer(text)]


def _within(match: Match, spans: list[tuple[int, int]]) -> bool:
    return any(start <= match.start and match.end <= end for start, end in spans)


def _said_of_oneself(text: str, match: Match) -> bool:
    """Whether the nearest person named before a cue is the writer (我, I); no one named means no."""
    if match.start == NO_POSITION or _FIRST_PERSON.search(match.term):
        return match.start != NO_POSITION
    subjects = list(_SUBJECTS.finditer(text, max(0, match.start - _SUBJECT_LOOKBACK), match.start))
    return bool(subjects) and _FIRST_PERSON.fullmatch(subjects[-1].group()) is not None


def _trigger_entries(lexicon: Lexicon) -> frozenset[str]:
    """Entries a message must contain for triage to find anything: every entry but hyperbole masks, third-party
    markers and the lexicon's everyday roles (those only matter beside something else)."""
    quiet = lexicon.everyday_roles | {"hyperbole", "third_party"}
    return frozenset(e.id for e in lexicon.entries if e.level is not Level.NONE or e.role not in quiet)


def _near_chain(groups: list[list[Match]], window: int, *, ordered: bool) -> list[Match] | None:
    """One match per group, each within ``window`` characters of the one before (and after it if ``ordered``).

    Candidates are looked up by position (bisect), so a long message costs n log n, not n².
    """
    placed = [sorted((m for m in group if m.start != NO_POSITION), key=lambda m: m.start) for group in groups]
    starts = [[m.start for m in group] for group in placed]
    longest = [max((m.end - m.start for m in group), default=0) for group in placed]
    for anchor in placed[0]:
        picked = [anchor]
        for group, group_starts, span in zip(placed[1:], starts[1:], longest[1:], strict=True):
            last = picked[-1]
            low = last.end if ordered else last.start - window - span
            high = last.end + window
            close = None
            for position in range(bisect_left(group_starts, low), bisect_right(group_starts, high)):
                candidate = group[position]
                if ordered or candidate.end >= last.start - window:
                    close = candidate
                    break
            if close is None:
                break
            picked.append(close)
        else:
            return picked
    return None
