"""Text is made encodable once at the edge."""

from __future__ import annotations

from bot.core.sanitize import REPLACEMENT, sanitize_text


def test_a_lone_surrogate_becomes_the_replacement_character_and_the_text_encodes() -> None:
    cleaned = sanitize_text("我不想活了\ud83d")
    assert cleaned == "我不想活了" + REPLACEMENT
    cleaned.encode("utf-8")


def test_nul_is_removed_and_a_real_emoji_is_kept() -> None:
    assert sanitize_text("a\x00b😀") == "ab😀"


def test_clean_text_is_returned_unchanged() -> None:
    assert sanitize_text("今天还好 ok") == "今天还好 ok"
