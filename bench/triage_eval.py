"""Triage quality on messages labelled by level, and on real language, beside a 17-keyword baseline in the same run.

Run: ``.venv/bin/python bench/triage_eval.py`` (``--show N`` prints up to N misses of each tuning set;
``--heldout`` adds the held-out set and PsySUICIDE's odd half, whose misses are never printed: they are the honest
figures, not tuning data; ``--reference REV`` scores a git revision's triage, its code and lexicon, beside ours in
the same run).

Sets:
- labelled (tests/data/triage_labelled.yml) and development (tests/data/triage_development*.yml; v3 is indirect
  and veiled wording by a third author, 420 messages, scored before tuning: 76 of 260 risky messages missed): written by
  the team and used while tuning; their figures are optimistic.
- held-out (tests/data/triage_heldout.yml): written by a helper who never saw the lexicon, the rules or the
  other sets; scored at the end only.
- PsySUICIDE validation split (read where it lies in ../shared/data, never copied), cut once in two halves by
  ``idx`` parity: the even half may be tuned on, the odd half is reported untouched.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from revision import run_in_revision  # the sibling bench/revision.py

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from bot.core.triage import Level  # noqa: E402
from bot.core.triage.scoring import Confusion  # noqa: E402
from bot.loaders.content import load_triage  # noqa: E402

DATA = ROOT / "tests" / "data"
LABELLED = DATA / "triage_labelled.yml"
DEVELOPMENT = DATA / "triage_development.yml"  # older scheme: self / others / victim / none
DEVELOPMENT_V2 = DATA / "triage_development_v2.yml"
DEVELOPMENT_V3 = DATA / "triage_development_v3.yml"  # indirect and veiled wording, a third author
HELDOUT = DATA / "triage_heldout.yml"
PSYSUICIDE = ROOT.parent / "shared" / "data" / "psysuicide" / "valid.json"
BASELINE = re.compile(
    "自杀|想死|去死|不想活|活不下去|跳楼|割腕|烧炭|安眠药|上吊|遗书|轻生|自残|结束生命|自尽|了结|一了百了"
)
TARGETS = {"red_exact": 0.95, "red_below_orange": 0, "orange_recall": 0.97, "yellow_recall": 0.90}
TARGET_BENIGN_ALARMS = 0.03
TARGET_PSY_RECALL, TARGET_PSY_ALARMS = 0.95, 0.03

# PsySUICIDE labels (its README's suggested mapping): these need orange or red ...
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

# (text, history, the bot's last screening question or None) → level
Classify = Callable[[str, Sequence[str], str | None], Level]


def items_of(path: Path) -> list[dict[str, Any]]:
    """The labelled items of a set file (a list, or a mapping with ``items``)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = data["items"] if isinstance(data, dict) else data
    assert isinstance(items, list)
    return items


def score_levels(
    classify: Classify, items: Iterable[dict[str, Any]], *, show: int = 0, name: str = ""
) -> dict[str, float]:
    """Confusion matrix, recall per level, red exactness and false alarms of a level-labelled set (the same figures
    as ``xinqiao lexicon test``, from ``bot.core.triage.scoring``)."""
    pairs, misses = [], []
    for item in items:
        expected = Level(str(item["level"]))
        history = [str(h) for h in item.get("history") or item.get("context") or []]
        got = classify(str(item["text"]), history, item.get("bot_asked"))
        pairs.append((expected, got))
        under = got.rank < expected.rank
        alarm = expected is Level.NONE and got.rank >= Level.ORANGE.rank
        if under or alarm:
            misses.append(f"  {expected.value:>6} → {got.value:<6} {item['text']}")
    matrix = Confusion.of(pairs)
    if name:
        print(f"\n== {name} ==")
    print("\n".join(matrix.table()))
    scores = {
        "red_exact": matrix.red_exact,
        "red_below_orange": float(matrix.red_below_orange),
        "orange_recall": matrix.recall(Level.ORANGE),
        "yellow_recall": matrix.recall(Level.YELLOW),
        "benign_to_orange_or_red": matrix.benign_alarms,
        "exact": matrix.exact,
        "items": float(len(pairs)),
    }
    for key, value in scores.items():
        mark = ""
        if key in TARGETS:
            ok = value <= TARGETS[key] if key == "red_below_orange" else value >= TARGETS[key]
            mark = " ok" if ok else f"  (target {TARGETS[key]})"
        elif key == "benign_to_orange_or_red":
            mark = " ok" if value <= TARGET_BENIGN_ALARMS else f"  (target ≤ {TARGET_BENIGN_ALARMS})"
        shown = f"{int(value)}" if key in {"items", "red_below_orange"} else f"{value:.3f}"
        print(f"{key:>28}: {shown}{mark}")
    if show and misses:
        print(f"under-triaged or false alarms ({len(misses)}, first {min(show, len(misses))}):")
        print("\n".join(misses[:show]))
    return scores


