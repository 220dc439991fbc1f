"""Lexicon and rules validation: each mistake an editor can make is reported with where and what."""

from __future__ import annotations

import pytest

from bot.core.content_error import ContentError
from bot.core.triage.lexicon import build_lexicon, parse_lexicon_document, parse_rules_document

from .lexicon_builder import fold

GOOD = {"id": "a", "role": "ideation", "level": "orange", "category": "suicide", "terms": ["想死"]}


def parse(entry: dict, **file_fields):
    return parse_lexicon_document("f.yml", {"lang": "zh", "entries": [entry], **file_fields}, fold)


def test_a_good_entry_is_parsed_with_normalised_terms():
    (entry,) = parse({**GOOD, "terms": ["想死死死", "想　死"]})
    assert entry.terms == ("想死",)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"level": "purple"}, "level 'purple'"),
        ({"role": "mood_swing"}, "role 'mood_swing'"),
        ({"category": "sadness"}, "category 'sadness'"),
        ({"terms": []}, "non-empty list"),
        ({"terms": ["死"]}, "one Chinese character"),
        ({"id": "Bad Id"}, "may only use"),
        ({"colour": "red"}, "unknown field"),
        ({"topic": "yes"}, "topic must be"),
    ],
)
def test_bad_entries_are_rejected(change, message):
    with pytest.raises(ContentError, match=message):
        parse({**GOOD, **change})


def test_a_single_character_is_allowed_as_an_atom_at_level_none():
    (entry,) = parse({**GOOD, "role": "dying", "level": "none", "terms": ["死"]})
    assert entry.terms == ("死",)


def test_context_roles_take_no_category():
    with pytest.raises(ContentError, match="takes no category"):
        parse({**GOOD, "role": "hyperbole", "level": "none"})


def test_ids_must_be_unique_across_files():
    first = parse(GOOD)
    second = parse({**GOOD, "terms": ["不想活"]})
    with pytest.raises(ContentError, match="already used"):
        build_lexicon([first, second], [])


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"all": [["ideation"]]}, "needs two role groups"),
        ({"all": [["ideation"]], "any_of": ["time"], "at_least": 2}, "more than any_of"),
        ({"any_of": ["time", "place"]}, "go together"),
        ({"all": [["ideation"], ["nonsense"]]}, "unknown role"),
        ({"scope": "week"}, "scope 'week'"),
        ({"window": 0}, "window"),
        ({"ordered": True, "scope": "message"}, "only for scope near"),
        ({"category": None}, "category"),
    ],
)
def test_bad_rules_are_rejected(rule, message):
    base = {"id": "r", "all": [["ideation"], ["means"]], "level": "red", "category": "suicide"}
    merged = {k: v for k, v in {**base, **rule}.items() if v is not None}
    with pytest.raises(ContentError, match=message):
        parse_rules_document("rules.yml", {"rules": [merged]})


def test_a_rule_made_only_of_everyday_roles_is_rejected():
    rule = parse_rules_document(
        "rules.yml", {"rules": [{"id": "r", "all": [["self"], ["wish"]], "level": "orange", "category": "suicide"}]}
    )
    with pytest.raises(ContentError, match="nothing would ever start it"):
        build_lexicon([parse(GOOD)], rule, frozenset({"self", "wish"}))


def test_everyday_roles_must_be_known_roles():
    from bot.core.triage.lexicon import parse_everyday_roles

    with pytest.raises(ContentError, match="unknown role"):
        parse_everyday_roles("rules.yml", {"everyday_roles": ["self", "gossip"], "rules": []})
