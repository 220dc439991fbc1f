"""The hotline directory: validated entries and the choice of lines for a person's region."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.content_error import ContentError, line_of

KINDS = ("crisis", "counselling", "youth", "emergency")
AUDIENCES = frozenset({"student", "parent", "teacher"})
LANGS = ("zh", "en")
NATIONAL = "CN"


@dataclass(frozen=True, slots=True)
class Hotline:
    """One phone line: who answers, when, and for which region."""

    id: str
    number: str
    region: str
    kind: str
    name: Mapping[str, str]
    answered_by: Mapping[str, str]
    hours: Mapping[str, str]
    audience: tuple[str, ...]
    note: str

    def covers(self, region: str) -> bool:
        """Whether a person in ``region`` (a GB/T 2260 code or CN) can use this line."""
        return region_covers(self.region, region)


def region_covers(area: str, region: str | None) -> bool:
    """Whether a service for ``area`` (CN, a province ``xx0000``, a city ``xxxx00`` or a district) serves a person
    in ``region`` (None: unknown, served only by national services)."""
    if area == NATIONAL:
        return True
    if not region:
        return False
    if area.endswith("0000"):
        return region.startswith(area[:2])
    if area.endswith("00"):
        return region.startswith(area[:4])
    return region == area


@dataclass(frozen=True, slots=True)
class HotlineDirectory:
    """All hotlines, in file order."""

    hotlines: tuple[Hotline, ...]

    def for_region(self, region: str, *, emergency: bool = False) -> list[Hotline]:
        """Lines for ``region``: local ones first, then national ones, then 110/120 when ``emergency``."""
        local = [h for h in self.hotlines if h.region != NATIONAL and h.kind != "emergency" and h.covers(region)]
        national = [h for h in self.hotlines if h.region == NATIONAL and h.kind != "emergency"]
        urgent = [h for h in self.hotlines if h.kind == "emergency" and h.covers(region)] if emergency else []
        return local + national + urgent

    def regions(self) -> list[str]:
        """Every region code that has a line of its own, national first."""
        return sorted({h.region for h in self.hotlines}, key=lambda code: (code != NATIONAL, code))


def _texts(raw: Mapping[str, Any], key: str, source: str, hotline_id: str) -> dict[str, str]:
    value = raw.get(key)
    if not isinstance(value, Mapping):
        raise ContentError(source, line_of(raw), f"{hotline_id}: {key} needs zh and en texts")
    missing = [lang for lang in LANGS if not isinstance(value.get(lang), str) or not value[lang].strip()]
    if missing:
        raise ContentError(
            source, line_of(value) or line_of(raw), f"{hotline_id}: {key} has no {', '.join(missing)} text"
        )
    return {lang: str(value[lang]).strip() for lang in LANGS}


def parse_hotlines(source: str, document: Any) -> HotlineDirectory:
    """Validate ``content/hotlines.yml`` (see the comments at its top) into a directory."""
    if not isinstance(document, Mapping) or not isinstance(document.get("hotlines"), list):
        raise ContentError(source, line_of(document), "expected a mapping with a list under 'hotlines'")
    allowed = {"id", "number", "region", "kind", "name", "answered_by", "hours", "audience", "note"}
    seen: set[str] = set()
    hotlines = []
    for raw in document["hotlines"]:
        if not isinstance(raw, Mapping):
            raise ContentError(source, line_of(document["hotlines"]), "each hotline is a mapping")
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise ContentError(source, line_of(raw), f"unknown field(s): {', '.join(unknown)}")
        hotline_id = raw.get("id")
        if not isinstance(hotline_id, str) or not hotline_id:
            raise ContentError(source, line_of(raw), "hotline without an id")
        if hotline_id in seen:
            raise ContentError(source, line_of(raw), f"id {hotline_id!r} used twice")
        seen.add(hotline_id)
        number = raw.get("number")
        if not isinstance(number, str) or not number.replace("-", "").isdigit():
            raise ContentError(source, line_of(raw), f"{hotline_id}: number must be a quoted string of digits and '-'")
        region = raw.get("region")
        if not isinstance(region, str) or not (region == NATIONAL or (len(region) == 6 and region.isdigit())):
            raise ContentError(source, line_of(raw), f"{hotline_id}: region must be CN or a 6-digit code, quoted")
        kind = raw.get("kind")
        if kind not in KINDS:
            raise ContentError(source, line_of(raw), f"{hotline_id}: kind must be one of {', '.join(KINDS)}")
        audience = raw.get("audience", sorted(AUDIENCES))
        if not isinstance(audience, list) or not set(audience) <= AUDIENCES or not audience:
            raise ContentError(
                source, line_of(raw), f"{hotline_id}: audience is a list of {', '.join(sorted(AUDIENCES))}"
            )
        hotlines.append(
            Hotline(
                id=hotline_id,
                number=number,
                region=region,
                kind=str(kind),
                name=_texts(raw, "name", source, hotline_id),
                answered_by=_texts(raw, "answered_by", source, hotline_id),
                hours=_texts(raw, "hours", source, hotline_id),
                audience=tuple(audience),
                note=str(raw.get("note", "")).strip(),
            )
        )
    if not any(h.kind == "emergency" for h in hotlines):
        raise ContentError(source, None, "the directory must list the emergency numbers (kind: emergency)")
    return HotlineDirectory(tuple(hotlines))
