"""Triage: lexicon cues, composition rules, context (hyperbole, information-seeking, third party) → a level."""

from __future__ import annotations

import functools
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from bot.core.triage.assessment import CATEGORY_ORDER, Assessment, Level
from bot.core.triage.lexicon import SCREENING_STEPS, CueEntry, Lexicon, Rule
from bot.core.triage.matcher import NO_POSITION, CueMatcher, Match, inside_any
from bot.core.triage.normalize import normalize, normalize_visible, visible_characters
from bot.core.triage.pinyin import looks_like_pinyin, pinyin_entries, respace

# Only the recent past changes how a new message reads; older turns are the counselor's to weigh.
HISTORY_LIMIT = 12
# Roles that describe the context of a message rather than a risk in it.
_CONTEXT_ROLES = frozenset(
    {"third_party", "reported", "info", "hyperbole", "negation", "past", "resolved", "laugh", "serious", "deny"}
)
# Roles a laugh does not soften: happening now, a goodbye, or taking back what was said (开玩笑的 after 想死).
_NOT_LAUGHED_AWAY = frozenset({"act", "farewell", "pact", "lethality", "danger", "retraction"})
# Harm done to the writer is not softened by a laugh either: 被家暴了 说出来都没人信 哈哈 is still abuse.
_HARM_TO_THEM = frozenset({"abuse", "sexual_abuse", "exploitation", "danger"})
# A negation this close before a cue (我没有想死, 从来不会伤害自己) makes it a denial: yellow at most, never nothing.
_NEGATION_REACH = 2
# In English the negated words follow further on (never thought about hurting myself).
_NEGATION_REACH_LATIN = 24
# Where a sentence ends: a reason a rule does not apply reaches over commas, not over full stops.
_SENTENCE_END = re.compile(r"[。！？!?\n]|\.(?:\s|$)")
# "If a classmate told me …" is a question about what to do, not a report.
_HYPOTHETICAL = re.compile(r"如果|假如|假设|要是|万一|(?<![a-z])(?:if|what if|suppose)(?![a-z])")
_HYPOTHETICAL_LOOKBACK = 8
# "No, but …": what follows still answers the question.
_BUT = re.compile(r"就是|只是|但是|但|可是|不过|(?<![a-z])(?:but|just|only)(?![a-z])")
# A near rule's window is in Chinese characters; between English words it reaches this many times further.
_LATIN_WINDOW_SCALE = 4
# English words inside a Chinese sentence (code-mixing), skipped when measuring how far a negation reaches.
_LATIN_WORDS = re.compile(r"[a-z' ]+")
# Clauses end at sentence punctuation and where a connective starts another thought; slots compose within one.
_CLAUSE_BREAK = re.compile(
    r"[。！？!?；;，,\n…~～]+|(?:但是|可是|不过|然后|结果|所以|因为|虽然)"
    r"|(?<![a-z])(?:but|because|so|then|although)(?![a-z])"
)
# Sentence-final particles a segmenter glues to the word before them (去死吧 is one word to jieba).
_PARTICLES = frozenset("吧了啊呀啦吗呢嘛哦")
# A function that cuts text into words: (start, end) of each, covering the text.
Segmenter = Callable[[str], list[tuple[int, int]]]
# Each Chinese character's toneless pinyin readings, most common first; loaded when a pinyin message first comes.
Readings = Callable[[], Mapping[str, tuple[str, ...]]]
# Cues that no question-asking context can explain away: something is happening or about to.
_UNDENIABLE_ROLES = frozenset({"act", "farewell", "pact", "lethality", "danger"})
# Suicide cues that are a wish to be dead or tiredness of living, not thoughts of ending one's life.
_PASSIVE_ROLES = frozenset({"passive", "distress", "mood", "persist"})
_FIRST_PERSON = re.compile(r"我|(?<![a-z])(?:i|i'm|im|me|myself|my)(?![a-z])")


