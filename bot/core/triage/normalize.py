"""Text normalisation shared by messages and lexicon terms, so that both are compared in one form."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

# Zero-width characters and emoji variation selectors carry no meaning for matching but split words.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\ufe0e\ufe0f"), None)

# Substitutions that are unambiguous in any context: 亖 is only ever written for 死 online, and typographic
# apostrophes are folded so that "don’t" and "don't" are one word.
_SUBSTITUTE = str.maketrans({"亖": "死", "’": "'", "‘": "'", "`": "'"})

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Anything that is not a letter, digit or clause punctuation, standing between two Chinese characters, is
# an obfuscating separator (自 杀, 自.杀, 自*杀, 自🔪杀). Clause punctuation is kept for readability of cues.
_SEPARATOR_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}])(?:[^\w,!?;:、。]|_)+(?=[{_CJK}])")
# Three or more of one character are stutter (想死死死死); two are often a word (爸爸, 天天, 常常).
_REPEATED_NON_LATIN = re.compile(r"([^a-z0-9\s])\1{2,}")
# Letters spelled out with separators, k.m.s or u-n-a-l-i-v-e, are one word.
_SPELLED_OUT = re.compile(r"(?<![a-z])[a-z](?:[.*_\-/][a-z])+(?![a-z])[.*_\-/]?")
_REPEATED_LATIN = re.compile(r"([a-z])\1{2,}")
_WHITESPACE = re.compile(r"\s+")


def normalize(text: str, to_simplified: Callable[[str], str]) -> str:
    """Fold a message into the matching form: NFKC, Simplified, lower case, no separators, no stutter."""
    folded = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    folded = to_simplified(folded).casefold().translate(_SUBSTITUTE)
    folded = _SEPARATOR_BETWEEN_CJK.sub("", folded)
    folded = _SPELLED_OUT.sub(lambda m: re.sub(r"[^a-z]", "", m.group()), folded)
    folded = _REPEATED_NON_LATIN.sub(r"\1", folded)
    folded = _REPEATED_LATIN.sub(r"\1\1", folded)
    return _WHITESPACE.sub(" ", folded).strip()


def visible_characters(text: str) -> str:
    """NFKC text without invisible characters: where emoji cues are looked for before separators go."""
    return unicodedata.normalize("NFKC", text).translate(_INVISIBLE)


def is_latin_letter(char: str) -> bool:
    """True for a-z after case folding: the characters that form word boundaries for Latin-script terms."""
    return "a" <= char <= "z"
