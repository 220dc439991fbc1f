"""The risk lexicon and composition rules as validated data, built from parsed YAML documents."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.core.content_error import ContentError, line_of
from bot.core.triage.assessment import CATEGORIES, Level

# Roles are the vocabulary the rules file composes; see docs/triage.md for what each one means.
ROLES: frozenset[str] = frozenset(
    {
        "ideation", "passive", "means", "quantity", "plan", "time", "place", "did", "act", "farewell",
        "pact", "lethality", "ask", "death", "selfharm", "harm_others", "abuse", "sexual_abuse",
        "exploitation", "danger", "bullying", "eating", "distress", "mood", "persist", "third_party",
        "info", "hyperbole", "retraction",
        # Atoms: single words that mean nothing alone and are only ever composed by rules.
        "self", "other", "wish", "dying", "curse", "killing", "relief", "ease", "harm_verb", "body", "hit", "family",
        "goodbye", "unreachable", "hiding", "pact_hint", "secret", "how",
        "peer", "taunt", "weight", "restrict", "eat", "purge", "binge", "guilt", "regret", "weigh", "sleep", "night",
        "panic", "trigger", "anticip", "dread", "anger", "parents", "conflict", "scold", "blame", "child", "change",
        "lately", "vital", "mine", "damage", "degrade", "namecall", "insult",
        "worthneg", "nobody", "care",
        # Expressions (zh/expression.yml)
        "despair", "end_wish", "resolve", "depart", "detach", "living", "life_world", "pointless", "burden",
        "self_is", "only_way", "if_gone", "consequence", "without_me", "better", "no_wake", "plea", "release",
        "accident", "accident_me", "jump", "fear_act", "urge_tail", "indifferent", "edge", "step", "self_now",
        "high_place", "ask_place", "research", "med", "stash", "plan_detail", "urge_means", "grief", "join",
        "along", "go_together", "no_return", "rebirth", "resign", "die_now", "all_stop", "incl_self", "self_obj",
        "destroy", "from_world", "erase", "console", "everyone", "bid", "last", "talk", "erase_all", "trace",
        "entrust", "dont_stop", "company", "alone", "asked", "conceal", "sh_tool", "sh_body", "sh_act", "relapse",
        "relapse_act", "wound", "self_made", "wound_many", "hide_scar", "blood", "calm", "head", "bang", "mild_sh",
        "severity", "lock_self", "gaze", "threat_mark", "beat_other", "assault_other", "assault", "weapon", "hire",
        "ba_other", "kill_end", "agg_hit", "harm_outcome", "kill_pair", "target", "curse_verb", "food_target",
        "poison", "arson", "menace", "know_where", "revenge", "fall", "jump_now", "hoard", "med_bare", "life_obj",
        "reject", "alone_go",
        # Slots composed order-free within a clause (rules.yml `compose`): readiness, presence and signs.
        "ready", "now", "injury", "ongoing", "giving_away", "hand_over", "safekeeping", "minor_injury", "at_door",
        "lack", "self_at", "message_last", "attempt", "dismiss", "farewell_hint", "violence_now", "meet_up",
        "reported", "victim", "harm_act",
        # Veiled acts and goodbyes, marks a parent finds (zh/farewells.yml, en/farewells.yml).
        "did_vague", "fear_now", "wait_unseen", "act_start", "marks", "limb", "explained_marks", "deadline",
        "meaningless", "decided_end", "strange_body", "med_taken",
        # Context: negation and the past (a cue they stand before counts as yellow at most), answers.
        "negation", "past", "resolved", "affirm", "deny",
        "asked_thoughts", "asked_method", "asked_intent", "asked_plan", "asked_behaviour", "asked_self_harm",
        "asked_safe_now", "not_yet", "leisure", "sick", "stranger", "follows", "intimate_media", "leak_threat",
        "demand", "touch", "private_body", "door_bang", "away_parents", "miss", "laugh", "serious",
    }
)  # fmt: skip
# The screening steps the bot asks in the Columbia order; an answer to one arrives as the role ``asked_<step>``.
SCREENING_STEPS: tuple[str, ...] = ("thoughts", "method", "intent", "plan", "behaviour", "self_harm", "safe_now")
# Context roles change how other cues read; they carry no risk category of their own.
UNCATEGORISED_ROLES: frozenset[str] = frozenset({"info", "hyperbole"})
LANGS: frozenset[str] = frozenset({"zh", "en"})
ENTRY_FIELDS = frozenset({"id", "role", "level", "terms", "note", "topic", "category", "word", "reporter"})
# Who writes about someone else: a parent, a teacher, a young person about a friend.
REPORTERS: tuple[str, ...] = ("parent", "teacher", "friend")
SCOPES: frozenset[str] = frozenset({"near", "clause", "message", "conversation"})
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")
_ALREADY_FOLDED = re.compile(r"[a-z']+(?: [a-z']+)*")
_STUTTER = re.compile(r"([a-z])\1\1")


@dataclass(frozen=True, slots=True, eq=False)
class CueEntry:
    """One lexicon entry: terms that, once matched, say something about risk. Compared by identity."""

    id: str
    lang: str
    role: str
    level: Level
    category: str | None
    terms: tuple[str, ...]
    note: str
    topic: bool
    source: str
    line: int | None
    # ``word: true``: counts only as a whole word of the message (a segmenter says where words are): 死 in 我想死,
    # not in 死水; 杀 in 杀了他, not in 自杀. For characters that are everyday parts of unrelated words.
    word: bool = False
    # On a third-party marker: who is writing when it is said (我女儿 → a parent, 我的学生 → a teacher, 我朋友 → a
    # friend), so that the conversation goes on speaking to them.
    reporter: str | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """Cues of every group present together (within ``scope``) raise the message to ``level``; with ``at_least``,
    also that many different roles of ``any_of`` (slots counted order-free, e.g. two signs of imminence)."""

    id: str
    groups: tuple[frozenset[str], ...]
    level: Level
    category: str
    scope: str
    window: int
    ordered: bool
    note: str
    any_of: frozenset[str] = frozenset()
    at_least: int = 0
    # Roles that, present in the same scope, stop the rule (a place with 度假 or 看星星 is not a danger).
    unless: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Lexicon:
    """All cue entries and rules, ready to compile into a matcher."""

    entries: tuple[CueEntry, ...]
    rules: tuple[Rule, ...]
    # Roles made of everyday words (我, 想, 老师, 今晚): finding only these never needs a full look.
    everyday_roles: frozenset[str] = frozenset()


def _require(mapping: Any, key: str, source: str, expected: type | tuple[type, ...]) -> Any:
    if key not in mapping:
        raise ContentError(source, line_of(mapping), f"missing field {key!r}")
    value = mapping[key]
    if not isinstance(value, expected) or (isinstance(value, str) and not value.strip()):
        names = expected.__name__ if isinstance(expected, type) else " or ".join(t.__name__ for t in expected)
        raise ContentError(source, line_of(mapping), f"field {key!r} must be a non-empty {names}")
    return value


def _check_fields(mapping: Mapping[str, Any], allowed: Iterable[str], source: str, what: str) -> None:
    unknown = sorted(set(mapping) - set(allowed))
    if unknown:
        raise ContentError(source, line_of(mapping), f"unknown field(s) in {what}: {', '.join(unknown)}")


def _level(value: Any, source: str, node: Any) -> Level:
    try:
        return Level(value)
    except ValueError:
        allowed = ", ".join(level.value for level in Level)
        raise ContentError(source, line_of(node), f"level {value!r} is not one of {allowed}") from None


def _category(value: Any, source: str, node: Any) -> str:
    if value not in CATEGORIES:
        raise ContentError(source, line_of(node), f"category {value!r} is not one of {', '.join(CATEGORIES)}")
    return str(value)


def _is_single_han(term: str) -> bool:
    return len(term) == 1 and unicodedata.category(term) == "Lo"


def parse_lexicon_document(source: str, document: Any, normalize: Callable[[str], str]) -> list[CueEntry]:
    """Validate one lexicon file's parsed YAML and return its entries with terms normalised."""
    if not isinstance(document, Mapping):
        raise ContentError(source, line_of(document), "a lexicon file is a mapping with lang and entries")
    _check_fields(document, {"lang", "category", "entries"}, source, "lexicon file")
    lang = _require(document, "lang", source, str)
    if lang not in LANGS:
        raise ContentError(source, line_of(document), f"lang {lang!r} is not one of {', '.join(sorted(LANGS))}")
    default_category = document.get("category")
    if default_category is not None:
        _category(default_category, source, document)
    raw_entries = _require(document, "entries", source, list)
    entries = []
    for raw in raw_entries:
        if not isinstance(raw, Mapping):
            raise ContentError(source, line_of(raw_entries), "each entry is a mapping with id, role, level, terms")
        entries.append(_parse_entry(raw, lang, default_category, source, normalize))
    return entries