@dataclass(slots=True)
class _Findings:
    """What the cues and rules of one message add up to, gathered as they are checked."""

    explanation: list[str]
    levels: list[Level] = field(default_factory=list)
    categories: set[str] = field(default_factory=set)
    contributing: list[Match] = field(default_factory=list)
    # Cues a negation or a resolved past stands before: what they take part in counts as yellow at most.
    damped: frozenset[int] = frozenset()
    # Whether a composition rule raised a suicide level (means + ready, a farewell + a time …).
    suicide_rule: bool = False

    def add(self, level: Level, category: str, matches: list[Match]) -> None:
        if level.rank > Level.YELLOW.rank and any(id(m) in self.damped for m in matches):
            self.explanation.append(f"denied or past ({', '.join(m.term for m in matches)}) → yellow at most")
            level = Level.YELLOW
        self.levels.append(level)
        self.categories.add(category)
        self.contributing.extend(matches)


@dataclass(slots=True)
class _Reading:
    normalized: str
    matches: tuple[Match, ...]
    clause_starts: tuple[int, ...] = (0,)

    def clause_of(self, match: Match) -> int:
        """The clause a match lies in; -1 for a cue with no position (an emoji), which belongs to every clause."""
        if match.start == NO_POSITION:
            return -1
        return bisect_right(self.clause_starts, match.start) - 1


class _Words:
    """Where the words of one normalised text begin and end, segmented only if someone asks."""

    __slots__ = ("_ends", "_segment", "_starts", "_text")

    def __init__(self, text: str, segment: Segmenter | None) -> None:
        self._text = text
        self._segment = segment
        self._starts: set[int] | None = None
        self._ends: set[int] = set()

    def aligned(self, start: int, end: int) -> bool:
        """Whether [start, end) begins a word and ends one (or ends where only a particle follows: 去死|吧)."""
        if self._segment is None:
            return True
        if self._starts is None:
            spans = self._segment(self._text)
            self._starts = {s for s, _ in spans}
            self._ends = {e for _, e in spans}
        if start not in self._starts:
            return False
        return end in self._ends or (end - start > 1 and self._text[end : end + 1] in _PARTICLES)


