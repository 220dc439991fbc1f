"""Running the service as an operator does: real ``xinqiao serve`` processes, real signals, a real locked
database, and start-up mistakes that must be told in a line or two."""

from __future__ import annotations

import asyncio
import http.cookiejar
import re
import signal
import sqlite3
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import aiohttp
import pyotp
import pytest

from tests.e2e.serving import database_env, serving, staff_token, start
from tests.e2e.test_cli import run
from tests.service.conftest import next_frame

RED = "我不想活了，药都准备好了，今晚就吃"


def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "xinqiao.db"


async def test_sigterm_says_goodbye_finishes_the_message_in_flight_and_exits_in_time(tmp_path: Path) -> None:
    env = database_env("sqlite", tmp_path) | {"XINQIAO_STORE_DEADLINE": "3s"}
    token = staff_token(env)
    with serving(env, tmp_path) as served:
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(served.base.replace("http", "ws") + "/api/v1/web/ws")
            await ws.send_json({"type": "hello", "session_id": "s" * 20})
            assert (await next_frame(ws, 5))["type"] == "ready"
            await next_frame(ws, 5)
            events = await http.get(served.base + "/api/v1/events", headers={"Authorization": f"Bearer {token}"})
            assert (await events.content.readline()).startswith(b": connected")
            # A locked database makes the next message wait its store deadline: it is in flight at SIGTERM.
            lock = sqlite3.connect(sqlite_path(tmp_path), isolation_level=None)
            lock.execute("BEGIN EXCLUSIVE")
            try:
                in_flight = asyncio.ensure_future(
                    http.post(served.base + "/api/v1/web/messages", json={"session_id": "t" * 20, "text": RED})
                )
                await ws.send_json({"type": "message", "text": RED, "message_id": "over-the-socket"})
                await asyncio.sleep(0.5)
                started = time.monotonic()
                served.process.send_signal(signal.SIGTERM)
                response = await asyncio.wait_for(in_flight, 10)
                assert response.status == 200
                assert "12356" in (await response.json())["replies"][0]["text"]
                # The socket's message in flight is answered before the goodbye.
                reply = await next_frame(ws, 5)
                assert (reply["type"], reply["reply_to"]) == ("reply", "over-the-socket")
                assert "12356" in reply["text"]
                bye = await next_frame(ws, 5)
                assert bye == {"type": "bye", "reason": "restarting"}
                assert (await ws.receive(timeout=5)).type in {aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED}
                stream = await asyncio.wait_for(events.content.read(), 10)
                assert b"event: bye" in stream
                await asyncio.to_thread(served.process.wait, 15)
                assert time.monotonic() - started < 10
                assert served.process.returncode == 0, served.log.read_text()
            finally:
                lock.execute("ROLLBACK")
                lock.close()
            await ws.close()
            events.close()
    # The message answered during shutdown was kept in the journal and is stored by the next start.
    with serving(env, tmp_path, "second") as again:
        status, body = again.call("GET", "/api/v1/cases", token=token)
        assert status == 200
        assert [c["level"] for c in body["cases"]] == ["red", "red"]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_second_server_on_the_same_database_refuses_to_start(kind: str, tmp_path: Path) -> None:
    env = database_env(kind, tmp_path)
    with serving(env, tmp_path):
        second = start(env, tmp_path, "second")
        assert second.process.wait(timeout=60) == 2
        said = second.log.read_text()
        assert "already using" in said
        assert "stop it first" in said
        assert "Traceback" not in said
        rotating = run(["db", "rotate-keys"], env=env)
        assert rotating.returncode == 2
        assert b"while the service is stopped" in rotating.stderr


