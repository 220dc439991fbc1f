"""Hotline directory: validation errors name the place; region choice is local, national, then emergency."""

from __future__ import annotations

import pytest

from bot.core.content_error import ContentError
from bot.core.hotlines import parse_hotlines


def line(id_, number, region, kind="crisis"):
    texts = {"zh": "名", "en": "name"}
    return {
        "id": id_,
        "number": number,
        "region": region,
        "kind": kind,
        "name": texts,
        "answered_by": texts,
        "hours": texts,
    }


DOC = {
    "hotlines": [
        line("national", "12356", "CN"),
        line("city", "0771-2628005", "450100"),
        line("province", "0771-0000000", "450000", kind="counselling"),
        line("other-city", "966525", "360100"),
        line("police", "110", "CN", kind="emergency"),
    ]
}


def test_local_lines_come_first_then_national_then_emergency():
    directory = parse_hotlines("h.yml", DOC)
    ids = [h.id for h in directory.for_region("450102", emergency=True)]
    assert ids == ["city", "province", "national", "police"]


def test_emergency_numbers_only_when_asked():
    directory = parse_hotlines("h.yml", DOC)
    assert "police" not in [h.id for h in directory.for_region("450100")]


def test_a_national_person_gets_only_national_lines():
    directory = parse_hotlines("h.yml", DOC)
    assert [h.id for h in directory.for_region("CN")] == ["national"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["hotlines"][0].update(number=12356), "quoted string"),
        (lambda d: d["hotlines"][0].update(region="Nanning"), "region"),
        (lambda d: d["hotlines"][0].update(kind="chat"), "kind"),
        (lambda d: d["hotlines"][0]["name"].pop("en"), "no en text"),
        (lambda d: d["hotlines"][0].update(colour="red"), "unknown field"),
        (lambda d: d["hotlines"].append(line("national", "1", "CN")), "used twice"),
        (lambda d: d["hotlines"].pop(), "emergency"),
    ],
)
def test_invalid_entries_are_rejected_with_a_reason(mutate, message):
    import copy

    doc = copy.deepcopy(DOC)
    mutate(doc)
    with pytest.raises(ContentError, match=message):
        parse_hotlines("h.yml", doc)