def _parse_entry(
    raw: Mapping[str, Any], lang: str, default_category: Any, source: str, normalize: Callable[[str], str]
) -> CueEntry:
    _check_fields(raw, ENTRY_FIELDS, source, "entry")
    entry_id = _require(raw, "id", source, str)
    if not set(entry_id) <= _ID_CHARS:
        raise ContentError(source, line_of(raw), f"id {entry_id!r} may only use a-z, 0-9, '_', '.', '-'")
    role = _require(raw, "role", source, str)
    if role not in ROLES:
        raise ContentError(source, line_of(raw), f"{entry_id}: role {role!r} is not one of {', '.join(sorted(ROLES))}")
    category = raw.get("category", default_category)
    if role in UNCATEGORISED_ROLES:
        if "category" in raw:
            raise ContentError(source, line_of(raw), f"{entry_id}: a {role} entry takes no category")
        category = None
    elif category is None:
        raise ContentError(source, line_of(raw), f"{entry_id}: no category (set it on the entry or the file)")
    terms_raw = _require(raw, "terms", source, list)
    if not terms_raw:
        raise ContentError(source, line_of(raw), f"{entry_id}: terms must be a non-empty list")
    terms: dict[str, None] = {}
    for term in terms_raw:
        if not isinstance(term, str | int) or not str(term).strip():
            raise ContentError(source, line_of(raw), f"{entry_id}: every term must be a non-empty string")
        text = str(term)
        # Plain lower-case words are already in matching form; skipping them keeps start-up fast.
        folded = text if _ALREADY_FOLDED.fullmatch(text) and not _STUTTER.search(text) else normalize(text)
        if len(folded) == 1 and _is_single_han(folded) and raw.get("level") != Level.NONE.value:
            raise ContentError(
                source,
                line_of(raw),
                f"{entry_id}: term {term!r} is one Chinese character and would match everywhere;"
                " single characters are allowed only at level none, as atoms for rules",
            )
        if folded:
            terms[folded] = None
    topic = raw.get("topic", False)
    if not isinstance(topic, bool):
        raise ContentError(source, line_of(raw), f"{entry_id}: topic must be true or false")
    word = raw.get("word", False)
    if not isinstance(word, bool):
        raise ContentError(source, line_of(raw), f"{entry_id}: word must be true or false")
    reporter = _reporter(raw, role, source, entry_id)
    note = raw.get("note", "")
    return CueEntry(
        id=entry_id,
        lang=lang,
        role=role,
        level=_level(_require(raw, "level", source, str), source, raw),
        category=None if category is None else _category(category, source, raw),
        terms=tuple(terms),
        note=str(note),
        topic=topic,
        source=source,
        line=line_of(raw),
        word=word,
        reporter=reporter,
    )


