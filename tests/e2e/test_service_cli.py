"""``xinqiao serve``, ``db`` and ``staff`` as an operator runs them: real subprocesses on a real database."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from cryptography.fernet import Fernet

from tests.e2e.test_cli import ROOT, run


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"XINQIAO_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": "", **extra}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_staff_add_prints_the_token_once_and_it_works_against_serve(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    created = run(["staff", "add", "Li Hua", "--role", "counselor", "--school", "nn-001"], env=env)
    assert created.returncode == 0, created.stderr
    token_lines = [line for line in created.stdout.decode().splitlines() if line.startswith("token: ")]
    assert len(token_lines) == 1
    token = token_lines[0].removeprefix("token: ")
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bot", "serve", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:  # noqa: S310 - localhost
                    assert json.load(response)["status"] == "ok"
                    break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.2)
        request = urllib.request.Request(  # noqa: S310 - localhost
            f"{base}/api/v1/cases", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            assert json.load(response) == {"cases": [], "total": 0, "limit": 50, "offset": 0}
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
    # The development database and key live in the data folder, the key readable by its owner only.
    assert (tmp_path / "data" / "xinqiao.db").exists()
    assert (tmp_path / "data" / "secret.key").stat().st_mode & 0o777 == 0o600


def test_staff_add_refuses_bad_input(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    bad_role = run(["staff", "add", "x", "--role", "janitor"], env=env)
    assert bad_role.returncode == 2
    bad_district = run(["staff", "add", "x", "--role", "counselor", "--district", "4501"], env=env)
    assert bad_district.returncode == 2
    assert "district" in bad_district.stderr.decode()
    assert run(["staff", "add", "dup", "--role", "admin"], env=env).returncode == 0
    again = run(["staff", "add", "dup", "--role", "admin"], env=env)
    assert again.returncode == 2
    assert "already exists" in again.stderr.decode()


def test_bad_database_url_and_port_are_named(tmp_path: Path) -> None:
    assert b"DATABASE_URL" in run(["db", "upgrade"], env=env_for(tmp_path, DATABASE_URL="mysql://x")).stderr
    assert b"PORT" in run(["serve"], env=env_for(tmp_path, PORT="eighty")).stderr


def test_db_upgrade_and_key_rotation(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    env = env_for(tmp_path, XINQIAO_DATA_KEYS=old)
    assert run(["db", "upgrade"], env=env).returncode == 0
    # Store a message under the old key through the real service code path.
    script = (
        "import asyncio\n"
        "from bot.app import build_runtime\n"
        "from bot.service.pipeline import MessagePipeline\n"
        "from bot.core.messages import InboundMessage\n"
        "from bot.settings import Settings\n"
        "async def main():\n"
        "    rt = await build_runtime(Settings.from_env())\n"
        "    await MessagePipeline(rt).handle(InboundMessage('web', 'p1', 'm1', '我不想活了'))\n"
        "    await rt.db.close()\n"
        "asyncio.run(main())\n"
    )
    stored = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert stored.returncode == 0, stored.stderr
    rotated = run(["db", "rotate-keys"], env=env_for(tmp_path, XINQIAO_DATA_KEYS=f"{new},{old}"))
    assert rotated.returncode == 0, rotated.stderr
    assert b"re-encrypted" in rotated.stdout
    with sqlite3.connect(tmp_path / "data" / "xinqiao.db") as connection:
        token = connection.execute("SELECT text_enc FROM messages WHERE direction = 'in'").fetchone()[0]
    assert Fernet(new.encode()).decrypt(token).decode() == "我不想活了"
