"""The triage targets of the issue, enforced on our labelled set (tests/data/triage_labelled.yml)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from bot.core.triage import Level

LABELLED = Path(__file__).resolve().parents[1] / "data" / "triage_labelled.yml"
ITEMS = yaml.safe_load(LABELLED.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def results(engine):
    return [(item, engine.assess(item["text"], history=item.get("history") or [])) for item in ITEMS]


def share(results, expected: str, at_least: Level) -> float:
    chosen = [a for item, a in results if item["level"] == expected]
    return sum(a.level.rank >= at_least.rank for a in chosen) / len(chosen)


def misses(results, expected: str, at_least: Level) -> list[str]:
    return [
        f"{a.level}: {item['text']}"
        for item, a in results
        if item["level"] == expected and a.level.rank < at_least.rank
    ]


def test_the_set_is_big_and_varied_enough():
    assert len(ITEMS) >= 400
    tags = Counter(tag for item in ITEMS for tag in item["tags"])
    for tag in (
        "traditional",
        "english",
        "slang",
        "obfuscation",
        "hyperbole",
        "third_party",
        "info_seeking",
        "history",
    ):
        assert tags[tag] >= 10, tag


def test_every_red_message_is_red(results):
    assert misses(results, "red", Level.RED) == []


def test_no_red_message_falls_below_orange(results):
    assert misses(results, "red", Level.ORANGE) == []


def test_orange_recall_is_at_least_97_percent(results):
    assert share(results, "orange", Level.ORANGE) >= 0.97, misses(results, "orange", Level.ORANGE)


def test_yellow_recall_is_at_least_90_percent(results):
    assert share(results, "yellow", Level.YELLOW) >= 0.90, misses(results, "yellow", Level.YELLOW)


def test_benign_messages_raised_to_orange_or_red_are_at_most_3_percent(results):
    alarms = [item["text"] for item, a in results if item["level"] == "none" and a.level.rank >= Level.ORANGE.rank]
    benign = sum(item["level"] == "none" for item in ITEMS)
    assert len(alarms) / benign <= 0.03, alarms


def test_expected_categories_are_reported(results):
    wrong = [
        (item["text"], a.categories)
        for item, a in results
        if a.level.rank >= Level(item["level"]).rank and not set(item.get("categories", [])) <= set(a.categories)
    ]
    assert len(wrong) / len(ITEMS) <= 0.10, wrong[:20]


def test_information_seeking_gets_the_warning_signs_hint(results):
    asked = [a for item, a in results if "info_seeking" in item["tags"] and item["level"] == "none"]
    assert sum("warning_signs" in a.hints for a in asked) / len(asked) >= 0.8
