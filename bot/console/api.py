"""The counselor REST API (DESIGN.md §5) and the Server-Sent Events stream of case changes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from aiohttp import web

from bot.console.openapi import OPENAPI
from bot.console.pages import CSRF_HEADER, SESSION_COOKIE, console_user, csrf_holds
from bot.core.cases import StaffMember, Status
from bot.core.json_input import JsonInputError, parse_json
from bot.core.sanitize import sanitize_text
from bot.service.case_events import BYE
from bot.service.casework import Casework, CaseworkError
from bot.service.console_auth import ConsoleAuth
from bot.service.runtime import Runtime

STAFF_KEY = web.RequestKey("staff", StaffMember)
MAX_TEXT = 4096
LEVELS = ("red", "orange", "yellow")
KEEPALIVE_SECONDS = 15.0
PAGE_DEFAULT, PAGE_MAX = 50, 200
MAX_ID = 2**31 - 1  # ids are INTEGER columns: 32 bits on PostgreSQL
MAX_ID_DIGITS = len(str(MAX_ID))
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json_error(status: int, message: str, fields: list[str] | None = None) -> web.Response:
    body: dict[str, Any] = {"error": message, "status": status}
    if fields:
        body["fields"] = fields
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return web.json_response(body, status=status, headers=headers)


class CounselorApi:
    """Handlers over ``Casework``; every route needs a staff bearer token."""

    def __init__(self, runtime: Runtime, casework: Casework, auth: ConsoleAuth) -> None:
        self._rt = runtime
        self._work = casework
        self._console = auth

    def routes(self) -> list[web.AbstractRouteDef]:
        """The API's routes."""
        return [
            web.get("/api/v1/openapi.json", self.openapi),
            web.get("/api/v1/cases", self._auth(self.list_cases)),
            web.get("/api/v1/cases/{id}", self._auth(self.get_case)),
            web.post("/api/v1/cases/{id}/claim", self._auth(self.claim)),
            web.post("/api/v1/cases/{id}/reply", self._auth(self.reply)),
            web.post("/api/v1/cases/{id}/note", self._auth(self.note)),
            web.post("/api/v1/cases/{id}/follow-up", self._auth(self.follow_up)),
            web.post("/api/v1/cases/{id}/hand-back", self._auth(self.hand_back)),
            web.post("/api/v1/cases/{id}/reassign", self._auth(self.reassign)),
            web.post("/api/v1/cases/{id}/refer", self._auth(self.refer)),
            web.post("/api/v1/cases/{id}/resolve", self._auth(self.resolve)),
            web.get("/api/v1/events", self._auth(self.events)),
            web.get("/api/v1/people/{id}/export", self._auth(self.export_person)),
            web.delete("/api/v1/people/{id}", self._auth(self.erase_person)),
        ]

    def _auth(self, handler: Handler) -> Handler:
        async def checked(request: web.Request) -> web.StreamResponse:
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            if not header and SESSION_COOKIE in request.cookies:
                # The console's own calls: the session cookie, and its CSRF token on anything that changes state.
                user = await console_user(self._console, request)
                if user is None:
                    return _json_error(401, "the console session has ended; sign in again")
                if not csrf_holds(request, user):
                    return _json_error(403, f"the {CSRF_HEADER} header is missing or does not match the session")
                staff: StaffMember | None = user.member
            elif scheme.lower() != "bearer" or not token.strip():
                return _json_error(401, "a staff bearer token is required (Authorization: Bearer …)")
            else:
                staff = await self._work.authenticate(token.strip())
            if staff is None:
                return _json_error(401, "unknown or disabled token")
            request[STAFF_KEY] = staff
            try:
                return await handler(request)
            except CaseworkError as exc:
                return _json_error(exc.status, exc.message)

        return checked

    async def close_streams(self) -> None:
        """At shutdown: end every event stream."""
        self._rt.events.close()

    async def openapi(self, _request: web.Request) -> web.Response:
        """The OpenAPI description of this API."""
        return web.json_response(OPENAPI)

    async def list_cases(self, request: web.Request) -> web.Response:
        """``GET /api/v1/cases?status=&level=&limit=&offset=``: a page of the queue in the caller's scope, most
        urgent first, with the total."""
        statuses = [s for s in request.query.get("status", "").split(",") if s]
        levels = [s for s in request.query.get("level", "").split(",") if s]
        problems = [("status", f"unknown status {s[:20]!r}") for s in statuses if s not in set(Status)]
        problems += [("level", f"unknown level {x[:20]!r}") for x in levels if x not in LEVELS]
        limit = _whole_number(request, "limit", problems, default=PAGE_DEFAULT, low=1, high=PAGE_MAX)
        offset = _whole_number(request, "offset", problems, default=0, low=0, high=MAX_ID)
        if problems:
            fields = list(dict.fromkeys(name for name, _ in problems))
            return _json_error(422, "; ".join(message for _, message in problems), fields)
        cases, total = await self._work.queue(
            request[STAFF_KEY], statuses=statuses, levels=levels, limit=limit, offset=offset
        )
        return web.json_response({"cases": cases, "total": total, "limit": limit, "offset": offset})

    async def get_case(self, request: web.Request) -> web.Response:
        """``GET /api/v1/cases/{id}``: the case, its timeline and conversation (audited)."""
        return web.json_response(await self._work.view(request[STAFF_KEY], _case_id(request)))

    async def claim(self, request: web.Request) -> web.Response:
        """``POST /api/v1/cases/{id}/claim``."""
        return web.json_response({"case": await self._work.claim(request[STAFF_KEY], _case_id(request))})

    async def reply(self, request: web.Request) -> web.Response:
        """``POST /api/v1/cases/{id}/reply`` ``{"text"}``: delivered to the person through their channel."""
        body = await _body(request, required=("text",))
        return web.json_response(await self._work.reply(request[STAFF_KEY], _case_id(request), body["text"]))

    async def note(self, request: web.Request) -> web.Response:
        """``POST /api/v1/cases/{id}/note`` ``{"text"}``."""
        body = await _body(request, required=("text",))
        return web.json_response({"case": await self._work.note(request[STAFF_KEY], _case_id(request), body["text"])})

    async def reassign(self, request: web.Request) -> web.Response:
        """``POST /api/v1/cases/{id}/reassign`` ``{"to": account name}``: supervisors and admins only."""
        body = await _body(request, required=("to",), max_lengths={"to": 80})
        return web.json_response({"case": await self._work.reassign(request[STAFF_KEY], _case_id(request), body["to"])})

    async def hand_back(self, request: web.Request) -> web.Response:
        """``POST /api/v1/cases/{id}/hand-back``: the bot has the conversation again; the case stays open."""
        return web.json_response({"case": await self._work.hand_back(request[STAFF_KEY], _case_id(request))})

    async def follow_up(self, request: web.Request) -> web.Response:
        """``POST /api/v1/cases/{id}/follow-up`` ``{"on": "YYYY-MM-DD"}``: today or later."""
        body = await _body(request, required=("on",), max_lengths={"on": 10})
        try:
            on = date.fromisoformat(body["on"]) if body["on"] else None
        except ValueError:
            return _json_error(422, f"on: {body['on'][:10]!r} is not a date like 2026-12-09", ["on"])
        return web.json_response({"case": await self._work.follow_up(request[STAFF_KEY], _case_id(request), on)})

    async def refer(self, request: web.Request) -> web.Response:
        """``POST /api/v1/cases/{id}/refer`` ``{"to", "reason"}``: referred to a named hospital or service."""
        body = await _body(request, required=("to", "reason"))
        case = await self._work.refer(request[STAFF_KEY], _case_id(request), body["to"], body["reason"])
        return web.json_response({"case": case})

    async def resolve(self, request: web.Request) -> web.Response:
        """``POST /api/v1/cases/{id}/resolve`` ``{"outcome", "note"?}``."""
        body = await _body(request, required=("outcome",), optional=("note",), max_lengths={"outcome": 40})
        case = await self._work.close(
            request[STAFF_KEY],
            _case_id(request),
            status=Status.RESOLVED,
            outcome=body["outcome"],
            detail=body.get("note") or "",
        )
        return web.json_response({"case": case})

    async def export_person(self, request: web.Request) -> web.Response:
        """``GET /api/v1/people/{id}/export``: everything stored about a person (admins; audited)."""
        return web.json_response(await self._work.export_person(request[STAFF_KEY], _numeric_id(request, "person")))

    async def erase_person(self, request: web.Request) -> web.Response:
        """``DELETE /api/v1/people/{id}``: erase a person's words and identity (admins; audited)."""
        return web.json_response(await self._work.erase_person(request[STAFF_KEY], _numeric_id(request, "person")))

    async def events(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/v1/events``: Server-Sent Events of case changes in the caller's scope."""
        staff = request[STAFF_KEY]
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
        await response.prepare(request)
        subscription = self._rt.events.subscribe(staff.scope)
        try:
            await response.write(b": connected\n\n")
            while True:
                try:
                    event = await asyncio.wait_for(subscription.queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    await response.write(b": keepalive\n\n")
                    continue
                if event["type"] == BYE:
                    # Consoles reconnect by themselves (EventSource): tell them why the stream ends.
                    await response.write(b'event: bye\ndata: {"reason": "restarting"}\n\n')
                    break
                if subscription.dropped:
                    await response.write(b"event: reload\ndata: {}\n\n")
                    subscription.dropped = False
                data = json.dumps(event, ensure_ascii=False)
                await response.write(f"event: {event['type']}\ndata: {data}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._rt.events.unsubscribe(subscription)
        return response


def _whole_number(
    request: web.Request, name: str, problems: list[tuple[str, str]], *, default: int, low: int, high: int
) -> int:
    """A whole-number query parameter in [low, high]; a bad one is added to ``problems`` as (field, message)."""
    text = request.query.get(name)
    if text is None:
        return default
    if text.isascii() and text.isdigit() and len(text) <= MAX_ID_DIGITS and low <= int(text) <= high:
        return int(text)
    problems.append((name, f"{name}: a whole number from {low} to {high}"))
    return default


def _case_id(request: web.Request) -> int:
    return _numeric_id(request, "case")


def _numeric_id(request: web.Request, what: str) -> int:
    text = request.match_info["id"]
    # ASCII digits only ("²" and "٣" are digits to str.isdigit), and within the id columns' range on both databases.
    if not (text.isascii() and text.isdigit() and len(text) <= MAX_ID_DIGITS) or int(text) > MAX_ID:
        raise CaseworkError(404, f"{what} {text[:40]!r} not found")
    return int(text)


async def _body(
    request: web.Request,
    *,
    required: tuple[str, ...],
    optional: tuple[str, ...] = (),
    max_lengths: dict[str, int] | None = None,
) -> dict[str, str]:
    try:
        data = parse_json(await request.read())
    except JsonInputError as exc:
        raise CaseworkError(400, str(exc)) from None
    if not isinstance(data, dict):
        raise CaseworkError(400, "the body must be a JSON object")
    missing = [k for k in required if k not in data]
    extra = sorted(set(data) - set(required) - set(optional))
    if missing or extra:
        parts = ([f"missing: {', '.join(missing)}"] if missing else []) + (
            [f"unknown: {', '.join(extra)}"] if extra else []
        )
        raise CaseworkError(422, "; ".join(parts))
    limits = max_lengths or {}
    for key, raw in data.items():
        if not isinstance(raw, str) or (key in required and not raw.strip()):
            raise CaseworkError(422, f"{key}: must be a non-empty string")
        data[key] = value = sanitize_text(raw)
        if len(value) > limits.get(key, MAX_TEXT):
            raise CaseworkError(
                413 if key == "text" else 422, f"{key}: longer than {limits.get(key, MAX_TEXT)} characters"
            )
    return data