def score_old_development(classify: Classify, path: Path, *, show: int = 0) -> None:
    """The first development set's own scheme: self / others at ≥ orange, victim at ≥ yellow, none below."""
    items = yaml.safe_load(path.read_text(encoding="utf-8"))
    by_label: dict[str, list[tuple[int, str]]] = {}
    for item in items:
        by_label.setdefault(item["label"], []).append((classify(item["text"], [], None).rank, item["text"]))
    print(f"\n== development set, first author ({path.name}) ==")
    misses = []
    for label, wanted, what in (("self", 2, "≥ orange"), ("others", 2, "≥ orange"), ("victim", 1, "≥ yellow")):
        ranks = by_label.get(label, [])
        misses += [f"  {label:>6} got rank {r}: {t}" for r, t in ranks if r < wanted]
        share = sum(r >= wanted for r, _ in ranks) / max(1, len(ranks))
        print(f"{label + ' at ' + what:>28}: {share:.3f} of {len(ranks)}")
    ranks = by_label.get("none", [])
    misses += [f"    none got rank {r}: {t}" for r, t in ranks if r >= 2]
    print(f"{'none raised to ≥ orange':>28}: {sum(r >= 2 for r, _ in ranks) / max(1, len(ranks)):.3f} of {len(ranks)}")
    if show and misses:
        print("\n".join(misses[:show]))


def score_psysuicide(classify: Callable[[str], Level], records: list[dict[str, Any]]) -> dict[str, float]:
    """Recall of self-risk and aggression at ≥ orange, others' aggression at ≥ yellow, false alarms."""
    risk_total = risk_hit = others_total = others_hit = unrelated_total = unrelated_alarm = 0
    for record in records:
        labels = set(record["labels"])
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
        "self_risk_or_aggression_recall": risk_hit / max(1, risk_total),
        "others_aggression_at_least_yellow": others_hit / max(1, others_total),
        "unrelated_raised_to_orange": unrelated_alarm / max(1, unrelated_total),
        "n_risk": risk_total,
        "n_unrelated": unrelated_total,
    }


def baseline(text: str) -> Level:
    """The 17-keyword regex every lexicon must beat."""
    return Level.ORANGE if BASELINE.search(text) else Level.NONE


def print_psysuicide(name: str, records: list[dict[str, Any]], classify: Callable[[str], Level], show: int) -> None:
    ours, base = score_psysuicide(classify, records), score_psysuicide(baseline, records)
    print(f"\n== PsySUICIDE, {name} ({len(records)} messages) ==")
    print(f"{'':>36}{'xinqiao':>10}{'baseline':>10}{'ratio':>8}")
    for key in ("self_risk_or_aggression_recall", "others_aggression_at_least_yellow", "unrelated_raised_to_orange"):
        a, b = ours[key], base[key]
        print(f"{key:>36}{a:>10.3f}{b:>10.3f}{(f'{a / b:.2f}' if b else '-'):>8}")
    print(f"{'(items: risk / unrelated)':>36}{int(ours['n_risk']):>10}{int(ours['n_unrelated']):>10}")
    recall, alarms = ours["self_risk_or_aggression_recall"], ours["unrelated_raised_to_orange"]
    print(
        f"{'targets':>36}  recall ≥ {TARGET_PSY_RECALL}: {'met' if recall >= TARGET_PSY_RECALL else 'missed'}; "
        f"unrelated ≤ {TARGET_PSY_ALARMS}: {'met' if alarms <= TARGET_PSY_ALARMS else 'missed'}"
    )
    if show:
        shown = 0
        for record in records:
            labels, level = set(record["labels"]), classify(record["text"])
            missed = labels & SELF_RISK_OR_AGGRESSION and level.rank < Level.ORANGE.rank
            alarm = labels == {UNRELATED} and level.rank >= Level.ORANGE.rank
            if (missed or alarm) and shown < show:
                shown += 1
                print(f"  {'MISS' if missed else 'FALSE'} {level.value:<6} {'/'.join(labels)}: {record['text'][:90]}")


