"""The OpenAPI 3.1 description served at ``/api/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

_ERROR = {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_CASE_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}


def _action(summary: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": [_CASE_ID],
        "responses": {"200": {"description": "the case after the action"}, "401": _ERROR, "404": _ERROR, "409": _ERROR},
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        operation["responses"]["422"] = _ERROR
    return {"post": operation}


def _text_body(*names: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(names),
        "additionalProperties": False,
        "properties": {n: {"type": "string", "minLength": 1} for n in names},
    }


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Xinqiao counselor API", "version": "1"},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
                "required": ["error", "status"],
            }
        },
    },
    "security": [{"bearer": []}],
    "paths": {
        "/api/v1/cases": {
            "get": {
                "summary": "The queue in your scope: highest level first, then longest waiting",
                "parameters": [
                    {"name": "status", "in": "query", "schema": {"type": "string"}, "description": "comma-separated"},
                    {"name": "level", "in": "query", "schema": {"type": "string"}, "description": "comma-separated"},
                ],
                "responses": {"200": {"description": "{cases: [...]}"}, "401": _ERROR, "422": _ERROR},
            }
        },
        "/api/v1/cases/{id}": {
            "get": {
                "summary": "One case with its timeline and conversation (audited)",
                "parameters": [_CASE_ID],
                "responses": {"200": {"description": "the case"}, "401": _ERROR, "404": _ERROR},
            }
        },
        "/api/v1/cases/{id}/claim": _action("Claim an open case; one of racing counselors wins, others get 409"),
        "/api/v1/cases/{id}/reply": _action("Send a message to the person", _text_body("text")),
        "/api/v1/cases/{id}/note": _action("Add a private note", _text_body("text")),
        "/api/v1/cases/{id}/refer": _action("Refer to a named hospital or service", _text_body("to", "reason")),
        "/api/v1/cases/{id}/resolve": _action(
            "Resolve with an outcome",
            {
                "type": "object",
                "required": ["outcome"],
                "additionalProperties": False,
                "properties": {"outcome": {"type": "string", "maxLength": 40}, "note": {"type": "string"}},
            },
        ),
        "/api/v1/people/{id}/export": {
            "get": {
                "summary": "Everything stored about a person (admins only; audited)",
                "parameters": [_CASE_ID],
                "responses": {"200": {"description": "the person's data"}, "403": _ERROR, "404": _ERROR},
            }
        },
        "/api/v1/people/{id}": {
            "delete": {
                "summary": "Erase a person's words and identity; their cases stay, anonymous (admins only; audited)",
                "parameters": [_CASE_ID],
                "responses": {"200": {"description": "erased"}, "403": _ERROR, "404": _ERROR},
            }
        },
        "/api/v1/events": {
            "get": {
                "summary": "Server-Sent Events of case changes in your scope",
                "responses": {"200": {"description": "text/event-stream"}, "401": _ERROR},
            }
        },
    },
}
