"""The result of triage: a level from the schools' three-level warning, with the cues behind it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Level(StrEnum):
    """Risk levels, ordered by ``rank``: red (imminent) > orange (serious) > yellow (concern) > none."""

    NONE = "none"
    YELLOW = "yellow"
    ORANGE = "orange"
    RED = "red"

    @property
    def rank(self) -> int:
        """Position in the order none < yellow < orange < red."""
        return _RANK[self]

    @classmethod
    def highest(cls, levels: list[Level] | tuple[Level, ...]) -> Level:
        """The most serious of ``levels`` (none for an empty list)."""
        return max(levels, key=_RANK.__getitem__, default=cls.NONE)


_RANK = {Level.NONE: 0, Level.YELLOW: 1, Level.ORANGE: 2, Level.RED: 3}

# DESIGN.md §5 triage categories, listed most urgent first; outputs keep this order.
CATEGORIES: tuple[str, ...] = (
    "suicide",
    "danger",
    "harm_others",
    "self_harm",
    "sexual_abuse",
    "abuse",
    "exploitation",
    "bullying",
    "eating",
    "distress",
    "third_party",
)
CATEGORY_ORDER = {name: index for index, name in enumerate(CATEGORIES)}


@dataclass(frozen=True, slots=True)
class Assessment:
    """How worried to be about one message, and why."""

    level: Level
    categories: tuple[str, ...] = ()
    cues: tuple[str, ...] = ()
    explanation: tuple[str, ...] = ()
    hints: tuple[str, ...] = field(default=())
    # For a report about someone else: who is writing (parent, teacher, friend), when the markers say.
    reporter: str | None = None
    # Whether the suicide cues are only a wish to be dead or tiredness of living (活着好累, 不想醒来), not thoughts
    # of ending one's life: the Columbia screener then asks about those thoughts first.
    passive_only: bool = False

    def as_contract(self, *, explain: bool = False) -> dict[str, object]:
        """The JSON shape of the ``xinqiao triage`` contract (DESIGN.md §5)."""
        data: dict[str, object] = {
            "level": self.level.value,
            "categories": list(self.categories),
            "cues": list(self.cues),
        }
        if explain:
            data["explanation"] = list(self.explanation)
            data["hints"] = list(self.hints)
        return data