def _reporter(raw: Mapping[str, Any], role: str, source: str, entry_id: str) -> str | None:
    reporter = raw.get("reporter")
    if reporter is not None and (reporter not in REPORTERS or role not in {"third_party", "reported"}):
        raise ContentError(
            source,
            line_of(raw),
            f"{entry_id}: reporter is one of {', '.join(REPORTERS)}, on a third_party or reported entry",
        )
    return reporter if isinstance(reporter, str) else None


def parse_rules_document(source: str, document: Any) -> list[Rule]:
    """Validate the rules file: each rule names role groups that must co-occur, a level and a scope."""
    if not isinstance(document, Mapping) or not isinstance(document.get("rules"), list):
        raise ContentError(source, line_of(document), "the rules file is a mapping with a list under 'rules'")
    _check_fields(document, {"rules", "everyday_roles"}, source, "rules file")
    rules = []
    for raw in document["rules"]:
        if not isinstance(raw, Mapping):
            raise ContentError(source, line_of(document["rules"]), "each rule is a mapping")
        rules.append(_parse_rule(raw, source))
    return rules


def _parse_rule(raw: Mapping[str, Any], source: str) -> Rule:
    fields = {"id", "all", "any_of", "at_least", "unless", "level", "category", "scope", "window", "ordered", "note"}
    _check_fields(raw, fields, source, "rule")
    rule_id = _require(raw, "id", source, str)
    groups_raw, any_raw, at_least = raw.get("all", []), raw.get("any_of", []), raw.get("at_least", 0)
    if not isinstance(groups_raw, list) or not isinstance(any_raw, list):
        raise ContentError(source, line_of(raw), f"{rule_id}: 'all' and 'any_of' are lists")
    if not isinstance(at_least, int) or at_least < 0 or bool(any_raw) != bool(at_least):
        raise ContentError(source, line_of(raw), f"{rule_id}: 'any_of' and 'at_least' (a positive number) go together")
    if at_least > len(any_raw):
        raise ContentError(source, line_of(raw), f"{rule_id}: at_least {at_least} is more than any_of lists")
    if len(groups_raw) + (1 if at_least else 0) < 2 and at_least < 2:
        raise ContentError(source, line_of(raw), f"{rule_id}: a rule needs two role groups, or any_of with at_least 2")
    groups = [_role_group(group, rule_id, source, raw) for group in groups_raw]
    scope = raw.get("scope", "message")
    if scope not in SCOPES:
        raise ContentError(
            source, line_of(raw), f"{rule_id}: scope {scope!r} is not one of {', '.join(sorted(SCOPES))}"
        )
    window = raw.get("window", 12)
    if not isinstance(window, int) or window < 1:
        raise ContentError(source, line_of(raw), f"{rule_id}: window must be a positive number of characters")
    ordered = raw.get("ordered", False)
    if not isinstance(ordered, bool) or (ordered and scope != "near"):
        raise ContentError(source, line_of(raw), f"{rule_id}: ordered is true or false, and only for scope near")
    return Rule(
        id=rule_id,
        groups=tuple(groups),
        level=_level(_require(raw, "level", source, str), source, raw),
        category=_category(_require(raw, "category", source, str), source, raw),
        scope=scope,
        window=window,
        ordered=ordered,
        note=str(raw.get("note", "")),
        any_of=_role_group(any_raw, rule_id, source, raw) if any_raw else frozenset(),
        at_least=at_least,
        unless=_role_group(raw["unless"], rule_id, source, raw) if raw.get("unless") else frozenset(),
    )


