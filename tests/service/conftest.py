"""The running service for tests: the real aiohttp app on a localhost port, on SQLite and on the machine's real
PostgreSQL. PostgreSQL tests skip only when it does not answer and XINQIAO_TEST_REQUIRE_POSTGRES is unset (CI
sets it, so there a down PostgreSQL fails the run instead of skipping)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import CASEWORK_KEY, PIPELINE_KEY, RUNTIME_KEY, Content, create_app, load_content
from bot.service.runtime import Runtime
from bot.settings import Settings
from bot.store.staff import add_staff

POSTGRES_URL = os.environ.get("XINQIAO_TEST_POSTGRES_URL", "postgresql+asyncpg://root@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("XINQIAO_TEST_REQUIRE_POSTGRES") == "1"


@dataclass
class Clock:
    """A settable clock: tests move time forward to pass SLA deadlines."""

    now: datetime = field(default_factory=lambda: datetime(2026, 12, 1, 2, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="session")
def content() -> Content:
    return load_content(Settings.from_env({}))


async def _reset_postgres() -> None:
    connection = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""), timeout=3)
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'xinqiao.db'}"
    try:
        await _reset_postgres()
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} does not answer: {exc}")
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} does not answer: {exc}")
    return POSTGRES_URL


def service_settings(database_url: str, tmp_path: Path, **env: str) -> Settings:
    """Settings for a test service: its own data folder and database."""
    values = {
        "DATABASE_URL": database_url,
        "XINQIAO_DATA_DIR": str(tmp_path / "data"),
        "XINQIAO_WEB_MESSAGES_PER_MINUTE": "20",
        "XINQIAO_EMBED_SECRET": "school-site-secret",
        "XINQIAO_WATCHDOG_INTERVAL": "3600s",
    }
    values.update(env)
    return Settings.from_env(values)


@dataclass
class Service:
    """A running app with an HTTP client, and helpers to act as a person or a counselor."""

    client: TestClient[Any, Any]
    app: web.Application
    clock: Clock

    @property
    def runtime(self) -> Runtime:
        return self.app[RUNTIME_KEY]

    @property
    def pipeline(self) -> Any:
        return self.app[PIPELINE_KEY]

    @property
    def casework(self) -> Any:
        return self.app[CASEWORK_KEY]

    async def say(self, session_id: str, text: str, **extra: Any) -> dict[str, Any]:
        response = await self.client.post(
            "/api/v1/web/messages", json={"session_id": session_id, "text": text, **extra}
        )
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        return body

    async def staff(
        self, name: str, role: str = "counselor", school: str | None = None, district: str | None = None
    ) -> str:
        async with self.runtime.db.transaction() as session:
            _staff, token = await add_staff(
                session, name=name, role=role, school=school, district=district, now=self.clock()
            )
        return token

    async def api(self, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
        response = await self.client.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})
        return response.status, await response.json()


def new_session() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def clock() -> Clock:
    return Clock()


@asynccontextmanager
async def running_service(
    database_url: str, tmp_path: Path, content: Content, clock: Clock, **env: str
) -> AsyncIterator[Service]:
    """The app on a localhost port with ``env`` added to the test settings."""
    app = await create_app(service_settings(database_url, tmp_path, **env), clock=clock, content=content)
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Service(client, app, clock)
    finally:
        await client.close()


@pytest.fixture
async def service(database_url: str, tmp_path: Path, content: Content, clock: Clock) -> AsyncIterator[Service]:
    async with running_service(database_url, tmp_path, content, clock) as running:
        yield running


async def next_frame(ws: Any, timeout: float = 5) -> dict[str, Any]:
    """The next WebSocket frame the page would show or act on, skipping the end-of-answer ``done`` frames."""
    while True:
        frame: dict[str, Any] = await ws.receive_json(timeout=timeout)
        if frame.get("type") != "done":
            return frame