class TriageEngine:
    """Assesses messages against one lexicon; pure and deterministic, safe to share."""

    def __init__(
        self,
        lexicon: Lexicon,
        to_simplified: Callable[[str], str],
        segment: Segmenter | None = None,
        readings: Readings | None = None,
    ) -> None:
        self._lexicon = lexicon
        self._to_simplified = to_simplified
        self._segment = segment
        self._readings = readings
        self._pinyin_matcher: CueMatcher | None = None
        # What the bot last asked arrives as a cue of its own (role asked_<step>), so that rules compose it.
        self._asked = {
            step: Match(
                NO_POSITION,
                NO_POSITION,
                f"(asked: {step})",
                CueEntry(f"asked.{step}", "zh", f"asked_{step}", Level.NONE, "suicide", (), "", False, "", None),
            )
            for step in SCREENING_STEPS
        }
        self._matcher = CueMatcher(lexicon.entries, _trigger_entries(lexicon))
        # A conversation's earlier messages are read again with every new one; the reading of a text never
        # changes, so recent readings are kept (a pure cache, bounded).
        self._history_read = functools.lru_cache(maxsize=8192)(self._read)
        # For each role, the rules it can start: only roles of a rule's groups without everyday words (the
        # loader guarantees every rule has one), so 我 or 今晚 alone never sends a message through many rules.
        self._rules_by_role: dict[str, list[int]] = {}
        # A context role a rule names, in a group or as an exception (marks on an arm, unless it is a question).
        self._context_in_rules = _CONTEXT_ROLES & frozenset(
            role for rule in lexicon.rules for roles in (*rule.groups, rule.unless) for role in roles
        )
        # A group made only of everyday roles starts nothing; a group with one other role starts the rule from any
        # of its roles (药 may complete 药 + 带着 as well as 安眠药 can).
        for index, rule in enumerate(lexicon.rules):
            keys = [group for group in (*rule.groups, rule.any_of) if group - lexicon.everyday_roles]
            for role in frozenset().union(*keys):
                self._rules_by_role.setdefault(role, []).append(index)

    def warm_up(self) -> None:
        """Load now what is otherwise loaded on first need (the segmenter's dictionary, the pinyin reading), so
        that the first message needing them does not wait for it."""
        if self._segment is not None:
            self._segment("我想死")
        if self._readings is not None:
            self._pinyin()

    def _pinyin(self) -> CueMatcher:
        if self._pinyin_matcher is None:
            assert self._readings is not None
            lexicon = self._lexicon
            twins = pinyin_entries(lexicon.entries, self._readings())
            self._pinyin_matcher = CueMatcher((*lexicon.entries, *twins), _trigger_entries(lexicon))
        return self._pinyin_matcher

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
        if self._readings is not None and looks_like_pinyin(normalized):
            # Chinese typed in pinyin: read with every Chinese cue spelled in pinyin, syllables spaced out.
            normalized = respace(normalized)
            found: list[Match] | None = self._pinyin().find(normalized, visible, _Words(normalized, None).aligned)
        else:
            aligned = _Words(normalized, self._segment).aligned
            found = (
                self._matcher.find(normalized, visible, aligned)
                if full
                else self._matcher.scan(normalized, visible, aligned)
            )
        if not found:
            return _Reading(normalized, ())
        starts = (0, *(m.end() for m in _CLAUSE_BREAK.finditer(normalized)))
        return _Reading(normalized, tuple(found), starts)

    def assess(
        self, text: str, *, history: Sequence[str] = (), asked: str | None = None, lang: str | None = None
    ) -> Assessment:
        """Triage ``text``; ``history`` holds earlier messages of the same conversation, oldest first, and
        ``asked`` the screening step the bot asked just before (thoughts, method, intent, plan, behaviour): a yes
        to it is a disclosure.

        ``lang`` is accepted as a hint only: every language's lexicon is applied, since people mix languages.
        """
        del lang
        # With history, a message of supporting words only (今晚) may complete a rule begun earlier; after a
        # question, a bare answer (有, 嗯) completes it.
        asked_cue = self._asked.get(asked) if asked else None
        reading = self._read(text, full=bool(history) or asked_cue is not None)
        explanation: list[str] = []
        hints: list[str] = []
        risk: list[Match] = []
        roles: set[str] = set()
        third_party_markers: list[Match] = []
        for match in reading.matches:
            role = match.entry.role
            roles.add(role)
            if role in ("third_party", "reported"):
                third_party_markers.append(match)
            elif role not in _CONTEXT_ROLES:
                risk.append(match)
        if asked_cue is not None:
            risk = _answer_cues(reading, risk)
            risk.append(asked_cue)
        # A message with no cue at all is not made risky by its history: history only completes cues it has.
        if not risk and (not history or not reading.matches):
            return _QUESTION_ONLY if "info" in roles else _NOTHING

        floor = Level.NONE
        if "info" in roles:
            risk, aside = self._set_aside_questions(reading, risk)
            if aside:
                explanation.append(f"information-seeking about {', '.join(sorted({m.term for m in aside}))}")
                # A parent asking about their own child still gets a quiet follow-up.
                floor = Level.YELLOW if third_party_markers else Level.NONE
            if aside or all(m.entry.level is Level.NONE for m in risk):
                hints.append("warning_signs")

        found = _Findings(explanation, damped=_damped(reading, risk))
        for match in risk:
            if match.entry.level is not Level.NONE and match.entry.category is not None:
                found.add(match.entry.level, match.entry.category, [match])
                explanation.append(f"cue {match.term!r} ({match.entry.id}) → {match.entry.level}")
        self._apply_rules(risk, [self._history_read(message) for message in history[-HISTORY_LIMIT:]], found, reading)
        return self._conclude(found, floor, reading, third_party_markers=third_party_markers, risk=risk, hints=hints)

    def _conclude(
        self,
        found: _Findings,
        floor: Level,
        reading: _Reading,
        *,
        third_party_markers: list[Match],
        risk: list[Match],
        hints: list[str],
    ) -> Assessment:
        """The assessment from what was found: the highest level, who it is about, the cues in order."""
        levels, categories, contributing = found.levels, found.categories, found.contributing
        level = Level.highest(levels)
        if floor.rank > level.rank:
            level = floor
            categories.update(("distress", "third_party"))
        if level is Level.NONE:
            return Assessment(Level.NONE, (), (), tuple(found.explanation), tuple(hints))
        reporter = None
        if self._about_someone_else(reading.normalized, third_party_markers, contributing or risk):
            categories.add("third_party")
            contributing.extend(third_party_markers)
            found.explanation.append("reported about someone else")
            reporter = next((m.entry.reporter for m in third_party_markers if m.entry.reporter), None)
        cues = tuple(dict.fromkeys(m.term for m in sorted(contributing, key=lambda m: m.start)))
        ordered = tuple(sorted(categories, key=CATEGORY_ORDER.__getitem__))
        suicidal = {
            m.entry.role for m in contributing if m.entry.category == "suicide" and m.entry.level is not Level.NONE
        }
        passive_only = "suicide" in categories and suicidal <= _PASSIVE_ROLES and not found.suicide_rule
        return Assessment(level, ordered, cues, tuple(found.explanation), tuple(hints), reporter, passive_only)

    def _apply_rules(self, risk: list[Match], earlier: list[_Reading], found: _Findings, reading: _Reading) -> None:
        """Fire every rule whose role groups are all present (in history too, for conversation scope)."""
        by_role: dict[str, list[Match]] = {}
        for match in risk:
            by_role.setdefault(match.entry.role, []).append(match)
        # A context role a rule names (a friend reporting: 朋友说…) takes part in that rule, and only there.
        for match in reading.matches:
            if match.entry.role in self._context_in_rules:
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
            if rule.scope != "clause" and not rule.unless.isdisjoint(present):
                continue
            if rule.scope == "clause":
                used = _in_one_clause(rule, by_role, reading)
            else:
                used = self._fire(rule, by_role, earlier)
            if used is not None:
                found.add(rule.level, rule.category, [m for m in used if m in risk])
                found.suicide_rule |= rule.category == "suicide" and rule.level.rank > Level.YELLOW.rank
                terms = ", ".join(dict.fromkeys(m.term for m in used))
                found.explanation.append(f"rule {rule.id} ({terms}) → {rule.level}")

    @staticmethod
    def _set_aside_questions(reading: _Reading, risk: list[Match]) -> tuple[list[Match], list[Match]]:
        """Split cues of a question into those that still count and those set aside.

        A question about a topic or about someone else is not a disclosure: topic words, cues about another
        person and cues only quoted (「下辈子见」是什么梗) are set aside; what the writer says of themself still
        counts, and so does anything happening now unless it is only quoted.
        """
        text = reading.normalized
        quoted = _quoted_spans(text)
        reports = [m for m in reading.matches if m.entry.role == "reported" and m.start != NO_POSITION]
        aside = [
            m
            for m in risk
            if m.entry.level is not Level.NONE
            and (
                _within(m, quoted)
                or (
                    m.entry.role not in _UNDENIABLE_ROLES
                    and (m.entry.topic or not _said_of_oneself(text, m))
                    and not _reported(m, reports, text)
                )
            )
        ]
        if not aside:
            return risk, aside
        # Atoms inside a set-aside cue (自杀 in 想自杀) go with it.
        spans = [(m.start, m.end) for m in aside]
        inside = inside_any(spans)
        set_aside = {id(m) for m in aside}
        return [m for m in risk if id(m) not in set_aside and not inside(m.start, m.end)], aside

    @staticmethod
    def _fire(rule: Rule, by_role: dict[str, list[Match]], earlier: list[_Reading]) -> list[Match] | None:
        """The matches that satisfy ``rule`` in this message (and, for conversation scope, its history)."""
        here = [[m for role in group for m in by_role.get(role, ())] for group in rule.groups]
        if rule.scope == "near":
            return _near_chain(here, rule.window, ordered=rule.ordered)
        if rule.scope == "message":
            slots = _distinct_slots(rule, by_role.keys(), by_role)
            picked = _apart_groups(here) if slots is not None else None
            return picked + slots if picked is not None and slots is not None else None
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
        if rule.at_least:
            pool: dict[str, list[Match]] = {}
            for match in [*past, *(m for ms in by_role.values() for m in ms)]:
                pool.setdefault(match.entry.role, []).append(match)
            slots = _distinct_slots(rule, pool.keys(), pool)
            if slots is None:
                return None
            picked += slots
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
    for group in rule.groups:
        if group.isdisjoint(roles):
            return False
    return not rule.at_least or len(rule.any_of & roles) >= rule.at_least


