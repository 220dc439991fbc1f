"""The web chat channel: ``POST /api/v1/web/messages``, the WebSocket ``/api/v1/web/ws``, the chat page at ``/``
and a hotline page. Translates requests to ``InboundMessage`` and replies back; decides nothing itself."""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from bot.channels.embed_token import ROLES, EmbedTokenError, verify
from bot.core.json_input import JsonInputError, parse_json
from bot.core.messages import InboundMessage, OutboundMessage, Profile, StoredOutbound
from bot.core.rate_limit import SlidingWindowLimit
from bot.core.safety_replies import format_hotlines
from bot.core.sanitize import sanitize_text
from bot.service.pipeline import MessagePipeline, Outcome
from bot.service.runtime import Runtime
from bot.settings import LANGUAGES, is_region_code

log = logging.getLogger(__name__)
CHANNEL = "web"
STATIC = Path(__file__).resolve().parent / "web_static"
MAX_TEXT = 4096
MAX_BODY = 64 * 1024
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
MESSAGE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FIELDS = {"session_id", "text", "lang", "message_id", "region", "role", "context"}
HELLO_SECONDS = 30.0


class RequestError(Exception):
    """A request the channel refuses, with the HTTP status and the fields at fault."""

    def __init__(self, status: int, message: str, fields: Sequence[str] = (), retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = list(fields)
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        """The JSON error body."""
        data: dict[str, Any] = {"error": self.message, "status": self.status}
        if self.fields:
            data["fields"] = self.fields
        if self.retry_after is not None:
            data["retry_after"] = self.retry_after
        return data


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A validated message from the page."""

    session_id: str
    text: str
    message_id: str | None
    profile: Profile


def person_key(session_id: str) -> str:
    """The stored identity of a web session: a hash, so the database never holds the bearer secret itself."""
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()[:40]


_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "session_id": (
        lambda v: isinstance(v, str) and bool(SESSION_ID.match(v)),
        "a random id of 16-128 letters, digits, - or _",
    ),
    "text": (lambda v: isinstance(v, str), "a string"),
    "message_id": (lambda v: isinstance(v, str) and bool(MESSAGE_ID.match(v)), "1-64 letters, digits, - or _"),
    "lang": (lambda v: v in LANGUAGES, "zh or en"),
    "region": (lambda v: isinstance(v, str) and is_region_code(v), "CN or a 6-digit GB/T 2260 code"),
    "role": (lambda v: v in ROLES, "student, parent or teacher"),
    "context": (lambda v: isinstance(v, str) and len(v) <= 2048, "a signed token string"),
}


def parse_fields(data: Any, *, need_text: bool, embed_secret: str, now: float) -> ChatRequest:
    """Validate a request object; raises ``RequestError`` naming every bad field."""
    if not isinstance(data, dict):
        raise RequestError(400, "the body must be a JSON object")
    extra = sorted(set(data) - FIELDS - ({"type"} if not need_text or "type" in data else set()))
    missing = [name for name in ("session_id", "text") if name not in data and (need_text or name != "text")]
    if extra or missing:
        parts = ([f"missing: {', '.join(missing)}"] if missing else []) + (
            [f"unknown: {', '.join(extra)}"] if extra else []
        )
        raise RequestError(422, "; ".join(parts), missing + extra)
    bad = [
        name
        for name, (valid, _hint) in _CHECKS.items()
        if name in data and (data[name] is not None or name in {"session_id", "text"}) and not valid(data[name])
    ]
    if bad:
        raise RequestError(422, "; ".join(f"{name}: {_CHECKS[name][1]}" for name in bad), bad)
    session_id, text = data["session_id"], sanitize_text(data.get("text", ""))
    message_id, lang, region, role = (data.get(k) for k in ("message_id", "lang", "region", "role"))
    if need_text and len(text) > MAX_TEXT:
        raise RequestError(413, f"text is longer than {MAX_TEXT} characters", ["text"])
    if need_text and not text.strip():
        raise RequestError(422, "text is empty", ["text"])
    profile = Profile(lang=lang, region=region, role=role)
    context = data.get("context")
    if context is not None:
        try:
            signed = verify(str(context), embed_secret, now)
        except EmbedTokenError as exc:
            raise RequestError(422, f"context: {exc}", ["context"]) from None
        # The school's signed word wins over query parameters.
        profile = Profile(
            lang=lang,
            region=signed.region or region,
            role=signed.role or role,
            school=signed.school,
            grade=signed.grade,
        )
    return ChatRequest(session_id, text, message_id, profile)


def _reply_json(message: OutboundMessage) -> dict[str, Any]:
    return {
        "text": message.text,
        "buttons": [{"title": b.title, "payload": b.payload} for b in message.buttons],
        "from": message.sender,
    }


def _error(exc: RequestError) -> web.Response:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return web.json_response(exc.body(), status=exc.status, headers=headers)


class WebChat:
    """HTTP and WebSocket handlers of the web chat, and the push side for counselor replies."""

    def __init__(
        self, runtime: Runtime, pipeline: MessagePipeline, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._rt = runtime
        self._pipeline = pipeline
        self._monotonic = monotonic
        self._limit = SlidingWindowLimit(runtime.settings.web_messages_per_minute, 60.0)
        self._sockets: dict[str, set[web.WebSocketResponse]] = {}
        self._in_flight = 0  # messages received over sockets and not yet answered
        self._welcomes: set[asyncio.Task[None]] = set()
        runtime.deliveries.register(CHANNEL, self.push)

    def routes(self) -> list[web.AbstractRouteDef]:
        """The channel's routes."""
        return [
            web.get("/", self.page),
            web.get("/hotlines", self.hotlines_page),
            web.get("/api/v1/hotlines", self.hotlines_json),
            web.post("/api/v1/web/messages", self.post_message),
            web.get("/api/v1/web/ws", self.websocket),
            web.static("/static", STATIC),
        ]

    async def page(self, _request: web.Request) -> web.FileResponse:
        """The chat page."""
        return web.FileResponse(STATIC / "index.html")

    def _request(self, data: Any, *, need_text: bool) -> ChatRequest:
        request = parse_fields(data, need_text=need_text, embed_secret=self._rt.settings.embed_secret, now=time.time())
        if need_text:
            wait = self._limit.check(request.session_id, self._monotonic())
            # A flood is slowed down, but a message in danger is never turned away: it goes through at once.
            if wait > 0 and not self._pipeline.urgent(request.text):
                raise RequestError(429, "too many messages; wait a moment", retry_after=max(1, int(wait + 0.999)))
        return request

    def _inbound(self, request: ChatRequest) -> InboundMessage:
        return InboundMessage(
            CHANNEL,
            person_key(request.session_id),
            request.message_id or uuid.uuid4().hex,
            request.text,
            request.profile,
        )

    async def post_message(self, request: web.Request) -> web.Response:
        """``POST /api/v1/web/messages`` (DESIGN.md §5)."""
        try:
            try:
                raw = await request.read()
            except web.HTTPRequestEntityTooLarge:
                raise RequestError(413, f"body larger than {MAX_BODY} bytes") from None
            try:
                data = parse_json(raw)
            except JsonInputError as exc:
                raise RequestError(400, str(exc)) from None
            chat = self._request(data, need_text=True)
        except RequestError as exc:
            if exc.status == 429:
                return self._rate_limited(exc, data.get("lang") if isinstance(data, dict) else None)
            return _error(exc)
        outcome = await self._pipeline.handle(self._inbound(chat), replies_delivered=True)
        body: dict[str, Any] = {"replies": [_reply_json(m.message) for m in _in_order(outcome)]}
        if outcome.lang is not None:
            body["lang"] = outcome.lang
        return web.json_response(body)

    def _slow_down(self, lang: Any) -> dict[str, Any]:
        # Even a refusal keeps a way to a human in it.
        text = self._rt.dialogue.render("utter_rate_limited", lang if lang in LANGUAGES else "zh").text
        return _reply_json(OutboundMessage(text, sender="system"))

    def _rate_limited(self, exc: RequestError, lang: Any) -> web.Response:
        body = exc.body() | {"replies": [self._slow_down(lang)]}
        return web.json_response(body, status=429, headers={"Retry-After": str(exc.retry_after)})

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        """``/api/v1/web/ws``: a ``hello`` frame first, then ``message`` frames; replies and counselor messages
        are pushed as ``reply`` frames."""
        # A close waits at most a second for the page's answer (aiohttp's default is 10 s).
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=MAX_BODY, timeout=1.0)
        await ws.prepare(request)
        key: str | None = None
        try:
            hello = await ws.receive(timeout=HELLO_SECONDS)
            if hello.type is not WSMsgType.TEXT:
                await ws.close(code=1008, message=b"send a hello frame first")
                return ws
            try:
                data = parse_json(hello.data)
                if not isinstance(data, dict) or data.get("type") != "hello":
                    raise RequestError(422, "the first frame must be {type: hello, session_id: ...}", ["type"])
                chat = self._request(data, need_text=False)
            except (JsonInputError, RequestError) as exc:
                error = exc if isinstance(exc, RequestError) else RequestError(400, f"frame: {exc}")
                await ws.send_json({"type": "error", **error.body()})
                await ws.close(code=1008, message=b"bad hello")
                return ws
            key = person_key(chat.session_id)
            self._sockets.setdefault(key, set()).add(ws)
            await ws.send_json({"type": "ready"})
            # Alongside the first frames, not before them: a page that reconnects resends what got no reply, and
            # a slow store must not hold those behind the welcome.
            welcome = asyncio.create_task(self._welcome(ws, key, chat.profile))
            # Left to finish when the page goes (recording what it was sent is bounded by the store's deadline).
            self._welcomes.add(welcome)
            welcome.add_done_callback(self._welcomes.discard)
            async for frame in ws:
                if frame.type is WSMsgType.TEXT:
                    self._in_flight += 1
                    try:
                        await self._ws_message(ws, chat.session_id, frame.data, chat.profile)
                    finally:
                        self._in_flight -= 1
        except TimeoutError:
            await ws.close(code=1008, message=b"no hello")
        except (ConnectionError, RuntimeError):
            pass  # the page went away mid-send; it resends what got no reply when it reconnects
        finally:
            if key is not None:
                self._sockets.get(key, set()).discard(ws)
                if not self._sockets.get(key):
                    self._sockets.pop(key, None)
        return ws

    async def _welcome(self, ws: web.WebSocketResponse, key: str, profile: Profile) -> None:
        """Greet a new person; give a returning one what arrived while they were away. Without the store (down or
        slow) the socket still serves: messages go through the pipeline, which answers them anyway."""
        rt = self._rt
        try:
            async with asyncio.timeout(rt.settings.store_deadline):
                waiting = await self._pipeline.waiting_for(CHANNEL, key)
        except Exception:
            log.warning("could not read what waits for a returning page", extra={"event": "welcome_failed"})
            return
        if waiting is None:
            greeting = rt.dialogue.render("utter_greet", profile.lang or rt.settings.default_lang)
            await ws.send_json({"type": "reply", **_reply_json(greeting)})
            return
        # Sent outside any transaction (a slow page must not hold the store), then recorded as delivered.
        try:
            for message in waiting:
                await ws.send_json({"type": "reply", **_reply_json(message.message)})
            async with asyncio.timeout(rt.settings.store_deadline):
                await self._pipeline.delivered(waiting)
        except Exception:  # not recorded: they are sent again next time, which is the safe side
            log.warning("could not record delivered messages", extra={"event": "delivered_failed"})

    async def _ws_message(self, ws: web.WebSocketResponse, session_id: str, raw: str, profile: Profile) -> None:
        data: Any = None
        try:
            try:
                data = parse_json(raw)
            except JsonInputError as exc:
                raise RequestError(400, f"frame: {exc}") from None
            if not isinstance(data, dict) or data.get("type") != "message":
                raise RequestError(422, "expected {type: message, text: ...}", ["type"])
            # A frame's own lang is the page's current language; without one the language stays as it is.
            fields = {k: v for k, v in data.items() if k != "type"} | {"session_id": session_id}
            chat = self._request(fields, need_text=True)
        except RequestError as exc:
            # The page drops a refused message from those it would resend.
            reply_to = data.get("message_id") if isinstance(data, dict) else None
            await ws.send_json({"type": "error", **exc.body(), "reply_to": reply_to})
            if exc.status == 429:
                await ws.send_json({"type": "reply", **self._slow_down(profile.lang), "reply_to": reply_to})
            return
        merged = Profile(
            lang=chat.profile.lang,
            region=chat.profile.region or profile.region,
            role=chat.profile.role or profile.role,
            school=chat.profile.school or profile.school,
            grade=chat.profile.grade or profile.grade,
        )
        outcome = await self._pipeline.handle(
            InboundMessage(CHANNEL, person_key(session_id), chat.message_id or uuid.uuid4().hex, chat.text, merged),
            replies_delivered=True,
        )
        # Each reply names the message it answers: the page resends a message that got none (same id: stored
        # once, answered with the same replies) after a reconnect, so a reply lost with a socket is not lost.
        for message in _in_order(outcome):
            frame = {"type": "reply", **_reply_json(message.message), "lang": outcome.lang, "reply_to": chat.message_id}
            await ws.send_json(frame)
        # The end of the answer (also when there is none: a counselor holds the conversation): the page stops
        # keeping the message for a resend only now, so a socket lost half way through an answer loses nothing.
        await ws.send_json({"type": "done", "reply_to": chat.message_id})

    async def close_sockets(self, drain_seconds: float = 3.0) -> None:
        """At shutdown: let messages in flight on sockets get their replies (for at most ``drain_seconds``), then
        tell every open page the service is restarting (it reconnects by itself) and close."""
        deadline = asyncio.get_running_loop().time() + drain_seconds
        while self._in_flight and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        sockets = [ws for group in self._sockets.values() for ws in group if not ws.closed]
        await asyncio.gather(*(_say_goodbye(ws) for ws in sockets))

    async def push(self, external_id: str, messages: Sequence[StoredOutbound]) -> bool:
        """Send to every open page of this person; False when none is open (the messages stay pending)."""
        sockets = [ws for ws in self._sockets.get(external_id, ()) if not ws.closed]
        sent = False
        for ws in sockets:
            try:
                for message in messages:
                    await ws.send_json({"type": "reply", **_reply_json(message.message)})
                sent = True
            except (ConnectionError, RuntimeError):
                continue
        return sent

    async def hotlines_json(self, request: web.Request) -> web.Response:
        """``GET /api/v1/hotlines?region=&lang=``: the lines for a region, emergency numbers included."""
        region, lang = self._region_lang(request)
        lines = self._rt.hotlines.for_region(region, emergency=True)
        return web.json_response(
            {
                "region": region,
                "hotlines": [
                    {"name": h.name[lang], "number": h.number, "hours": h.hours[lang], "region": h.region}
                    for h in lines
                ],
            }
        )

    async def hotlines_page(self, request: web.Request) -> web.Response:
        """A plain page listing the hotlines, linked from the chat page at all times."""
        region, lang = self._region_lang(request)
        listing = format_hotlines(self._rt.hotlines.for_region(region, emergency=True), lang)
        title = "Hotlines" if lang == "en" else "求助热线"
        items = "".join(f"<li>{html.escape(line.lstrip('· '))}</li>" for line in listing.splitlines())
        body = (
            f'<!doctype html><html lang="{"en" if lang == "en" else "zh-CN"}"><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{title}</title>'
            f'<link rel="stylesheet" href="/static/chat.css"><main class="hotline-page"><h1>{title}</h1>'
            f"<ul>{items}</ul></main></html>"
        )
        return web.Response(text=body, content_type="text/html")

    def _region_lang(self, request: web.Request) -> tuple[str, str]:
        region = request.query.get("region", self._rt.settings.default_region)
        if not is_region_code(region):
            raise web.HTTPUnprocessableEntity(
                text=json.dumps({"error": "region: CN or a 6-digit GB/T 2260 code", "status": 422}),
                content_type="application/json",
            )
        lang = request.query.get("lang", self._rt.settings.default_lang)
        return region, lang if lang in LANGUAGES else self._rt.settings.default_lang


async def _say_goodbye(ws: web.WebSocketResponse) -> None:
    try:
        await ws.send_json({"type": "bye", "reason": "restarting"})
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"restarting")
    except (ConnectionError, RuntimeError):
        pass


def _in_order(outcome: Outcome) -> list[StoredOutbound]:
    return [*outcome.pending, *outcome.replies]
