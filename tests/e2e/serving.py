"""``xinqiao serve`` as an operator runs it: a real subprocess on a free port, with helpers to talk to it over
HTTP and to stop it gently (SIGTERM) or not (SIGKILL)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.e2e.test_cli import ROOT, run
from tests.service.conftest import POSTGRES_URL, REQUIRE_POSTGRES


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_env(kind: str, tmp_path: Path) -> dict[str, str]:
    """Environment for a service on a fresh database of ``kind`` (sqlite, or the machine's PostgreSQL reset)."""
    env = {"XINQIAO_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": ""}
    if kind == "sqlite":
        return env

    async def reset() -> None:
        connection = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""), timeout=3)
        try:
            await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        finally:
            await connection.close()

    try:
        asyncio.run(reset())
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} does not answer: {exc}")
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} does not answer: {exc}")
    return env | {"DATABASE_URL": POSTGRES_URL}


def staff_token(env: dict[str, str], name: str = "admin", role: str = "admin") -> str:
    created = run(["staff", "add", name, "--role", role], env=env)
    assert created.returncode == 0, created.stderr
    return next(line for line in created.stdout.decode().splitlines() if line.startswith("token: "))[7:]


@dataclass
class Served:
    """A running ``xinqiao serve``."""

    process: subprocess.Popen[bytes]
    base: str
    log: Path

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = None, timeout: float = 10
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
        request = urllib.request.Request(  # noqa: S310 - localhost
            self.base + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def wait_healthy(self, seconds: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while True:
            try:
                status, body = self.call("GET", "/healthz", timeout=2)
                if status == 200:
                    return dict(body)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.2)

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 15) -> float:
        """Send ``sig`` and wait for the process to end; returns the seconds it took."""
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(sig)
        self.process.wait(timeout=timeout)
        return time.monotonic() - started


def start(env: dict[str, str], tmp_path: Path, name: str = "serve") -> Served:
    port = free_port()
    log = tmp_path / f"{name}.log"
    with log.open("ab") as stderr:  # the child keeps its own descriptor
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "bot", "serve", "--port", str(port)],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    return Served(process, f"http://127.0.0.1:{port}", log)


@contextmanager
def serving(env: dict[str, str], tmp_path: Path, name: str = "serve") -> Iterator[Served]:
    """A healthy ``xinqiao serve``, killed at the end if the test did not stop it."""
    served = start(env, tmp_path, name)
    try:
        served.wait_healthy()
        yield served
    finally:
        if served.process.poll() is None:
            served.stop(signal.SIGKILL)
