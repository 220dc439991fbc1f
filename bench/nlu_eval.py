"""Understanding and library quality and speed: intent accuracy and macro-F1 on held-out messages, the most
confused intent pairs, retrieval hit@3 on held-out questions, parse + retrieval time per message and start-up.

Run: ``.venv/bin/python bench/nlu_eval.py``. The held-out sets (``tests/data/nlu_heldout.yml``,
``tests/data/retrieval_questions.yml``) were written by a different author from the training examples in
``dialogues/data/nlu.yml`` and are never trained on. In the same run, a baseline answers every message with
the most frequent training intent and every question with the articles that share the most characters with it.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from bot.core.dialogue import DialogueState, Who  # noqa: E402
from bot.loaders.content import fold_for_search  # noqa: E402
from bot.loaders.dialogues import load_dialogue  # noqa: E402
from bot.settings import Settings  # noqa: E402

TARGETS = {"intent accuracy": 0.90, "retrieval hit@3": 0.90, "p99 ms": 5.0, "start s": 3.0}


def macro_f1(pairs: list[tuple[str, str]]) -> float:
    """Macro-averaged F1 over the gold intents."""
    labels = sorted({gold for gold, _ in pairs})
    scores = []
    for label in labels:
        tp = sum(1 for g, p in pairs if g == label and p == label)
        fp = sum(1 for g, p in pairs if g != label and p == label)
        fn = sum(1 for g, p in pairs if g == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores)


def main() -> int:
    settings = Settings.from_env()
    start = time.perf_counter()
    model, dialogue = load_dialogue(settings.content_dir, settings.dialogues_dir)
    startup = time.perf_counter() - start
    index = dialogue.index

    held_out = yaml.safe_load((ROOT / "tests" / "data" / "nlu_heldout.yml").read_text(encoding="utf-8"))
    questions = yaml.safe_load((ROOT / "tests" / "data" / "retrieval_questions.yml").read_text(encoding="utf-8"))

    pairs = [(item["intent"], model.parse(item["text"]).intent or "(unsure)") for item in held_out]
    accuracy = sum(g == p for g, p in pairs) / len(pairs)
    majority = Counter(e.intent for e in model.training.examples).most_common(1)[0][0]
    baseline = sum(g == majority for g, _ in pairs) / len(pairs)
    print(f"start-up (train NLU, load domain, library, index): {startup:.2f} s (target ≤ {TARGETS['start s']} s)")
    print(f"\nintents: {len(held_out)} held-out messages ({sum(i['lang'] == 'zh' for i in held_out)} zh)")
    print(f"  accuracy {accuracy:.3f} (target ≥ {TARGETS['intent accuracy']}), macro-F1 {macro_f1(pairs):.3f}")
    print(f"  baseline (always {majority!r}): accuracy {baseline:.3f}; ratio {accuracy / baseline:.1f}x")
    for lang in ("zh", "en"):
        subset = [(g, p) for (g, p), item in zip(pairs, held_out, strict=True) if item["lang"] == lang]
        print(f"  {lang}: accuracy {sum(g == p for g, p in subset) / len(subset):.3f} on {len(subset)}")
    unsure = sum(p == "(unsure)" for _, p in pairs)
    print(f"  unsure (clarifying menu instead of a guess): {unsure}")
    confused = Counter((g, p) for g, p in pairs if g != p).most_common(8)
    print("  most confused (gold → predicted):")
    for (gold, predicted), count in confused:
        print(f"    {count:3d}  {gold} → {predicted}")

    def hit(item: dict[str, object], *, strict: bool) -> bool:
        hits = index.search(
            str(item["question"]), lang=str(item["lang"]), audience=str(item["audience"]), strict_audience=strict,
            limit=3,
        )  # fmt: skip
        return any(set(h.article.topics) & set(item["topics"]) for h in hits)  # type: ignore[arg-type]

    def overlap_baseline(item: dict[str, object]) -> bool:
        question = set(fold_for_search(str(item["question"])))
        served = [a for a in dialogue.library.served if a.lang == item["lang"]]
        served.sort(key=lambda a: -len(question & set(fold_for_search(a.title + a.summary + a.body))))
        return any(set(a.topics) & set(item["topics"]) for a in served[:3])  # type: ignore[arg-type]

    chat = sum(hit(q, strict=False) for q in questions) / len(questions)
    strict = sum(hit(q, strict=True) for q in questions) / len(questions)
    base = sum(overlap_baseline(q) for q in questions) / len(questions)
    print(f"\nretrieval: {len(questions)} held-out questions")
    print(f"  hit@3 as chat ranks (language, audience preferred): {chat:.3f} (target ≥ {TARGETS['retrieval hit@3']})")
    print(f"  hit@3 with the audience as a strict filter (xinqiao ask --audience): {strict:.3f}")
    print(f"  baseline (most shared characters): {base:.3f}; ratio {chat / base:.2f}x")

    texts = [item["text"] for item in held_out] + [str(q["question"]) for q in questions]
    times = []
    for _ in range(3):
        for text in texts:
            begin = time.perf_counter()
            understood = model.parse(text)
            if understood.intent in {"ask_question", None}:
                index.search(text, limit=3)
            times.append((time.perf_counter() - begin) * 1000)
    times.sort()
    p50, p99 = statistics.median(times), times[int(len(times) * 0.99)]
    print(
        f"\nspeed: parse + retrieval per message p50 {p50:.2f} ms, p99 {p99:.2f} ms (target ≤ {TARGETS['p99 ms']} ms)"
    )
    t50, t99 = turn_times(model, dialogue, texts)
    print(f"       a whole dialogue turn (parse + answer) p50 {t50:.2f} ms, p99 {t99:.2f} ms (target ≤ 1 ms)")
    return 0


def turn_times(model: Any, dialogue: Any, texts: list[str]) -> tuple[float, float]:
    """p50 and p99 ms of a whole dialogue turn in-process (parse, then the engine's answer: rules, the library as
    the safety net, offers, exercises), as the pipeline runs it for a message triage found nothing in."""
    who, state, listing = Who("zh"), DialogueState(), "· 12356"
    turns = []
    for _ in range(3):
        for text in texts:
            begin = time.perf_counter()
            dialogue.respond(text, model.parse(text), state, who, listing)
            turns.append((time.perf_counter() - begin) * 1000)
    turns.sort()
    return statistics.median(turns), turns[int(len(turns) * 0.99)]


if __name__ == "__main__":
    raise SystemExit(main())