def test_a_kill_during_an_outage_loses_nothing(tmp_path: Path) -> None:
    env = database_env("sqlite", tmp_path) | {"XINQIAO_STORE_DEADLINE": "500ms"}
    token = staff_token(env)
    with serving(env, tmp_path) as served:
        lock = sqlite3.connect(sqlite_path(tmp_path), isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            for number in range(3):
                status, body = served.call(
                    "POST", "/api/v1/web/messages", {"session_id": f"kill-{number}".ljust(20, "x"), "text": RED}
                )
                assert status == 200
                assert "12356" in body["replies"][0]["text"]
            status, health = served.call("GET", "/healthz")
            assert (status, health["status"], health["journal"]) == (503, "degraded", 3)
            served.stop(signal.SIGKILL)
        finally:
            lock.execute("ROLLBACK")
            lock.close()
    with serving(env, tmp_path, "after-kill") as restarted:
        assert restarted.wait_healthy()["journal"] == 0
        status, body = restarted.call("GET", "/api/v1/cases", token=token)
        assert (status, body["total"]) == (200, 3)


def test_start_up_mistakes_are_told_in_a_line_naming_the_variable_or_resource(tmp_path: Path) -> None:
    env = database_env("sqlite", tmp_path)
    bad_key = run(["serve"], env=env | {"XINQIAO_DATA_KEYS": "not-a-key"})
    assert bad_key.returncode == 2
    assert b"XINQIAO_DATA_KEYS" in bad_key.stderr
    nowhere = run(["serve"], env=env | {"DATABASE_URL": "postgresql+asyncpg://root@127.0.0.1:1/none"})
    assert nowhere.returncode == 3
    assert b"DATABASE_URL" in nowhere.stderr
    assert b"127.0.0.1:1" in nowhere.stderr
    with serving(env, tmp_path) as served:
        port = served.base.rsplit(":", 1)[1]
        taken = run(["serve", "--port", port], env=env | {"XINQIAO_DATA_DIR": str(tmp_path / "other")})
        assert taken.returncode == 2
        assert f"port {port}".encode() in taken.stderr
        assert b"already in use" in taken.stderr
    for result in (bad_key, nowhere, taken):
        assert b"Traceback" not in result.stderr
        assert len(result.stderr.decode().strip().splitlines()) <= 3


def test_staff_accounts_are_listed_disabled_and_given_new_tokens(tmp_path: Path) -> None:
    env = database_env("sqlite", tmp_path)
    created = run(["staff", "add", "Li Hua", "--role", "counselor", "--school", "nn-001"], env=env)
    assert created.returncode == 0
    # Which database was used is said, and that it was created now.
    assert str(sqlite_path(tmp_path).resolve()).encode() in created.stderr
    assert b"created now" in created.stderr
    first = created.stdout.decode().split("token: ")[1].strip()
    listed = run(["staff", "list"], env=env)
    assert "Li Hua\tcounselor\tschool nn-001\tactive" in listed.stdout.decode()
    assert b"created now" not in listed.stderr
    with serving(env, tmp_path) as served:
        assert served.call("GET", "/api/v1/cases", token=first)[0] == 200
        reset = run(["staff", "reset-token", "Li Hua"], env=env)
        assert reset.returncode == 0
        lines = [line for line in reset.stdout.decode().splitlines() if line.startswith("token: ")]
        assert len(lines) == 1
        second = lines[0].removeprefix("token: ")
        assert served.call("GET", "/api/v1/cases", token=first)[0] == 401
        assert served.call("GET", "/api/v1/cases", token=second)[0] == 200
        assert run(["staff", "disable", "Li Hua"], env=env).returncode == 0
        assert served.call("GET", "/api/v1/cases", token=second)[0] == 401
    assert "disabled" in run(["staff", "list"], env=env).stdout.decode()
    unknown = run(["staff", "disable", "Nobody"], env=env)
    assert unknown.returncode == 2
    assert b"no account named" in unknown.stderr


def test_the_database_and_journal_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    env = database_env("sqlite", tmp_path) | {"XINQIAO_STORE_DEADLINE": "300ms"}
    with serving(env, tmp_path) as served:
        served.call("POST", "/api/v1/web/messages", {"session_id": "p" * 20, "text": "你好"})
        wal = tmp_path / "data" / "xinqiao.db-wal"
        assert wal.exists()
        assert wal.stat().st_mode & 0o777 == 0o600
        lock = sqlite3.connect(sqlite_path(tmp_path), isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            # A message the database cannot take goes to the journal file.
            served.call("POST", "/api/v1/web/messages", {"session_id": "q" * 20, "text": RED})
            entries = tmp_path / "data" / "journal" / "entries.log"
            assert entries.read_text().startswith("+")
            assert entries.stat().st_mode & 0o777 == 0o600
        finally:
            lock.execute("ROLLBACK")
            lock.close()
    assert sqlite_path(tmp_path).stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "data" / "journal").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "data" / "journal" / "lock").stat().st_mode & 0o777 == 0o600


def test_two_services_sharing_a_data_folder_refuse_to_share_its_journal(tmp_path: Path) -> None:
    sqlite_env = database_env("sqlite", tmp_path)
    postgres_env = database_env("postgresql", tmp_path)  # the same XINQIAO_DATA_DIR, another database
    with serving(sqlite_env, tmp_path):
        second = start(postgres_env, tmp_path, "second")
        assert second.process.wait(timeout=60) == 2
        said = second.log.read_text()
        assert "journal" in said
        assert "own data folder" in said
        assert "Traceback" not in said


def _sign_in(base: str, name: str, password: str, code: str = "") -> int:
    """Sign in through the form as a browser would (form token cookie, then the post); the status."""
    jar = http.cookiejar.CookieJar()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *_args: object, **_kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    page = opener.open(base + "/console/login", timeout=10).read().decode()
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match is not None
    form = urllib.parse.urlencode({"csrf": match.group(1), "username": name, "password": password, "code": code})
    try:
        return int(opener.open(base + "/console/login", data=form.encode(), timeout=10).status)
    except urllib.error.HTTPError as error:
        return error.code


def test_console_passwords_and_one_time_codes_are_set_from_the_command_line(tmp_path: Path) -> None:
    env = database_env("sqlite", tmp_path)
    short = run(["staff", "add", "Zhao", "--role", "counselor", "--password-stdin"], stdin=b"short\n", env=env)
    assert short.returncode == 2
    assert b"10-256 characters" in short.stderr
    created = run(
        ["staff", "add", "Zhao", "--role", "counselor", "--school", "nn-001", "--password-stdin"],
        stdin=b"first-password-1\n",
        env=env,
    )
    assert created.returncode == 0, created.stderr
    assert b"console password set" in created.stdout
    totp = run(["staff", "totp", "Zhao"], env=env)
    assert totp.returncode == 0
    secret = totp.stdout.decode().split("secret: ")[1].split()[0]
    assert "otpauth://totp/" in totp.stdout.decode()
    with serving(env, tmp_path) as served:
        assert _sign_in(served.base, "Zhao", "first-password-1") == 401  # the code is now needed
        assert _sign_in(served.base, "Zhao", "first-password-1", pyotp.TOTP(secret).now()) == 303
        changed = run(["staff", "set-password", "Zhao", "--password-stdin"], stdin=b"second-password-2\n", env=env)
        assert changed.returncode == 0
        assert b"1 console session(s) ended" in changed.stdout
        assert run(["staff", "totp", "Zhao", "--off"], env=env).returncode == 0
        assert _sign_in(served.base, "Zhao", "first-password-1") == 401
        assert _sign_in(served.base, "Zhao", "second-password-2") == 303
        disabled = run(["staff", "disable", "Zhao"], env=env)
        assert b"console session(s) ended" in disabled.stdout
        assert _sign_in(served.base, "Zhao", "second-password-2") == 401
