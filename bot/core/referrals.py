"""The referral directory (content/referrals.yml) and the list of case outcomes (content/outcomes.yml): who a case
can be referred to in a region, and how a counselor may close it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.content_error import ContentError, line_of
from bot.core.hotlines import NATIONAL, region_covers

LANGS = ("zh", "en")
KINDS = frozenset({
    "hospital_psychiatry", "counselling_centre", "district_station", "hotline", "police", "emergency",
    "social_services",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Referral:
    """A service a case can be referred to."""

    id: str
    region: str
    kind: str
    name: Mapping[str, str]
    phone: str | None
    verified: bool
    note: Mapping[str, str]

    def covers(self, region: str | None) -> bool:
        """Whether a person in ``region`` can be referred here (a city code covers its districts)."""
        return region_covers(self.region, region)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A way a case can be closed."""

    id: str
    label: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class ReferralDirectory:
    """Every referral service, and the outcomes a case may close with."""

    services: tuple[Referral, ...]
    outcomes: tuple[Outcome, ...] = ()

    def for_region(self, region: str | None) -> list[Referral]:
        """The services for a person in ``region``: local ones first, then national ones."""
        local = [s for s in self.services if s.region != NATIONAL and s.covers(region)]
        return local + [s for s in self.services if s.region == NATIONAL]

    def get(self, referral_id: str) -> Referral | None:
        """The service with this id."""
        return next((s for s in self.services if s.id == referral_id), None)

    def outcome(self, outcome_id: str) -> Outcome | None:
        """The outcome with this id."""
        return next((o for o in self.outcomes if o.id == outcome_id), None)


def parse_referrals(source: str, document: Any) -> tuple[Referral, ...]:
    """Validate ``referrals.yml``; errors name the file, the line and the field."""
    raw = document.get("services") if isinstance(document, Mapping) else None
    if not isinstance(raw, list) or not raw:
        raise ContentError(source, 1, "expected `services:`, a list of referral services")
    services: list[Referral] = []
    for entry in raw:
        line = line_of(entry)
        if not isinstance(entry, Mapping):
            raise ContentError(source, line, "each service is a mapping with id, region, kind, name")
        service_id = entry.get("id")
        if not isinstance(service_id, str) or not service_id.strip():
            raise ContentError(source, line, "a service needs an id")
        if any(s.id == service_id for s in services):
            raise ContentError(source, line, f"{service_id}: id used twice")
        region = str(entry.get("region", ""))
        if region != NATIONAL and not (len(region) == 6 and region.isdigit()):
            raise ContentError(source, line, f"{service_id}: region {region!r} is not CN or a 6-digit code")
        kind = entry.get("kind")
        if kind not in KINDS:
            raise ContentError(source, line, f"{service_id}: kind {kind!r} is not one of {', '.join(sorted(KINDS))}")
        phone = entry.get("phone")
        if phone is not None and (not isinstance(phone, str) or not phone.strip()):
            raise ContentError(source, line, f"{service_id}: phone must be text (quote numbers)")
        verified = entry.get("verified", False)
        if not isinstance(verified, bool):
            raise ContentError(source, line, f"{service_id}: verified must be true or false")
        services.append(
            Referral(
                service_id,
                region,
                str(kind),
                _texts(entry, "name", source, service_id),
                phone,
                verified,
                _texts(entry, "note", source, service_id, required=False),
            )
        )
    return tuple(services)


def parse_outcomes(source: str, document: Any) -> tuple[Outcome, ...]:
    """Validate ``outcomes.yml``; errors name the file, the line and the field."""
    raw = document.get("outcomes") if isinstance(document, Mapping) else None
    if not isinstance(raw, list) or not raw:
        raise ContentError(source, 1, "expected `outcomes:`, a list of ways to close a case")
    outcomes: list[Outcome] = []
    for entry in raw:
        line = line_of(entry)
        outcome_id = entry.get("id") if isinstance(entry, Mapping) else None
        if not isinstance(outcome_id, str) or not outcome_id.strip() or len(outcome_id) > 40:
            raise ContentError(source, line, "an outcome needs an id of 1-40 characters")
        if any(o.id == outcome_id for o in outcomes):
            raise ContentError(source, line, f"{outcome_id}: id used twice")
        assert isinstance(entry, Mapping)
        outcomes.append(Outcome(outcome_id, _texts(entry, "label", source, outcome_id)))
    return tuple(outcomes)


def _texts(raw: Mapping[str, Any], key: str, source: str, owner: str, *, required: bool = True) -> dict[str, str]:
    value = raw.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise ContentError(source, line_of(raw), f"{owner}: {key} needs zh and en texts")
    missing = [lang for lang in LANGS if not isinstance(value.get(lang), str) or not value[lang].strip()]
    if missing:
        raise ContentError(source, line_of(value) or line_of(raw), f"{owner}: {key} has no {', '.join(missing)} text")
    return {lang: str(value[lang]) for lang in LANGS}