def _role_group(group: Any, rule_id: str, source: str, raw: Mapping[str, Any]) -> frozenset[str]:
    members = [group] if isinstance(group, str) else group
    if not isinstance(members, Sequence) or not members:
        raise ContentError(source, line_of(raw), f"{rule_id}: each group is a role or a list of roles")
    unknown = [role for role in members if role not in ROLES]
    if unknown:
        raise ContentError(source, line_of(raw), f"{rule_id}: unknown role(s) {', '.join(map(str, unknown))}")
    return frozenset(members)


def parse_everyday_roles(source: str, document: Any) -> frozenset[str]:
    """The rules file's ``everyday_roles``: roles whose words are too common to make a message worth a full look."""
    raw = document.get("everyday_roles", []) if isinstance(document, Mapping) else []
    if not isinstance(raw, list) or not all(isinstance(role, str) for role in raw):
        raise ContentError(source, line_of(document), "everyday_roles is a list of role names")
    unknown = sorted(set(raw) - ROLES)
    if unknown:
        raise ContentError(source, line_of(raw), f"everyday_roles: unknown role(s) {', '.join(unknown)}")
    return frozenset(raw)


def build_lexicon(
    entry_lists: Iterable[list[CueEntry]],
    rules: list[Rule],
    everyday_roles: frozenset[str] = frozenset(),
    rules_source: str = "rules.yml",
) -> Lexicon:
    """Join parsed files into one lexicon, rejecting ids used twice and rules that nothing could start."""
    seen: dict[str, CueEntry] = {}
    for entries in entry_lists:
        for entry in entries:
            if entry.id in seen:
                first = seen[entry.id]
                raise ContentError(
                    entry.source, entry.line, f"id {entry.id!r} already used at {first.source}:{first.line}"
                )
            seen[entry.id] = entry
    rule_ids = [rule.id for rule in rules]
    duplicates = sorted({rule_id for rule_id in rule_ids if rule_ids.count(rule_id) > 1})
    if duplicates:
        raise ContentError(rules_source, None, f"rule id(s) used twice: {', '.join(duplicates)}")
    for rule in rules:
        startable = any(group - everyday_roles for group in rule.groups) or bool(rule.any_of - everyday_roles)
        if not startable:
            raise ContentError(
                rules_source, None, f"{rule.id}: every role is an everyday one, so nothing would ever start it"
            )
    return Lexicon(entries=tuple(seen.values()), rules=tuple(rules), everyday_roles=everyday_roles)
