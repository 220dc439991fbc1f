"""Triage quality: our labelled set (confusion matrix, recall per level, false alarms) and real language.

Run: ``.venv/bin/python bench/triage_eval.py`` (add ``--psysuicide PATH`` if shared/ is elsewhere).
The PsySUICIDE validation split is read where it lies and never copied; beside it, in the same run, a plain
17-keyword regex is scored as the baseline.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from bot.core.triage import Level  # noqa: E402
from bot.loaders.content import load_triage  # noqa: E402

LEVELS = [Level.NONE, Level.YELLOW, Level.ORANGE, Level.RED]
LABELLED = ROOT / "tests" / "data" / "triage_labelled.yml"
# Written by a second author; used while tuning the lexicon, so its figures are optimistic.
DEVELOPMENT = ROOT / "tests" / "data" / "triage_development.yml"
PSYSUICIDE = ROOT.parent / "shared" / "data" / "psysuicide" / "valid.json"
BASELINE = re.compile(
    "自杀|想死|去死|不想活|活不下去|跳楼|割腕|烧炭|安眠药|上吊|遗书|轻生|自残|结束生命|自尽|了结|一了百了"
)

# Label mapping suggested by the data set's README: these need orange or red ...
SELF_RISK_OR_AGGRESSION = {
    "自杀未遂",
    "自杀准备行为",
    "自杀计划",
    "主动自杀意图",
    "被动自杀意图",
    "自伤行为",
    "自伤意图",
    "用户攻击行为",
}
# ... others' aggression toward the writer needs at least yellow, and unrelated items should stay below orange.
OTHERS_AGGRESSION = "他人攻击行为"
UNRELATED = "与自杀/自伤/攻击行为无关"

Classifier = Callable[[str], Level]


def load_labelled(path: Path = LABELLED) -> list[dict[str, object]]:
    """The hand-written labelled messages (tests/data)."""
    items = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(items, list)
    return items


def confusion(pairs: Iterable[tuple[Level, Level]]) -> Counter[tuple[Level, Level]]:
    """Counts of (expected, predicted)."""
    return Counter(pairs)


def recall_at_least(matrix: Counter[tuple[Level, Level]], level: Level) -> float:
    """Share of items labelled ``level`` that were assessed at that level or higher."""
    total = sum(n for (exp, _), n in matrix.items() if exp is level)
    caught = sum(n for (exp, pred), n in matrix.items() if exp is level and pred.rank >= level.rank)
    return caught / total if total else float("nan")


def print_matrix(matrix: Counter[tuple[Level, Level]]) -> None:
    print(f"{'expected/got':>16}" + "".join(f"{lv.value:>8}" for lv in LEVELS) + "   total")
    for exp in LEVELS:
        row = [matrix[(exp, pred)] for pred in LEVELS]
        print(f"{exp.value:>16}" + "".join(f"{n:>8}" for n in row) + f"{sum(row):>8}")


def evaluate_labelled(classify: Callable[[str, list[str]], Level], items: list[dict[str, object]]) -> dict[str, float]:
    """Scores on the labelled set; prints the confusion matrix and the misses."""
    pairs = []
    misses = []
    for item in items:
        expected = Level(str(item["level"]))
        history = [str(h) for h in item.get("history", []) or []]  # type: ignore[attr-defined]
        got = classify(str(item["text"]), history)
        pairs.append((expected, got))
        if got.rank < expected.rank or (expected is Level.NONE and got.rank >= Level.ORANGE.rank):
            misses.append(f"  {expected.value:>6} → {got.value:<6} {item['text']}")
    matrix = confusion(pairs)
    print_matrix(matrix)
    benign = sum(n for (exp, _), n in matrix.items() if exp is Level.NONE)
    alarms = sum(n for (exp, pred), n in matrix.items() if exp is Level.NONE and pred.rank >= Level.ORANGE.rank)
    red_low = sum(n for (exp, pred), n in matrix.items() if exp is Level.RED and pred.rank < Level.ORANGE.rank)
    scores = {
        "red_recall": recall_at_least(matrix, Level.RED),
        "orange_recall": recall_at_least(matrix, Level.ORANGE),
        "yellow_recall": recall_at_least(matrix, Level.YELLOW),
        "benign_to_orange_or_red": alarms / benign if benign else 0.0,
        "red_below_orange": float(red_low),
        "exact": sum(n for (exp, pred), n in matrix.items() if exp is pred) / max(1, len(items)),
    }
    if misses:
        print(f"under-triaged or false alarms ({len(misses)}):")
        print("\n".join(misses))
    return scores


def evaluate_psysuicide(classify: Classifier, records: list[dict[str, object]]) -> dict[str, float]:
    """Recall of self-risk and aggression at ≥ orange, others' aggression at ≥ yellow, false alarms."""
    risk_total = risk_hit = others_total = others_hit = unrelated_total = unrelated_alarm = 0
    for record in records:
        labels = set(record["labels"])  # type: ignore[call-overload]
        level = classify(str(record["text"]))
        if labels & SELF_RISK_OR_AGGRESSION:
            risk_total += 1
            risk_hit += level.rank >= Level.ORANGE.rank
        elif OTHERS_AGGRESSION in labels:
            others_total += 1
            others_hit += level.rank >= Level.YELLOW.rank
        elif labels == {UNRELATED}:
            unrelated_total += 1
            unrelated_alarm += level.rank >= Level.ORANGE.rank
    return {
        "self_risk_or_aggression_recall": risk_hit / risk_total,
        "others_aggression_at_least_yellow": others_hit / others_total,
        "unrelated_raised_to_orange": unrelated_alarm / unrelated_total,
        "n_risk": risk_total,
        "n_unrelated": unrelated_total,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--psysuicide", type=Path, default=PSYSUICIDE, help="path to PsySUICIDE valid.json")
    parser.add_argument("--show-misses", type=int, default=0, help="print up to N PsySUICIDE misses")
    args = parser.parse_args()

    engine = load_triage(ROOT / "content" / "risk")
    print("== labelled set (tests/data/triage_labelled.yml) ==")
    items = load_labelled()
    ours = evaluate_labelled(lambda text, history: engine.assess(text, history=history).level, items)
    targets = {"red_recall": 1.0, "orange_recall": 0.97, "yellow_recall": 0.90}
    for key, value in ours.items():
        target = targets.get(key)
        mark = "" if target is None else (" ok" if value >= target else f" BELOW TARGET {target}")
        print(f"{key:>28}: {value:.3f}{mark}")
    print(f"{'items':>28}: {len(items)}")

    print("\n== development set by a second author (tests/data/triage_development.yml) ==")
    unseen = yaml.safe_load(DEVELOPMENT.read_text(encoding="utf-8"))
    by_label: dict[str, list[int]] = {}
    for item in unseen:
        by_label.setdefault(item["label"], []).append(engine.assess(item["text"]).level.rank)
    for label, wanted, what in (
        ("self", 2, "≥ orange"),
        ("others", 2, "≥ orange"),
        ("victim", 1, "≥ yellow"),
    ):
        ranks = by_label.get(label, [])
        print(
            f"{label + ' at ' + what:>28}: {sum(r >= wanted for r in ranks) / max(1, len(ranks)):.3f} of {len(ranks)}"
        )
    ranks = by_label.get("none", [])
    print(f"{'none raised to ≥ orange':>28}: {sum(r >= 2 for r in ranks) / max(1, len(ranks)):.3f} of {len(ranks)}")

    if not args.psysuicide.is_file():
        print(f"\n(PsySUICIDE not found at {args.psysuicide}; skipped)")
        return 0
    records = json.loads(args.psysuicide.read_text(encoding="utf-8"))
    print(f"\n== PsySUICIDE validation split ({len(records)} messages we did not write) ==")
    ours_real = evaluate_psysuicide(lambda text: engine.assess(text).level, records)

    def baseline(text: str) -> Level:
        return Level.ORANGE if BASELINE.search(text) else Level.NONE

    base_real = evaluate_psysuicide(baseline, records)
    print(f"{'':>36}{'xinqiao':>10}{'baseline':>10}{'ratio':>8}")
    for key in (
        "self_risk_or_aggression_recall",
        "others_aggression_at_least_yellow",
        "unrelated_raised_to_orange",
    ):
        a, b = ours_real[key], base_real[key]
        ratio = f"{a / b:.2f}" if b else "-"
        print(f"{key:>36}{a:>10.3f}{b:>10.3f}{ratio:>8}")
    print(f"{'(items: risk / unrelated)':>36}{int(ours_real['n_risk']):>10}{int(ours_real['n_unrelated']):>10}")
    if args.show_misses:
        shown = 0
        for record in records:
            labels = set(record["labels"])
            level = engine.assess(record["text"]).level
            missed = labels & SELF_RISK_OR_AGGRESSION and level.rank < Level.ORANGE.rank
            alarm = labels == {UNRELATED} and level.rank >= Level.ORANGE.rank
            if (missed or alarm) and shown < args.show_misses:
                shown += 1
                print(f"  {'MISS' if missed else 'FALSE'} {level.value:<6} {'/'.join(labels)}: {record['text'][:80]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