def _distinct_slots(rule: Rule, roles: AbstractSet[str], by_role: dict[str, list[Match]]) -> list[Match] | None:
    """Matches of ``at_least`` different roles of ``any_of``, each from different words (楼顶 is a place and a
    height, but one sign, not two); an empty list when the rule counts no slots."""
    if not rule.at_least:
        return []
    picked: list[Match] = []
    for role in sorted(rule.any_of & roles):
        for match in by_role[role]:
            if all(_apart(match, other) for other in picked):
                picked.append(match)
                break
    return picked if len(picked) >= rule.at_least else None


def _apart_groups(groups: list[list[Match]], picked: tuple[Match, ...] = ()) -> list[Match] | None:
    """One match per group, each from different words (有没有人陪 holds 没有人陪, but is one sign, not company and
    loneliness both); None when the groups can only be met by the same words."""
    if len(picked) == len(groups):
        return list(picked)
    for match in groups[len(picked)]:
        if all(_apart(match, other) for other in picked):
            found = _apart_groups(groups, (*picked, match))
            if found is not None:
                return found
    return None


def _apart(one: Match, other: Match) -> bool:
    """Two matches from different words: positions that do not overlap (a cue without a position is its own)."""
    if NO_POSITION in (one.start, other.start):
        return one.term != other.term
    return one.end <= other.start or other.end <= one.start


