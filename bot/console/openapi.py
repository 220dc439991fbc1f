"""The OpenAPI 3.1 description served at ``/api/v1/openapi.json``: every HTTP route of the service with the
status codes it really answers (a fuzz test holds the two together)."""

from __future__ import annotations

from typing import Any

_DESCRIPTIONS = {
    "400": "the body is not JSON this service can read",
    "401": "a staff bearer token is required, or it is unknown or disabled",
    "403": "your role may not do this",
    "404": "not found in your scope",
    "408": "the body did not arrive in time",
    "409": "the case is not in a state that allows this",
    "413": "the body or a text is too long",
    "422": "a field or parameter is missing, unknown or invalid (named in `fields`)",
    "429": "too many messages; wait `Retry-After` seconds",
    "503": "the database is busy or unavailable; retry after `Retry-After` seconds",
}


def _errors(*codes: str) -> dict[str, Any]:
    return {
        code: {
            "description": _DESCRIPTIONS[code],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for code in codes
    }


def _ok(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"200": {"description": description, "content": {"application/json": {"schema": schema or {}}}}}


_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}
_CASE = {"$ref": "#/components/schemas/Case"}
_WITH_CASE = {"type": "object", "properties": {"case": _CASE}, "required": ["case"]}
_STAFF: dict[str, Any] = {"security": [{"bearer": []}]}
# Every route behind a token answers 401 without one and 503 while the database cannot answer.
_GUARDED = ("401", "503")
# A route that reads a JSON body also answers for a body that is not JSON, too big, or too slow to arrive.
_BODY = ("400", "408", "413", "422")


def _text_body(names: tuple[str, ...], *, optional: tuple[str, ...] = (), limits: dict[str, int] | None = None) -> Any:
    lengths = limits or {}
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": list(names),
                    "additionalProperties": False,
                    "properties": {
                        n: {"type": "string", "minLength": 1 if n in names else 0, "maxLength": lengths.get(n, 4096)}
                        for n in (*names, *optional)
                    },
                }
            }
        },
    }


