"""Hostile input gets a clear 4xx naming the problem, never a 500, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time

import pytest

import bot.app
from tests.service.conftest import Service, new_session, next_frame

RED = "我不想活了，药都准备好了，今晚就吃"


async def post(service: Service, path: str, data: bytes, token: str | None = None) -> tuple[int, dict[str, object]]:
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    response = await service.client.post(path, data=data, headers=headers)
    return response.status, await response.json()


async def test_deeply_nested_json_is_400_naming_the_nesting(service: Service) -> None:
    status, body = await post(service, "/api/v1/web/messages", b"[" * 30_000 + b"]" * 30_000)
    assert status == 400
    assert "nested too deeply" in str(body["error"])


async def test_a_five_thousand_digit_number_is_400_naming_the_number(service: Service) -> None:
    data = b'{"session_id": "' + b"a" * 20 + b'", "text": ' + b"7" * 5000 + b"}"
    status, body = await post(service, "/api/v1/web/messages", data)
    assert status == 400
    assert "number" in str(body["error"])


async def test_a_counselor_body_nested_too_deeply_is_400(service: Service) -> None:
    token = await service.staff("li", "admin")
    await service.say(new_session(), RED)
    status, body = await post(service, "/api/v1/cases/1/note", b'{"text": ' + b"[" * 30_000 + b"}", token)
    assert status == 400
    assert "nested" in str(body["error"])


async def test_a_nested_websocket_frame_gets_an_error_and_the_socket_stays(service: Service) -> None:
    async with service.client.ws_connect("/api/v1/web/ws") as ws:
        await ws.send_json({"type": "hello", "session_id": new_session()})
        await next_frame(ws, 5)
        await next_frame(ws, 5)
        await ws.send_str("[" * 30_000)
        error = await next_frame(ws, 5)
        assert error["status"] == 400
        await ws.send_json({"type": "message", "text": RED})
        assert "12356" in (await next_frame(ws, 5))["text"]


@pytest.mark.parametrize("case_id", ["²", "٣", "99999999999999999999999", "2147483648", "-1", "1e3"])
async def test_case_ids_that_are_not_plain_in_range_numbers_are_404(service: Service, case_id: str) -> None:
    token = await service.staff("li", "admin")
    for method, path in (("GET", f"/api/v1/cases/{case_id}"), ("POST", f"/api/v1/cases/{case_id}/claim")):
        status, body = await service.api(method, path, token)
        assert status == 404, (method, path)
        assert "not found" in body["error"]
    status, _ = await service.api("GET", f"/api/v1/people/{case_id}/export", token)
    assert status == 404


async def test_the_queue_pages_with_a_total(service: Service) -> None:
    token = await service.staff("li", "admin")
    for _ in range(3):
        await service.say(new_session(), RED)
    first = (await service.api("GET", "/api/v1/cases?limit=2", token))[1]
    assert (len(first["cases"]), first["total"], first["limit"], first["offset"]) == (2, 3, 2, 0)
    rest = (await service.api("GET", "/api/v1/cases?limit=2&offset=2", token))[1]
    assert len(rest["cases"]) == 1
    assert {c["id"] for c in first["cases"]} | {c["id"] for c in rest["cases"]} == {1, 2, 3}


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=abc", "offset=-1", "offset=²", "level=purple"])
async def test_bad_paging_or_filters_are_422_naming_the_parameter(service: Service, query: str) -> None:
    token = await service.staff("li", "admin")
    status, body = await service.api("GET", f"/api/v1/cases?{query}", token)
    assert status == 422
    assert body["fields"] == [query.split("=", maxsplit=1)[0]]


async def test_a_body_that_never_finishes_arriving_gets_408(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.app, "BODY_SECONDS", 0.5)
    assert service.client.server.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", service.client.server.port)
    writer.write(
        b"POST /api/v1/web/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 200\r\n\r\n{"session_id": '
    )
    await writer.drain()
    started = time.monotonic()
    head = await asyncio.wait_for(reader.readline(), 5)
    assert head.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started < 2
    writer.close()