def _in_one_clause(rule: Rule, by_role: dict[str, list[Match]], reading: _Reading) -> list[Match] | None:
    """Matches satisfying ``rule`` that all lie in one clause, in any order (a cue with no position fits any)."""
    clauses: dict[int, dict[str, list[Match]]] = {}
    anywhere: dict[str, list[Match]] = {}
    for role, matches in by_role.items():
        for match in matches:
            clause = reading.clause_of(match)
            target = anywhere if clause < 0 else clauses.setdefault(clause, {})
            target.setdefault(role, []).append(match)
    for clause in sorted(clauses):
        local = clauses[clause]
        for role, matches in anywhere.items():
            local.setdefault(role, []).extend(matches)
        if not _all_groups_present(rule, local.keys()) or _excepted(rule, by_role, local, reading.normalized):
            continue
        groups = [[m for role in group if role in local for m in local[role]] for group in rule.groups]
        picked = _apart_groups(groups)
        slots = _distinct_slots(rule, local.keys(), local)
        if picked is not None and slots is not None:
            return picked + slots
    return None


def _sentence_of(ends: list[int], position: int) -> int:
    """Which sentence a position lies in (0 for the first), given where sentences end; NO_POSITION for a cue that
    has none."""
    return NO_POSITION if position == NO_POSITION else bisect_left(ends, position)


def _excepted(rule: Rule, by_role: dict[str, list[Match]], local: dict[str, list[Match]], text: str) -> bool:
    """Whether what makes ``rule`` not apply (度假, 跳绳考试) stands in the clause's sentence, perhaps in another
    clause of it (我准备好绳子了，明天跳绳考试要用); a later sentence about the gym class excuses nothing."""
    if rule.unless.isdisjoint(by_role.keys()):
        return False
    here = min((m.start for ms in local.values() for m in ms if m.start != NO_POSITION), default=NO_POSITION)
    for role in rule.unless & by_role.keys():
        for match in by_role[role]:
            if NO_POSITION in (here, match.start):
                return True
            low, high = sorted((here, match.start))
            if not _SENTENCE_END.search(text, low, high):
                return True
    return False