def _case_action(summary: str, codes: tuple[str, ...], body: Any = None) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        **_STAFF,
        "parameters": [_ID],
        "responses": _ok("the case after the action", _WITH_CASE) | _errors(*_GUARDED, "404", "409", *codes),
    }
    if body is not None:
        operation["requestBody"] = body
        operation["responses"] |= _errors(*_BODY)
    return {"post": operation}


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Xinqiao", "version": "1", "description": "Web chat, counselor queue and operations."},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "properties": {
                    "error": {"type": "string"},
                    "status": {"type": "integer"},
                    "fields": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["error", "status"],
            },
            "Case": {
                "type": "object",
                "description": "A case without any free text: safe for every console in scope",
                "properties": {
                    "id": {"type": "integer"},
                    "level": {"enum": ["red", "orange", "yellow"]},
                    "categories": {"type": "array", "items": {"type": "string"}},
                    "status": {"enum": ["open", "claimed", "active", "resolved", "referred"]},
                    "tier": {"enum": ["school", "district", "city"]},
                    "school": {"type": ["string", "null"]},
                    "district": {"type": ["string", "null"]},
                    "region": {"type": "string"},
                    "assignee_id": {"type": ["integer", "null"]},
                    "opened_at": {"type": "string"},
                    "claim_deadline": {"type": "string"},
                    "claimed_at": {"type": ["string", "null"]},
                    "closed_at": {"type": ["string", "null"]},
                    "escalations": {"type": "integer"},
                },
                "required": ["id", "level", "status", "tier", "opened_at", "claim_deadline"],
            },
        },
    },
    "paths": {
        "/api/v1/web/messages": {
            "post": {
                "summary": "A message from the web chat; the replies come back in the response",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["session_id", "text"],
                                "additionalProperties": False,
                                "properties": {
                                    "session_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,128}$"},
                                    "text": {"type": "string", "minLength": 1, "maxLength": 4096},
                                    "lang": {"enum": ["zh", "en"]},
                                    "message_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
                                    "region": {"type": "string"},
                                    "role": {"enum": ["student", "parent", "teacher"]},
                                    "context": {"type": "string", "maxLength": 2048},
                                },
                            }
                        }
                    },
                },
                "responses": _ok("the replies", {"type": "object", "required": ["replies"]}) | _errors(*_BODY, "429"),
            }
        },
        "/api/v1/hotlines": {
            "get": {
                "summary": "The hotlines for a region, emergency numbers included",
                "parameters": [
                    {"name": "region", "in": "query", "schema": {"type": "string"}},
                    {"name": "lang", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": _ok("the hotlines") | _errors("422"),
            }
        },
        "/api/v1/cases": {
            "get": {
                "summary": "A page of the queue in your scope: highest level first, then longest waiting",
                **_STAFF,
                "parameters": [
                    {"name": "status", "in": "query", "schema": {"type": "string"}, "description": "comma-separated"},
                    {"name": "level", "in": "query", "schema": {"type": "string"}, "description": "comma-separated"},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                ],
                "responses": _ok(
                    "a page of cases and the total",
                    {
                        "type": "object",
                        "required": ["cases", "total", "limit", "offset"],
                        "properties": {"cases": {"type": "array", "items": _CASE}, "total": {"type": "integer"}},
                    },
                )
                | _errors(*_GUARDED, "422"),
            }
        },
        "/api/v1/cases/{id}": {
            "get": {
                "summary": "One case with its timeline, outcome and conversation (audited)",
                **_STAFF,
                "parameters": [_ID],
                "responses": _ok("the case") | _errors(*_GUARDED, "404"),
            }
        },
        "/api/v1/cases/{id}/claim": _case_action("Claim an open case; one of racing counselors wins", ()),
        "/api/v1/cases/{id}/reply": _case_action("Send a message to the person", ("403",), _text_body(("text",))),
        "/api/v1/cases/{id}/note": _case_action("Add a private note", (), _text_body(("text",))),
        "/api/v1/cases/{id}/reassign": _case_action(
            "Give a claimed case to another counselor who may see it (supervisors and admins)",
            ("403", "422"),
            _text_body(("to",), limits={"to": 80}),
        ),
        "/api/v1/cases/{id}/hand-back": _case_action(
            "Give the conversation back to the bot; the case stays open with its counselor", ("403",)
        ),
        "/api/v1/cases/{id}/follow-up": _case_action(
            "Set the day to check on the person again (YYYY-MM-DD, today or later)",
            (),
            _text_body(("on",), limits={"on": 10}),
        ),
        "/api/v1/cases/{id}/refer": _case_action(
            "Refer to a named hospital or service", ("403",), _text_body(("to", "reason"))
        ),
        "/api/v1/cases/{id}/resolve": _case_action(
            "Resolve with an outcome (encrypted; shown only in the case view)",
            ("403",),
            _text_body(("outcome",), optional=("note",), limits={"outcome": 40}),
        ),
        "/api/v1/people/{id}/export": {
            "get": {
                "summary": "Everything stored about a person (admins only; audited)",
                **_STAFF,
                "parameters": [_ID],
                "responses": _ok("the person's data") | _errors(*_GUARDED, "403", "404"),
            }
        },
        "/api/v1/people/{id}": {
            "delete": {
                "summary": "Erase a person's words and identity; their cases stay, anonymous (admins only; audited)",
                **_STAFF,
                "parameters": [_ID],
                "responses": _ok("erased") | _errors(*_GUARDED, "403", "404"),
            }
        },
        "/api/v1/events": {
            "get": {
                "summary": "Server-Sent Events of case changes in your scope (never free text)",
                **_STAFF,
                "responses": {"200": {"description": "text/event-stream"}} | _errors("401"),
            }
        },
        "/healthz": {
            "get": {
                "summary": "ok, or degraded (503) while the database is slow or down or messages wait in the journal",
                "responses": _ok("ok") | {"503": {"description": "degraded", "content": {"application/json": {}}}},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus text format",
                "responses": {"200": {"description": "metrics", "content": {"text/plain": {}}}},
            }
        },
    },
}
