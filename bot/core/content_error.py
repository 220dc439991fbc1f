"""The error raised when counselor- or editor-owned data fails validation."""

from __future__ import annotations

from typing import Any


class ContentError(ValueError):
    """Invalid data in a content file, located by file and line so an editor can fix it."""

    def __init__(self, source: str, line: int | None, message: str) -> None:
        self.source = source
        self.line = line
        self.message = message
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")


def line_of(node: Any) -> int | None:
    """The 1-based source line a parsed YAML node came from, when the loader recorded it."""
    line = getattr(node, "line", None)
    return line if isinstance(line, int) else None
