"""JSON from outside parsed with every way it can fail turned into one error that names the problem."""

from __future__ import annotations

import json
from typing import Any


class JsonInputError(ValueError):
    """The bytes are not JSON this service can read; the message says why, for the 400 body."""


def parse_json(raw: bytes | str) -> Any:
    """The parsed value; raises ``JsonInputError`` for invalid JSON or UTF-8, nesting too deep to parse, or a
    number too long to read (Python refuses integers of more than 4,300 digits)."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise JsonInputError(f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except UnicodeDecodeError:
        raise JsonInputError("body is not valid UTF-8") from None
    except RecursionError:
        raise JsonInputError("body is nested too deeply") from None
    except ValueError as exc:
        raise JsonInputError(f"body has a number that cannot be read: {str(exc)[:80]}") from None
