"""The referral directory and the outcome list: the shipped files load, and mistakes are named with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.content_error import ContentError
from bot.core.referrals import parse_outcomes, parse_referrals
from bot.loaders.content import load_referrals

CONTENT = Path(__file__).resolve().parents[2] / "content"


def test_the_shipped_directory_serves_a_city_its_own_services_first_then_national_ones() -> None:
    directory = load_referrals(CONTENT)
    nanning = [s.id for s in directory.for_region("450103")]  # a district of Nanning
    assert nanning[:2] == ["nn-fifth-hospital", "nn-minors-centre"]
    assert "cn-12356" in nanning
    assert "nc-966525" not in nanning
    unknown = [s.id for s in directory.for_region(None)]
    assert all(directory.get(i) is not None and directory.get(i).region == "CN" for i in unknown)  # type: ignore[union-attr]
    assert directory.outcome("supported") is not None
    assert all(o.label["zh"] and o.label["en"] for o in directory.outcomes)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({}, "expected `services:`"),
        ({"services": [{"id": "x", "region": "4501", "kind": "hotline", "name": {"zh": "甲", "en": "A"}}]}, "6-digit"),
        ({"services": [{"id": "x", "region": "CN", "kind": "shop", "name": {"zh": "甲", "en": "A"}}]}, "kind 'shop'"),
        ({"services": [{"id": "x", "region": "CN", "kind": "hotline", "name": {"zh": "甲"}}]}, "no en text"),
        (
            {
                "services": [
                    {"id": "x", "region": "CN", "kind": "hotline", "name": {"zh": "甲", "en": "A"}, "phone": 110}
                ]
            },
            "quote numbers",
        ),
        (
            {"services": [{"id": "x", "region": "CN", "kind": "hotline", "name": {"zh": "甲", "en": "A"}}] * 2},
            "used twice",
        ),
    ],
)
def test_directory_mistakes_are_named(document: object, message: str) -> None:
    with pytest.raises(ContentError, match=message):
        parse_referrals("content/referrals.yml", document)


def test_outcome_mistakes_are_named() -> None:
    with pytest.raises(ContentError, match="expected `outcomes:`"):
        parse_outcomes("content/outcomes.yml", {"outcomes": []})
    with pytest.raises(ContentError, match="no zh text"):
        parse_outcomes("content/outcomes.yml", {"outcomes": [{"id": "a", "label": {"en": "A"}}]})
