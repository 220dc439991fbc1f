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


def _automaton(by_term: dict[str, list[CueEntry]]) -> ahocorasick.Automaton | None:
    if not by_term:
        return None
    automaton = ahocorasick.Automaton()
    for term, term_entries in by_term.items():
        automaton.add_word(term, (term, tuple(term_entries), is_latin_letter(term[0]), is_latin_letter(term[-1])))
    automaton.make_automaton()
    return automaton


class CueMatcher:
    """Automata over the lexicon terms; built once, then safe to share between tasks.

    ``triggers`` are the entries without which nothing can be found (cues with a level, and for each rule
    the atoms of its least common group): a message with none of them needs no full match, which is what
    keeps everyday messages cheap.
    """

    def __init__(self, entries: tuple[CueEntry, ...], triggers: frozenset[str] | None = None) -> None:
        by_term: dict[str, list[CueEntry]] = defaultdict(list)
        trigger_terms: dict[str, list[CueEntry]] = defaultdict(list)
        self._symbols: dict[str, list[CueEntry]] = defaultdict(list)
        for entry in entries:
            for term in entry.terms:
                if _is_symbol(term):
                    self._symbols[term].append(entry)
                    continue
                by_term[term].append(entry)
                if triggers is None or entry.id in triggers:
                    trigger_terms[term].append(entry)
        self._automaton = _automaton(by_term)
        self._triggers = _automaton(trigger_terms)
        self._symbol_set = frozenset(self._symbols)

    def triggered(self, normalized: str, visible: str) -> bool:
        """Whether any trigger term (or symbol cue) occurs: if not, ``find`` would change nothing."""
        if self._symbol_set and not visible.isascii() and not self._symbol_set.isdisjoint(visible):
            return True
        if self._triggers is None:
            return False
        for last, (term, _, latin_start, latin_end) in self._triggers.iter(normalized):
            start = last - len(term) + 1
            if latin_start and start > 0 and is_latin_letter(normalized[start - 1]):
                continue
            if latin_end and last + 1 < len(normalized) and is_latin_letter(normalized[last + 1]):
                continue
            return True
        return False

    def find(self, normalized: str, visible: str) -> list[Match]:
        """All matches in ``normalized``, plus symbol cues (emoji) anywhere in ``visible``."""
        found: list[Match] = []
        if self._automaton is not None:
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
