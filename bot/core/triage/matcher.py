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


@dataclass(frozen=True, slots=True, eq=False)
class Match:
    """A lexicon term found in a message; ``start``/``end`` index the normalised text. Compared by identity."""

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


_Payload = tuple[str, tuple[CueEntry, ...], bool, bool, int]


def _automaton(payloads: dict[str, _Payload]) -> ahocorasick.Automaton | None:
    if not payloads:
        return None
    automaton = ahocorasick.Automaton()
    for term, payload in payloads.items():
        automaton.add_word(term, payload)
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
                if triggers is None or entry.id in triggers or entry.role == "hyperbole":
                    trigger_terms[term].append(entry)
        payloads: dict[str, _Payload] = {
            term: (term, tuple(found), is_latin_letter(term[0]), is_latin_letter(term[-1]), len(term) - 1)
            for term, found in by_term.items()
        }
        self._automaton = _automaton(payloads)
        # A trigger term's payload lists all its entries: the full match needs them, the trigger check does not.
        self._triggers = _automaton({term: payloads[term] for term in trigger_terms})
        self._symbol_set = frozenset(self._symbols)

    def triggered(self, normalized: str, visible: str) -> bool:
        """Whether a trigger term (or symbol cue) occurs outside every hyperbole: if not, ``find`` would lead to
        nothing, so the caller can stop here."""
        if self._symbol_set and not visible.isascii() and not self._symbol_set.isdisjoint(visible):
            return True
        if self._triggers is None:
            return False
        found: list[tuple[int, int]] = []
        masks: list[tuple[int, int]] = []
        for last, (_, entries, latin_start, latin_end, extra) in self._triggers.iter(normalized):
            start = last - extra
            if (latin_start or latin_end) and not _bounded(normalized, start, last, latin_start, latin_end):
                continue
            (masks if entries[0].role == "hyperbole" else found).append((start, last))
        return any(not any(m0 <= start and last <= m1 for m0, m1 in masks) for start, last in found)

    def find(self, normalized: str, visible: str) -> list[Match]:
        """All matches in ``normalized``, plus symbol cues (emoji) anywhere in ``visible``."""
        found: list[Match] = []
        if self._automaton is not None:
            append = found.append
            for last, (term, entries, latin_start, latin_end, extra) in self._automaton.iter(normalized):
                start = last - extra
                if (latin_start or latin_end) and not _bounded(normalized, start, last, latin_start, latin_end):
                    continue
                for entry in entries:
                    append(Match(start, last + 1, term, entry))
        if self._symbol_set and not visible.isascii():
            for symbol in self._symbol_set.intersection(visible):
                found.extend(Match(NO_POSITION, NO_POSITION, symbol, entry) for entry in self._symbols[symbol])
        return found
