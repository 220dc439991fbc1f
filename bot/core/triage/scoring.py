"""How a lexicon does on messages labelled by level: the confusion matrix and the figures read from it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.core.triage.assessment import Level

LEVELS = (Level.NONE, Level.YELLOW, Level.ORANGE, Level.RED)


@dataclass(frozen=True, slots=True)
class LabelledMessage:
    """A message with the level a person gave it, read with the conversation before it and the bot's question."""

    text: str
    level: Level
    history: tuple[str, ...] = ()
    asked: str | None = None
    line: int | None = None


@dataclass(slots=True)
class Confusion:
    """Counts of (labelled, assessed) level pairs."""

    counts: Counter[tuple[Level, Level]] = field(default_factory=Counter)

    @classmethod
    def of(cls, pairs: Iterable[tuple[Level, Level]]) -> Confusion:
        """The matrix of (labelled, assessed) pairs."""
        return cls(Counter(pairs))

    def labelled(self, level: Level) -> int:
        """How many messages carry the label ``level``."""
        return sum(n for (expected, _), n in self.counts.items() if expected is level)

    def recall(self, level: Level) -> float:
        """Share of messages labelled ``level`` assessed at that level or higher (nan when there are none)."""
        total = self.labelled(level)
        caught = sum(n for (e, got), n in self.counts.items() if e is level and got.rank >= level.rank)
        return caught / total if total else float("nan")

    @property
    def red_exact(self) -> float:
        """Share of red messages assessed red."""
        reds = self.labelled(Level.RED)
        return self.counts[(Level.RED, Level.RED)] / reds if reds else float("nan")

    @property
    def red_below_orange(self) -> int:
        """Red messages assessed yellow or none: the misses that must not happen."""
        return sum(n for (e, got), n in self.counts.items() if e is Level.RED and got.rank < Level.ORANGE.rank)

    @property
    def benign_alarms(self) -> float:
        """Share of messages labelled none raised to orange or red."""
        benign = self.labelled(Level.NONE)
        raised = sum(n for (e, got), n in self.counts.items() if e is Level.NONE and got.rank >= Level.ORANGE.rank)
        return raised / benign if benign else 0.0

    @property
    def exact(self) -> float:
        """Share of messages assessed exactly at their label."""
        total = sum(self.counts.values())
        return sum(n for (e, got), n in self.counts.items() if e is got) / total if total else float("nan")

    def table(self) -> list[str]:
        """The matrix as text lines: one row per label, one column per assessed level."""
        lines = [f"{'labelled/got':>14}" + "".join(f"{level.value:>8}" for level in LEVELS) + "   total"]
        for expected in LEVELS:
            row = [self.counts[(expected, got)] for got in LEVELS]
            lines.append(f"{expected.value:>14}" + "".join(f"{n:>8}" for n in row) + f"{sum(row):>8}")
        return lines

    def figures(self) -> list[str]:
        """Recall per level, red exactness, red below orange and benign alarms as text lines."""
        return [
            f"{'red exact':>24}: {self.red_exact:.3f}",
            f"{'red below orange':>24}: {self.red_below_orange}",
            f"{'orange recall':>24}: {self.recall(Level.ORANGE):.3f}",
            f"{'yellow recall':>24}: {self.recall(Level.YELLOW):.3f}",
            f"{'benign raised':>24}: {self.benign_alarms:.3f}",
            f"{'exact':>24}: {self.exact:.3f}",
        ]
