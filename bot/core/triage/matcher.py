"""Finds every lexicon term in a normalised message in one pass (Aho–Corasick), with word boundaries for Latin."""

from __future__ import annotations

import bisect
import itertools
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import ahocorasick

from bot.core.triage.lexicon import CueEntry
from bot.core.triage.normalize import is_latin_letter

# Emoji cues stand for themselves wherever they appear, so they have no position in the text.
NO_POSITION = -1


# Not frozen: a frozen dataclass costs three times as much to build, and triage builds one per term found.
@dataclass(slots=True, eq=False)
class Match:
    """A lexicon term found in a message; ``start``/``end`` index the normalised text. Compared by identity;
    never changed after it is made."""

    start: int
    end: int
    term: str
    entry: CueEntry


def _bounded(text: str, start: int, last: int, latin_start: bool, latin_end: bool) -> bool:
    """A Latin-script term must not continue a word on either side (kms, not bookmarks)."""
    if latin_start and start > 0 and is_latin_letter(text[start - 1]):
        return False
    return not (latin_end and last + 1 < len(text) and is_latin_letter(text[last + 1]))


def _is_symbol(term: str) -> bool:
    return len(term) == 1 and unicodedata.category(term) in {"So", "Sk"}


# (term, entries, Latin at its start, Latin at its end, length - 1, counts only as a whole word)
_Payload = tuple[str, tuple[CueEntry, ...], bool, bool, int, bool]
# Whether the span [start, end) of the normalised text is made of whole words (a segmenter's answer).
Aligned = Callable[[int, int], bool]


def _automaton(payloads: dict[str, _Payload]) -> ahocorasick.Automaton | None:
    if not payloads:
        return None
    automaton = ahocorasick.Automaton()
    for term, payload in payloads.items():
        automaton.add_word(term, payload)
    automaton.make_automaton()
    return automaton


_Hit = tuple[int, int, str, tuple[CueEntry, ...], bool]


def _masks(hits: list[_Hit], aligned: Aligned) -> list[tuple[int, int]]:
    """Spans of the hyperbole masks (a word-only mask must stand as words). A mask hides only the cues that lie
    entirely inside it: a cue that reaches past it (死亡 across 痛死 in 无痛死亡) always counts."""
    return [
        (start, end)
        for start, end, _, entries, gated in hits
        if entries[0].role == "hyperbole" and (not gated or aligned(start, end))
    ]


def _has_han(term: str) -> bool:
    return any(unicodedata.category(char) == "Lo" for char in term)


class CueMatcher:
    """Two automata over the lexicon terms; built once, then safe to share between tasks.

    The first holds the terms that can start something (``triggers``: every entry but everyday atoms) and the
    hyperbole masks; the second holds the everyday atoms (我, 想, 今晚). A message whose first pass finds no
    trigger outside a mask needs no second pass: that is what keeps everyday messages cheap.
    """

    def __init__(self, entries: tuple[CueEntry, ...], triggers: frozenset[str] | None = None) -> None:
        by_term: dict[str, list[CueEntry]] = defaultdict(list)
        first_pass: set[str] = set()
        self._symbols: dict[str, list[CueEntry]] = defaultdict(list)
        for entry in entries:
            for term in entry.terms:
                if _is_symbol(term):
                    self._symbols[term].append(entry)
                    continue
                by_term[term].append(entry)
                if triggers is None or entry.id in triggers or entry.role == "hyperbole":
                    first_pass.add(term)
        payloads: dict[str, _Payload] = {
            term: (
                term,
                tuple(found),
                is_latin_letter(term[0]),
                is_latin_letter(term[-1]),
                len(term) - 1,
                any(e.word for e in found) and _has_han(term),
            )
            for term, found in by_term.items()
        }
        self._first = _automaton({term: p for term, p in payloads.items() if term in first_pass})
        self._second = _automaton({term: p for term, p in payloads.items() if term not in first_pass})
        self._symbol_set = frozenset(self._symbols)

    def scan(self, normalized: str, visible: str, aligned: Aligned) -> list[Match] | None:
        """All matches, or None when nothing but everyday words and hyperbole occur (nothing can follow)."""
        hits = _hits(self._first, normalized)
        symbols = self._symbol_set.intersection(visible) if self._symbol_set and not visible.isascii() else ()
        if not symbols:
            masks = _masks(hits, aligned)
            if not any(
                entries[0].role != "hyperbole" and not any(m0 <= start and end <= m1 for m0, m1 in masks)
                for start, end, _, entries, _ in hits
            ):
                return None
        return self._matches(hits + _hits(self._second, normalized), symbols, aligned)

    def find(self, normalized: str, visible: str, aligned: Aligned) -> list[Match]:
        """All matches in ``normalized`` not hidden by a hyperbole, plus symbol cues (emoji) anywhere in ``visible``."""
        symbols = self._symbol_set.intersection(visible) if self._symbol_set and not visible.isascii() else ()
        return self._matches(_hits(self._first, normalized) + _hits(self._second, normalized), symbols, aligned)

    def _matches(self, hits: list[_Hit], symbols: Iterable[str], aligned: Aligned) -> list[Match]:
        masks = _masks(hits, aligned)
        if masks:
            # A hyperbole hides only the cues inside its own span, never a real cue elsewhere in the message.
            inside = inside_any(masks)
            hits = [hit for hit in hits if hit[3][0].role == "hyperbole" or not inside(hit[0], hit[1])]
        # A word-only entry (死, 杀, 去死) counts only as a word of its own: not 死 in 死水 or the 杀 of 自杀. Only
        # these and Chinese masks ask the segmenter, so most messages are never segmented. Gating is per entry:
        # 想 as a yes to the bot's question must be a word, 想 as a wish need not (真想 is one word to jieba).
        found: list[Match] = []
        for start, end, term, entries, gated in hits:
            whole = not gated or aligned(start, end)
            found.extend(Match(start, end, term, entry) for entry in entries if whole or not entry.word)
        for symbol in symbols:
            found.extend(Match(NO_POSITION, NO_POSITION, symbol, entry) for entry in self._symbols[symbol])
        return found


def inside_any(spans: list[tuple[int, int]]) -> Callable[[int, int], bool]:
    """A test of whether [start, end) lies inside one of ``spans``, in log time (long messages hold many masks)."""
    ordered = sorted(spans)
    starts = [start for start, _ in ordered]
    reach = list(itertools.accumulate((end for _, end in ordered), max))

    def inside(start: int, end: int) -> bool:
        index = bisect.bisect_right(starts, start) - 1
        return index >= 0 and reach[index] >= end

    return inside


def _hits(automaton: ahocorasick.Automaton | None, text: str) -> list[_Hit]:
    """Occurrences of the automaton's terms in ``text`` as (start, end, term, entries), word-bounded for Latin."""
    if automaton is None:
        return []
    hits: list[_Hit] = []
    for last, (term, entries, latin_start, latin_end, extra, gated) in automaton.iter(text):
        start = last - extra
        if (latin_start or latin_end) and not _bounded(text, start, last, latin_start, latin_end):
            continue
        hits.append((start, last + 1, term, entries, gated))
    return hits
