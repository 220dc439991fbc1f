"""What NLU made of a message: an intent (None when unsure), its confidence, and entities. Button payloads in
Rasa's ``/intent{"entity": "value"}`` syntax are read exactly, without a model."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_PAYLOAD = re.compile(r"^/(?P<intent>[a-z_][a-z0-9_]*)(?P<entities>\{.*\})?$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Understanding:
    """The parse of one message."""

    intent: str | None
    confidence: float
    entities: tuple[tuple[str, str], ...] = ()
    source: str = "model"  # model | payload | rasa | fallback

    def entity(self, name: str) -> str | None:
        """The first value of entity ``name``, if any."""
        return next((value for key, value in self.entities if key == name), None)


def parse_payload(text: str) -> Understanding | None:
    """A button payload as an exact parse; None for ordinary text or a malformed payload."""
    match = _PAYLOAD.match(text.strip())
    if match is None:
        return None
    entities: tuple[tuple[str, str], ...] = ()
    if match.group("entities"):
        try:
            raw = json.loads(match.group("entities"))
        except ValueError:
            return None
        if not isinstance(raw, dict):
            return None
        entities = tuple((str(k), str(v)) for k, v in raw.items())
    return Understanding(match.group("intent"), 1.0, entities, "payload")
