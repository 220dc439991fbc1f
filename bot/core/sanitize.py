"""Text from outside made safe to process once, at the channel edge: after this nothing can fail on encoding."""

from __future__ import annotations

import re

# JSON may carry half of a UTF-16 surrogate pair ("\ud83d"): Python keeps it as a lone code point that no codec,
# OpenCC or the database can encode. NUL ends C strings (OpenCC, PostgreSQL text) early or makes them fail.
_UNENCODABLE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def sanitize_text(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD and NUL characters removed."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if text.isascii():
        return text
    return _UNENCODABLE.sub(REPLACEMENT, text)
