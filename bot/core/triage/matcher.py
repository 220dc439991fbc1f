"""Finds every lexicon term in a normalised message in one pass (Aho–Corasick), with word boundaries for Latin."""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from dataclasses import dataclass

import ahocorasick

from bot.core.triage.lexicon import CueEntry
from bot.core.triage.normalize import is_latin_letter

# Emoji cues stand for themselves wherever they appear, so they have no position in the text.
NO_POSITION = -1


@dataclass(frozen=True, slots=True)
class Match:
    """A lexicon term found in a message; ``start``/``end`` index the normalised text."""

    start: int
    end: int
    term: str
    entry: CueEntry


def _is_symbol(term: str) -> bool:
    return len(term) == 1 and unicodedata.category(term) in {"So", "Sk"}


class CueMatcher:
    """An automaton over all lexicon terms; built once, then safe to share between tasks."""

    def __init__(self, entries: tuple[CueEntry, ...]) -> None:
        by_term: dict[str, list[CueEntry]] = defaultdict(list)
        self._symbols: dict[str, list[CueEntry]] = defaultdict(list)
        for entry in entries:
            for term in entry.terms:
                (self._symbols[term] if _is_symbol(term) else by_term[term]).append(entry)
        self._automaton = ahocorasick.Automaton()
        for term, term_entries in by_term.items():
            payload = (term, tuple(term_entries), is_latin_letter(term[0]), is_latin_letter(term[-1]))
            self._automaton.add_word(term, payload)
        self._empty = not by_term
        if not self._empty:
            self._automaton.make_automaton()
        self._symbol_set = frozenset(self._symbols)

    def find(self, normalized: str, visible: str) -> list[Match]:
        """All matches in ``normalized``, plus symbol cues (emoji) anywhere in ``visible``."""
        found: list[Match] = []
        if not self._empty:
            for last, (term, entries, latin_start, latin_end) in self._automaton.iter(normalized):
                start = last - len(term) + 1
                if latin_start and start > 0 and is_latin_letter(normalized[start - 1]):
                    continue
                if latin_end and last + 1 < len(normalized) and is_latin_letter(normalized[last + 1]):
                    continue
                found.extend(Match(start, last + 1, term, entry) for entry in entries)
        if self._symbol_set and not visible.isascii():
            for symbol in self._symbol_set.intersection(visible):
                found.extend(Match(NO_POSITION, NO_POSITION, symbol, entry) for entry in self._symbols[symbol])
        return found
