"""Normalisation: obfuscation, stutter, width, script and case are folded away; words are kept."""

from __future__ import annotations

import pytest

from bot.core.triage.normalize import normalize, visible_characters

from .lexicon_builder import to_simplified


def fold(text: str) -> str:
    return normalize(text, to_simplified)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("自 杀", "自杀"),
        ("自.杀", "自杀"),
        ("自*杀", "自杀"),
        ("自🔪杀", "自杀"),
        ("自\u200b杀", "自杀"),
        ("想死死死死", "想死"),
        ("想亖", "想死"),
        ("ＫＭＳ", "kms"),
        ("k.m.s.", "kms"),
        ("u-n-a-l-i-v-e", "unalive"),
        ("z1sha", "zisha"),
        ("Killl Myself", "kill myself"),
        ("don’t", "don't"),
        ("bu  xiang\thuo le", "bu xiang huo le"),
        ("自殺", "自杀"),
    ],
)
def test_obfuscations_fold_to_the_plain_word(text, expected):
    assert fold(text) == expected


@pytest.mark.parametrize("word", ["爸爸", "天天", "谢谢", "kill", "12356", "mp3"])
def test_ordinary_words_survive(word):
    assert fold(word) == word


def test_clause_punctuation_and_quotes_between_chinese_are_kept():
    assert fold("我很好，真的") == "我很好,真的"
    assert fold("「下辈子见」是什么") == "「下辈子见」是什么"


def test_emoji_stay_visible_for_symbol_cues():
    assert "💊" in visible_characters("想死💊\ufe0f")
    assert "\ufe0f" not in visible_characters("⚰️")
