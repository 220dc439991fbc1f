"""Text normalisation shared by messages and lexicon terms, so that both are compared in one form."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

# Zero-width characters and emoji variation selectors carry no meaning for matching but split words.
# 亖 is only ever written for 死 online; OpenCC leaves 著 as is, though Traditional text writes 睡不著 for 睡不着;
# typographic apostrophes are folded so "don’t" is "don't".
_FOLD = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\ufe0e\ufe0f"), None) | str.maketrans(
    {"亖": "死", "著": "着", "’": "'", "‘": "'", "`": "'"}
)
_NEEDS_FOLD = re.compile("[\u200b\u200c\u200d\u2060\ufeff\ufe0e\ufe0f亖著’‘`]")

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Anything that is not a letter, digit or clause punctuation, standing between two Chinese characters, is
# an obfuscating separator (自 杀, 自.杀, 自*杀, 自🔪杀). Clause punctuation and quotation marks are kept: quotes
# tell a mention (「下辈子见」是什么梗) from a use.
_SEPARATOR_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}])(?:[^\w,!?;:、。「」『』“”\"]|_)+(?=[{_CJK}])")
# Three or more of one character are stutter (想死死死死 → 想死); two are often a word (爸爸, 天天), and in
# Latin script two are spelling (kill), so Latin runs keep two.
_REPEATED = re.compile(r"(\D)\1{2,}")
_LATIN = re.compile("[a-z]")
# Letters spelled out with separators, k.m.s or u-n-a-l-i-v-e, are one word.
_SPELLED_OUT = re.compile(r"(?<![a-z])[a-z](?:[.*_\-/][a-z])+(?![a-z])[.*_\-/]?")
_NOT_LETTER = re.compile("[^a-z]")
# Digits standing inside a Latin word are letters in disguise (z1sha, k1ll).
_LEET_IN_WORD = re.compile(r"(?<=[a-z])[0134](?=[a-z])")
_LEET = {"0": "o", "1": "i", "3": "e", "4": "a"}


def _collapse(match: re.Match[str]) -> str:
    char = match.group(1)
    return char * 2 if "a" <= char <= "z" else char


def visible_characters(text: str) -> str:
    """NFKC text without invisible characters: where emoji cues are looked for before separators go."""
    folded = unicodedata.normalize("NFKC", text)
    return folded.translate(_FOLD) if _NEEDS_FOLD.search(folded) else folded


def normalize_visible(visible: str, to_simplified: Callable[[str], str]) -> str:
    """The matching form of text already passed through ``visible_characters``."""
    folded = visible if visible.isascii() else to_simplified(visible)
    folded = folded.casefold()
    folded = _SEPARATOR_BETWEEN_CJK.sub("", folded)
    folded = _REPEATED.sub(_collapse, folded)
    if _LATIN.search(folded):
        folded = _LEET_IN_WORD.sub(lambda m: _LEET[m.group()], folded)
        folded = _SPELLED_OUT.sub(lambda m: _NOT_LETTER.sub("", m.group()), folded)
    return " ".join(folded.split())


def normalize(text: str, to_simplified: Callable[[str], str]) -> str:
    """Fold a message into the matching form: NFKC, Simplified, lower case, no separators, no stutter."""
    return normalize_visible(visible_characters(text), to_simplified)


def is_latin_letter(char: str) -> bool:
    """True for a-z after case folding: the characters that form word boundaries for Latin-script terms."""
    return "a" <= char <= "z"


def dialect_fold(words: dict[str, str], to_simplified: Callable[[str], str]) -> Callable[[str], str]:
    """``to_simplified`` followed by replacing written-dialect words (longest first) with their Mandarin ones."""
    if not words:
        return to_simplified
    pattern = re.compile("|".join(re.escape(word) for word in sorted(words, key=len, reverse=True)))
    # Dialect words are all outside ASCII: plain-ASCII text (English, pinyin) skips the search.
    first = frozenset(word[0] for word in words)

    def convert(text: str) -> str:
        simplified = to_simplified(text)
        if simplified.isascii() or first.isdisjoint(simplified):
            return simplified
        return pattern.sub(lambda match: words[match.group()], simplified)

    return convert
