"""Builds small in-memory lexicons for engine unit tests, through the same parser as the real files."""

from __future__ import annotations

from typing import Any

from bot.core.triage.engine import Segmenter, TriageEngine
from bot.core.triage.lexicon import build_lexicon, parse_lexicon_document, parse_rules_document
from bot.core.triage.normalize import normalize

# Unit tests need no OpenCC: a two-character table is enough to show the conversion step is applied.
_T2S = str.maketrans({"殺": "杀", "們": "们"})


def to_simplified(text: str) -> str:
    return text.translate(_T2S)


def fold(term: str) -> str:
    return normalize(term, to_simplified)


def segment_by_table(words: list[str]) -> Segmenter:
    """A segmenter for unit tests: the longest of ``words`` at each position, else one character."""

    def segment(text: str) -> list[tuple[int, int]]:
        spans, at = [], 0
        while at < len(text):
            length = max((len(w) for w in words if text.startswith(w, at)), default=1)
            spans.append((at, at + length))
            at += length
        return spans

    return segment


def make_engine(
    entries: list[dict[str, Any]],
    rules: list[dict[str, Any]] | None = None,
    everyday_roles: set[str] | None = None,
    words: list[str] | None = None,
    readings: dict[str, tuple[str, ...]] | None = None,
) -> TriageEngine:
    zh = [e for e in entries if e.get("lang", "zh") == "zh"]
    en = [e for e in entries if e.get("lang") == "en"]
    parsed = []
    for lang, group in (("zh", zh), ("en", en)):
        if group:
            doc = {"lang": lang, "entries": [{k: v for k, v in e.items() if k != "lang"} for e in group]}
            parsed.append(parse_lexicon_document(f"{lang}.yml", doc, fold))
    parsed_rules = parse_rules_document("rules.yml", {"rules": rules or []})
    return TriageEngine(
        build_lexicon(parsed, parsed_rules, frozenset(everyday_roles or ())),
        to_simplified,
        segment=segment_by_table(words or []),
        readings=(lambda: readings) if readings is not None else None,
    )
