"""Signing in to the console over HTTP against the running app, on SQLite and PostgreSQL: argon2id passwords,
the form's CSRF token, lockout with backoff, TOTP, idle timeout, sign-out, a disabled account, and the API
driven by the session cookie with its CSRF header."""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp
from aiohttp import ClientResponse

from bot.channels.embed_token import sign
from bot.service.console_auth import hash_password
from bot.store.console_sessions import close_sessions_of, set_password, set_totp
from bot.store.staff import set_active
from tests.service.conftest import Service

PASSWORD = "night-shift-2026"  # noqa: S105 - a test account's password
RED = "我今晚就要结束了 已经准备好了"


def at_school(school: str) -> str:
    return sign({"school": school, "region": "450102", "exp": time.time() + 600}, "school-site-secret")


async def counselor(service: Service, name: str = "wang", school: str | None = "S1") -> str:
    token = await service.staff(name, school=school)
    async with service.runtime.db.transaction() as session:
        await set_password(session, name, hash_password(PASSWORD))
    return token


async def form_token(service: Service, lang: str = "") -> str:
    response = await service.client.get(f"/console/login{lang}")
    assert response.status == 200
    page = await response.text()
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match is not None, page
    return match.group(1)


async def sign_in(service: Service, name: str, password: str, code: str = "", lang: str = "") -> ClientResponse:
    csrf = await form_token(service, lang)
    return await service.client.post(
        f"/console/login{lang}",
        data={"csrf": csrf, "username": name, "password": password, "code": code},
        allow_redirects=False,
    )


def session_cookie(response: ClientResponse) -> Any:
    return response.cookies.get("xq_console")


async def test_the_sign_in_page_has_the_named_controls_in_english(service: Service) -> None:
    response = await service.client.get("/console/login?lang=en")
    page = await response.text()
    for name in ("Username", "Password", "Sign in"):
        assert name in page
    assert response.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


async def test_a_counselor_signs_in_and_sees_the_queue_then_signs_out(service: Service) -> None:
    await counselor(service)
    await service.say("a" * 24, RED, context=at_school("S1"))
    response = await sign_in(service, "wang", PASSWORD)
    assert response.status == 303
    assert response.headers["Location"] == "/console/"
    cookie = session_cookie(response)
    assert cookie is not None
    assert cookie["httponly"]
    assert cookie["samesite"] == "Strict"
    queue = await service.client.get("/console/")
    page = await queue.text()
    assert queue.status == 200
    assert 'aria-label="红色"' in page
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert csrf is not None
    out = await service.client.post("/console/logout", data={"csrf": csrf.group(1)}, allow_redirects=False)
    assert out.status == 303
    again = await service.client.get("/console/", allow_redirects=False)
    assert again.status == 303
    assert again.headers["Location"] == "/console/login"


async def test_a_wrong_password_is_refused_and_an_unknown_name_looks_the_same(service: Service) -> None:
    await counselor(service)
    wrong = await sign_in(service, "wang", "not-the-password", lang="?lang=en")
    unknown = await sign_in(service, "nobody", "not-the-password", lang="?lang=en")
    assert wrong.status == unknown.status == 401
    assert "not right" in await wrong.text()
    assert session_cookie(wrong) is None


async def test_the_form_without_its_token_is_refused(service: Service) -> None:
    await counselor(service)
    response = await service.client.post(
        "/console/login", data={"csrf": "forged", "username": "wang", "password": PASSWORD}, allow_redirects=False
    )
    assert response.status == 403
    assert session_cookie(response) is None


async def test_repeated_failures_lock_the_account_with_backoff_and_time_unlocks_it(service: Service) -> None:
    await counselor(service)
    statuses = [(await sign_in(service, "wang", f"guess-{n}")).status for n in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    locked = await sign_in(service, "wang", PASSWORD)  # even the right password waits
    assert locked.status == 429
    assert int(locked.headers["Retry-After"]) <= 60
    service.clock.advance(minutes=2)
    assert (await sign_in(service, "wang", "guess-again")).status == 429  # the sixth failure: two minutes now
    service.clock.advance(minutes=3)
    assert (await sign_in(service, "wang", PASSWORD)).status == 303


async def test_an_account_with_totp_needs_the_current_code(service: Service) -> None:
    await counselor(service)
    secret = pyotp.random_base32()
    async with service.runtime.db.transaction() as session:
        await set_totp(session, "wang", service.runtime.cipher.encrypt(secret))
    assert (await sign_in(service, "wang", PASSWORD)).status == 401
    assert (await sign_in(service, "wang", PASSWORD, code="000000x")).status == 401
    code = pyotp.TOTP(secret).at(service.clock())
    assert (await sign_in(service, "wang", PASSWORD, code=code)).status == 303


async def test_an_idle_session_ends(service: Service) -> None:
    await counselor(service)
    assert (await sign_in(service, "wang", PASSWORD)).status == 303
    service.clock.advance(minutes=29)
    assert (await service.client.get("/console/", allow_redirects=False)).status == 200
    service.clock.advance(minutes=31)
    assert (await service.client.get("/console/", allow_redirects=False)).status == 303


async def test_a_disabled_account_is_signed_out_at_once(service: Service) -> None:
    await counselor(service)
    assert (await sign_in(service, "wang", PASSWORD)).status == 303
    async with service.runtime.db.transaction() as session:
        await set_active(session, "wang", active=False)
    assert (await service.client.get("/console/", allow_redirects=False)).status == 303
    assert (await service.client.get("/api/v1/cases")).status == 401  # the API refuses the cookie too
    assert (await sign_in(service, "wang", PASSWORD)).status == 401  # and the password no longer signs in
    async with service.runtime.db.transaction() as session:
        assert await close_sessions_of(session, "wang") == 1  # what `xinqiao staff disable` also clears


async def test_the_api_takes_the_session_cookie_and_needs_its_csrf_header_to_change_things(service: Service) -> None:
    await counselor(service)
    await service.say("b" * 24, RED, context=at_school("S1"))
    assert (await sign_in(service, "wang", PASSWORD)).status == 303
    page = await (await service.client.get("/console/")).text()
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert csrf is not None
    listing = await service.client.get("/api/v1/cases")
    assert listing.status == 200
    case_id = (await listing.json())["cases"][0]["id"]
    forged = await service.client.post(f"/api/v1/cases/{case_id}/claim")
    assert forged.status == 403
    claimed = await service.client.post(f"/api/v1/cases/{case_id}/claim", headers={"X-CSRF-Token": csrf.group(1)})
    assert claimed.status == 200
    assert (await claimed.json())["case"]["status"] == "claimed"


async def test_a_school_counselor_never_sees_another_schools_case_in_the_queue(service: Service) -> None:
    await counselor(service, "li", school="S2")
    await service.say("c" * 24, RED, context=at_school("S1"))
    assert (await sign_in(service, "li", PASSWORD)).status == 303
    page = await (await service.client.get("/console/")).text()
    assert 'aria-label="红色"' not in page
    assert "暂时没有" in page
