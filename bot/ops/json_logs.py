"""Structured JSON logs, one object per line. Message text never goes in: only ids, levels and event names; SQL
parameters are hidden by the engine, and the database's own DETAIL lines (which quote row values) are dropped."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """Formats a record and its ``extra`` fields as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD:
                # An extra field never overwrites the record's own (a triage "level" once replaced the log level).
                data[key if key not in data else f"extra_{key}"] = value
        if record.exc_info:
            data["error"] = _without_row_values(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False, default=str)


def _without_row_values(text: str) -> str:
    """A traceback without PostgreSQL's DETAIL lines ("Key (name)=(…) already exists") or parameter dumps."""
    kept = [line for line in text.splitlines() if not line.lstrip().startswith(("DETAIL:", "[parameters:"))]
    return "\n".join(kept)


def configure(level: str) -> None:
    """Send every logger's records to stderr as JSON."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