# Run inside an exported revision, with its own code and lexicon: levels for [text, history, asked] on stdin.
_REFERENCE_SCRIPT = """
import json, sys
from pathlib import Path
sys.path.insert(0, ".")
from bot.loaders.content import load_triage
engine = load_triage(Path("content/risk"))
out = []
for text, history, asked in json.load(sys.stdin):
    try:
        out.append(engine.assess(text, history=history, asked=asked).level.value)
    except TypeError:  # a revision from before answers to the bot's questions were read
        out.append(engine.assess(text, history=history).level.value)
json.dump(out, sys.stdout)
"""
Query = tuple[str, tuple[str, ...], str | None]


def reference_levels(revision: str, queries: list[Query]) -> dict[Query, Level]:
    """Levels from the triage of ``revision`` (its code and its lexicon, exported from git), for a comparison
    measured in the same run."""
    payload = json.dumps([[t, list(h), a] for t, h, a in queries], ensure_ascii=False)
    levels = json.loads(run_in_revision(revision, ["-c", _REFERENCE_SCRIPT], payload))
    return {query: Level(level) for query, level in zip(queries, levels, strict=True)}


def _queries(items: Iterable[dict[str, Any]]) -> list[Query]:
    return [
        (str(i["text"]), tuple(str(h) for h in i.get("history") or i.get("context") or []), i.get("bot_asked"))
        for i in items
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--psysuicide", type=Path, default=PSYSUICIDE, help="path to PsySUICIDE valid.json")
    parser.add_argument("--show", type=int, default=0, help="print up to N misses of each tuning set")
    parser.add_argument("--heldout", action="store_true", help="also score the held-out set (figures only)")
    parser.add_argument("--risk-dir", type=Path, default=ROOT / "content" / "risk", help="the lexicon to score")
    parser.add_argument("--reference", metavar="REV", help="also score a git revision's triage (code and lexicon)")
    args = parser.parse_args()

    engine = load_triage(args.risk_dir)
    records = json.loads(args.psysuicide.read_text(encoding="utf-8")) if args.psysuicide.is_file() else []
    reference: dict[Query, Level] = {}
    if args.reference:
        sets = [LABELLED, DEVELOPMENT_V2, DEVELOPMENT_V3, *([HELDOUT] if args.heldout else [])]
        queries = [q for path in sets if path.is_file() for q in _queries(items_of(path))]
        queries += [(str(r["text"]), (), None) for r in records]
        reference = reference_levels(args.reference, list(dict.fromkeys(queries)))

    def classify(text: str, history: Sequence[str], asked: str | None) -> Level:
        return engine.assess(text, history=history, asked=asked).level

    def base_classify(text: str, _history: Sequence[str], _asked: str | None) -> Level:
        return baseline(text)

    def reference_classify(text: str, history: Sequence[str], asked: str | None) -> Level:
        return reference[(text, tuple(history), asked)]

    def compare(items: list[dict[str, Any]]) -> None:
        print("baseline on the same set:")
        score_levels(base_classify, items)
        if reference:
            print(f"reference {args.reference} on the same set:")
            score_levels(reference_classify, items)

    items = items_of(LABELLED)
    score_levels(classify, items, show=args.show, name=f"labelled set ({LABELLED.name})")
    if reference:
        print(f"reference {args.reference} on the same set:")
        score_levels(reference_classify, items)
    for path, author in ((DEVELOPMENT_V2, "second"), (DEVELOPMENT_V3, "third")):
        if path.is_file():
            items = items_of(path)
            score_levels(classify, items, show=args.show, name=f"development set, {author} author ({path.name})")
            compare(items)
    score_old_development(classify, DEVELOPMENT, show=args.show)
    if args.heldout:
        items = items_of(HELDOUT)
        score_levels(classify, items, name=f"HELD-OUT set ({HELDOUT.name}; never tuned on)")
        compare(items)

    if not records:
        print(f"\n(PsySUICIDE not found at {args.psysuicide}; skipped)")
        return 0
    even = [r for r in records if r["idx"] % 2 == 0]
    odd = [r for r in records if r["idx"] % 2 == 1]
    print_psysuicide("even half (tuning)", even, lambda text: engine.assess(text).level, args.show)
    if reference:
        print_psysuicide(f"even half, reference {args.reference}", even, lambda t: reference[(t, (), None)], 0)
    if args.heldout:
        print_psysuicide("odd half (held out, never tuned on)", odd, lambda text: engine.assess(text).level, 0)
        if reference:
            print_psysuicide(f"odd half, reference {args.reference}", odd, lambda t: reference[(t, (), None)], 0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
