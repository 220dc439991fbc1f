"""The safety reply while the database is locked: a red message every 100 ms, each from a new web session,
against a real ``xinqiao serve``; first with the database healthy (the baseline, same run), then while another
connection holds the database for 10 s (SQLite: an exclusive transaction; PostgreSQL: ``LOCK TABLE messages IN
ACCESS EXCLUSIVE MODE``), then after the lock is released until the journal is empty. Prints the safety reply's
p50/p99/max latency in each phase, the ratio of locked to healthy, and, after recovery, messages acknowledged
(200 with a hotline) against messages and red cases stored.

Run: ``.venv/bin/python bench/fault_lock.py`` (``--backends sqlite,postgresql --lock-seconds 10``). The
PostgreSQL database's ``public`` schema is dropped and recreated first: point ``--postgres-url`` only at a
throwaway database. Targets: p99 ≤ 2.5 s locked (the 2 s store deadline plus margin), ≤ 50 ms healthy, 0 lost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parent.parent
RED = (
    "我不想活了，药都准备好了，今晚就吃",
    "今晚就从楼顶跳下去",
    "我已经写好遗书了，今晚就去死",
    "I am going to kill myself tonight, I have the pills",
)
EVERY = 0.1
TARGET_LOCKED_P99 = 2.5
TARGET_HEALTHY_P99 = 0.050


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    failures: int = 0

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)] if ordered else math.nan

    def line(self) -> str:
        return (
            f"{self.name:<9} n={len(self.latencies):>4}  p50 {self.quantile(0.5) * 1000:7.1f} ms  "
            f"p99 {self.quantile(0.99) * 1000:7.1f} ms  max {max(self.latencies, default=math.nan) * 1000:7.1f} ms"
            f"  failed {self.failures}"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def locked(backend: str, sqlite_file: Path, postgres_url: str) -> AsyncIterator[None]:
    if backend == "sqlite":
        connection = sqlite3.connect(sqlite_file, isolation_level=None)
        connection.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    pg = await asyncpg.connect(postgres_url.replace("+asyncpg", ""))
    transaction = pg.transaction()
    await transaction.start()
    await pg.execute("LOCK TABLE messages IN ACCESS EXCLUSIVE MODE")
    try:
        yield
    finally:
        await transaction.rollback()
        await pg.close()


async def send_red(http: aiohttp.ClientSession, base: str, number: int, phase: Phase) -> bool:
    started = time.perf_counter()
    body = {"session_id": secrets.token_hex(16), "text": RED[number % len(RED)], "message_id": f"m{number}"}
    try:
        async with http.post(f"{base}/api/v1/web/messages", json=body) as response:
            data = await response.json()
            ok = response.status == 200 and any(
                "12356" in r["text"] or "110" in r["text"] for r in data.get("replies", [])
            )
    except (aiohttp.ClientError, TimeoutError):
        ok = False
    if ok:
        phase.latencies.append(time.perf_counter() - started)
    else:
        phase.failures += 1
    return ok


async def open_loop(http: aiohttp.ClientSession, base: str, phase: Phase, seconds: float, first: int) -> int:
    """One red message every ``EVERY`` seconds, whether or not the earlier ones were answered."""
    tasks = []
    count = int(seconds / EVERY)
    started = time.perf_counter()
    for n in range(count):
        await asyncio.sleep(max(0.0, started + n * EVERY - time.perf_counter()))
        tasks.append(asyncio.create_task(send_red(http, base, first + n, phase)))
    results = await asyncio.gather(*tasks)
    return sum(results)


async def stored_counts(base: str, token: str, http: aiohttp.ClientSession) -> tuple[int, int]:
    async with http.get(
        f"{base}/api/v1/cases?level=red&limit=1", headers={"Authorization": f"Bearer {token}"}
    ) as response:
        total = (await response.json())["total"]
    async with http.get(f"{base}/healthz") as response:
        journal = (await response.json())["journal"]
    return int(total), int(journal)


async def run_backend(backend: str, args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix=f"xinqiao-fault-{backend}-"))
    env = {**os.environ, "XINQIAO_DATA_DIR": str(folder / "data"), "DATABASE_URL": "", "XINQIAO_LOG_LEVEL": "ERROR"}
    env["XINQIAO_WEB_MESSAGES_PER_MINUTE"] = "100000"
    if backend == "postgresql":
        connection = await asyncpg.connect(args.postgres_url.replace("+asyncpg", ""))
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        await connection.close()
        env["DATABASE_URL"] = args.postgres_url
    xinqiao = [sys.executable, "-m", "bot"]
    created = subprocess.run(  # noqa: S603 - our own interpreter and module
        [*xinqiao, "staff", "add", "bench", "--role", "admin"], env=env, cwd=ROOT, capture_output=True, check=True
    )
    token = next(line for line in created.stdout.decode().splitlines() if line.startswith("token: "))[7:]
    port = free_port()
    server = subprocess.Popen(  # noqa: S603
        [*xinqiao, "serve", "--port", str(port)], env=env, cwd=ROOT, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            for _ in range(300):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{base}/healthz") as response:
                        if response.status == 200:
                            break
                await asyncio.sleep(0.1)
            await open_loop(http, base, Phase("warm-up"), 1.0, 0)
            healthy, during, after = Phase("healthy"), Phase("locked"), Phase("after")
            sent = 10
            acknowledged = await open_loop(http, base, healthy, args.healthy_seconds, sent)
            sent += int(args.healthy_seconds / EVERY)
            async with locked(backend, folder / "data" / "xinqiao.db", args.postgres_url):
                acknowledged += await open_loop(http, base, during, args.lock_seconds, sent)
            sent += int(args.lock_seconds / EVERY)
            released = time.perf_counter()
            acknowledged += await open_loop(http, base, after, 2.0, sent)
            sent += int(2.0 / EVERY)
            while True:
                cases, journal = await stored_counts(base, token, http)
                if journal == 0 or time.perf_counter() - released > 60:
                    break
                await asyncio.sleep(0.2)
            drained = time.perf_counter() - released
            cases, journal = await stored_counts(base, token, http)
    finally:
        server.terminate()
        server.wait(timeout=20)
    report(
        backend,
        args.lock_seconds,
        (healthy, during, after),
        acknowledged=acknowledged,
        sent=sent - 10,
        stored=cases - 10,
        journal=journal,
        drained=drained,
    )


def report(
    backend: str,
    lock_seconds: float,
    phases: tuple[Phase, Phase, Phase],
    *,
    acknowledged: int,
    sent: int,
    stored: int,
    journal: int,
    drained: float,
) -> None:
    healthy, during, after = phases
    print(f"\n== {backend}: a red message every {EVERY * 1000:.0f} ms, database locked for {lock_seconds:g} s")
    for phase in (healthy, during, after):
        print("  " + phase.line())
    ratio = during.quantile(0.99) / healthy.quantile(0.99)
    print(f"  locked p99 / healthy p99 = {ratio:.0f}x (the deadline, by design)")
    print(
        f"  targets: locked p99 ≤ {TARGET_LOCKED_P99:.1f} s: "
        f"{'met' if during.quantile(0.99) <= TARGET_LOCKED_P99 else 'MISSED'}; healthy p99 ≤ "
        f"{TARGET_HEALTHY_P99 * 1000:.0f} ms: {'met' if healthy.quantile(0.99) <= TARGET_HEALTHY_P99 else 'MISSED'}"
    )
    print(
        f"  after recovery: acknowledged {acknowledged} of {sent} sent, red cases stored {stored}, "
        f"journal {journal} left, drained {drained:.1f} s after the lock ended; lost {acknowledged - stored}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--lock-seconds", type=float, default=10.0)
    parser.add_argument("--healthy-seconds", type=float, default=5.0)
    parser.add_argument("--postgres-url", default="postgresql+asyncpg://root@127.0.0.1:5432/test")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        await run_backend(backend.strip(), args)


if __name__ == "__main__":
    asyncio.run(main())
