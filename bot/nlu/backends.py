"""Where understanding comes from: the embedded classifier, or a Rasa server's ``POST /model/parse`` with the
embedded classifier as fallback on any failure (a chat never waits on, or breaks with, an NLU outage)."""

from __future__ import annotations

import logging
from typing import Any, Protocol

import aiohttp

from bot.core.understanding import Understanding, parse_payload
from bot.nlu.embedded import CONFIDENCE_THRESHOLD, EmbeddedNlu

log = logging.getLogger(__name__)


class Nlu(Protocol):
    """Anything that can understand a message."""

    async def understand(self, text: str) -> Understanding:
        """Intent and entities of ``text``."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class EmbeddedBackend:
    """The in-process classifier."""

    def __init__(self, model: EmbeddedNlu) -> None:
        self.model = model

    async def understand(self, text: str) -> Understanding:
        """Intent and entities from the local model."""
        return self.model.parse(text)

    async def close(self) -> None:
        """Nothing to release."""


class RasaBackend:
    """A Rasa server's NLU over HTTP; the embedded model answers when Rasa cannot."""

    def __init__(self, url: str, timeout: float, fallback: EmbeddedNlu) -> None:
        self._url = url.rstrip("/") + "/model/parse"
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._fallback = fallback
        self._session: aiohttp.ClientSession | None = None
        self.failures = 0

    async def understand(self, text: str) -> Understanding:
        """Rasa's parse, or the embedded one on a timeout, an HTTP error or an answer we cannot read."""
        payload = parse_payload(text)
        if payload is not None:
            return payload
        try:
            if self._session is None:
                self._session = aiohttp.ClientSession(timeout=self._timeout)
            async with self._session.post(self._url, json={"text": text}) as response:
                response.raise_for_status()
                return _read(await response.json())
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError) as exc:
            self.failures += 1
            log.warning(
                "Rasa NLU failed; embedded model used", extra={"event": "rasa_fallback", "error": type(exc).__name__}
            )
            fallback = self._fallback.parse(text)
            return Understanding(fallback.intent, fallback.confidence, fallback.entities, "fallback")

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()


def _read(data: Any) -> Understanding:
    intent = data["intent"]
    name = intent.get("name") if isinstance(intent, dict) else None
    confidence = float(intent.get("confidence", 0.0)) if isinstance(intent, dict) else 0.0
    entities = tuple(
        (str(e["entity"]), str(e["value"])) for e in data.get("entities", []) if isinstance(e, dict) and "value" in e
    )
    unsure = not isinstance(name, str) or name == "nlu_fallback" or confidence < CONFIDENCE_THRESHOLD
    return Understanding(None if unsure else name, confidence, entities, "rasa")