def _damped(reading: _Reading, risk: list[Match]) -> frozenset[int]:
    """Cues of ``risk`` that a negation stands just before in their clause (我没有想死, 从来不会伤害自己), or that a
    past marker stands before when the message also says it is over (以前想过死，现在好多了)."""
    negations = [m for m in reading.matches if m.entry.role == "negation"]
    pasts = [m for m in reading.matches if m.entry.role == "past"]
    resolved = any(m.entry.role == "resolved" for m in reading.matches)
    roles = {m.entry.role for m in reading.matches}
    laughing = "laugh" in roles and "serious" not in roles
    if not negations and not (pasts and resolved) and not laughing:
        return frozenset()
    if laughing:
        # A thought said laughing (好想死啊哈哈哈, this wifi makes me want to die lol) is followed up quietly
        # (yellow), never silenced; what is happening or said as goodbye is not laughed away, and a laugh in
        # another sentence (… i just dont want to exist. anyway i have a test tmrw lol) laughs at something else.
        text = reading.normalized
        ends = [found.start() for found in _SENTENCE_END.finditer(text)]
        laughs = {_sentence_of(ends, m.start) for m in reading.matches if m.entry.role == "laugh"}
        return frozenset(
            id(m)
            for m in risk
            if m.entry.role not in _NOT_LAUGHED_AWAY
            and m.entry.category not in _HARM_TO_THEM
            and (m.start == NO_POSITION or NO_POSITION in laughs or _sentence_of(ends, m.start) in laughs)
        )
    # A negation inside another cue (the 没 of 没勇气活下去) negates nothing, nor does the 不 of a question
    # (是不是, 会不会, 有没有: the same character on both sides).
    spans = [(m.start, m.end) for m in risk if m.start != NO_POSITION and m.entry.level is not Level.NONE]
    # Nor does one inside a longer slot word (the 没 of 没勇气, 没人陪).
    words = [(m.start, m.end) for m in risk if m.start != NO_POSITION and m.entry.level is Level.NONE]
    text = reading.normalized
    negations = [
        n
        for n in negations
        if not any(s < n.end and n.start < e for s, e in spans)
        and not any(s <= n.start and n.end <= e and e - s > n.end - n.start for s, e in words)
        and not (0 < n.start < len(text) - 1 and text[n.start - 1] == text[n.start + 1])
    ]
    damped = set()
    for match in risk:
        if match.start == NO_POSITION:
            continue
        clause = reading.clause_of(match)
        negated = any(reading.clause_of(n) == clause and _negates(n, match, text) for n in negations)
        over = resolved and any(reading.clause_of(p) == clause and p.end <= match.start for p in pasts)
        if negated or over:
            damped.add(id(match))
    return frozenset(damped)


def _answer_cues(reading: _Reading, risk: list[Match]) -> list[Match]:
    """An answer that opens with a no (没有，那个伤口是打篮球摔的) says no: a 是 further on is not a yes."""
    answers = [m for m in reading.matches if m.entry.role in ("affirm", "deny") and m.start != NO_POSITION]
    if not answers or min(answers, key=lambda m: m.start).entry.role != "deny":
        return risk
    # "No, but …" (不会真的去做，就是老想) takes back part of the no: what follows the but still answers.
    but = _BUT.search(reading.normalized)
    return [m for m in risk if m.entry.role != "affirm" or (but is not None and m.start >= but.end())]


def _negates(negation: Match, match: Match, text: str) -> bool:
    """Whether ``negation`` stands close enough before ``match``; English words between a Chinese negation and
    its cue (我从来没有 thought about 伤害自己) do not count against its reach."""
    if not negation.end <= match.start:
        return False
    if negation.term.isascii():
        return match.start <= negation.end + _NEGATION_REACH_LATIN
    gap = text[negation.end : match.start]
    return len(gap) <= _NEGATION_REACH_LATIN and len(_LATIN_WORDS.sub("", gap)) <= _NEGATION_REACH


def _reported(match: Match, reports: list[Match], text: str) -> bool:
    """Whether ``match`` is what a named person said or wrote (她说最近常常想死, 作文里写了想死), reported in the same
    sentence: a report about someone, not a question about a topic, even when help is asked for with it."""
    return match.start != NO_POSITION and any(
        r.end <= match.start
        and not _SENTENCE_END.search(text, r.end, match.start)
        and not _HYPOTHETICAL.search(text, max(0, r.start - _HYPOTHETICAL_LOOKBACK), r.start)
        for r in reports
    )


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
            # A window counts Chinese characters; an English word is about as long as a few of them.
            reach = window * _LATIN_WINDOW_SCALE if last.term.isascii() else window
            low = last.end if ordered else last.start - reach - span
            high = last.end + reach
            close = None
            for position in range(bisect_left(group_starts, low), bisect_right(group_starts, high)):
                candidate = group[position]
                if ordered or candidate.end >= last.start - reach:
                    close = candidate
                    break
            if close is None:
                break
            picked.append(close)
        else:
            return picked
    return None
