"""Web chat throughput and latency: N concurrent sessions posting mixed messages (10% red) to
``POST /api/v1/web/messages`` for a fixed time, against SQLite and PostgreSQL, with a bare aiohttp endpoint that
returns a constant reply as the ceiling; plus red-message-to-SSE-event latency on ``GET /api/v1/events``.

Run: ``.venv/bin/python bench/web_chat.py`` (defaults: ``--sessions 50 --seconds 10 --backends sqlite,postgresql
--postgres-url postgresql+asyncpg://root@127.0.0.1:5432/test``). The PostgreSQL database's ``public`` schema is
dropped and recreated first, so point ``--postgres-url`` only at a throwaway database.

Each target (the ceiling and every backend's ``xinqiao serve``) runs as its own subprocess on a free port, so the
load generator (this process, one ``aiohttp.ClientSession``) and the server do not share an event loop. Each
session loops: post a message (one in ten risky), record the latency; the first ``--warmup`` seconds are
discarded. A risky message is always sent from a fresh session id so that it opens a new case, and every session
id also rotates after 20 messages. Each red message carries a unique ``region`` code, which the opened case's
summary repeats, so the SSE event of each red message is found by it: its latency is POST send → event arrival.

``--ceiling-server PORT`` is an internal mode: the bare aiohttp server used as the ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
XINQIAO = str(VENV_BIN / "xinqiao") if (VENV_BIN / "xinqiao").exists() else shutil.which("xinqiao") or "xinqiao"

ORDINARY = (
    "今天作业好多",
    "你好",
    "我想问问考试的事",
    "菜单",
    "最近睡得不太好",
    "下周有篮球比赛，有点紧张",
    "和同桌吵架了，不知道怎么办",
    "hello",
    "I have too much homework this week",
    "what can you do?",
)
RISKY = (
    "我不想活了，药都准备好了",
    "今晚就从楼顶跳下去",
    "我已经写好遗书了，今晚就去死",
    "我想自杀，绳子都买好了",
    "I am going to kill myself tonight, I have the pills",
)
ROTATE_EVERY = 20
TARGET_RATE = 1000.0
TARGET_P99_MS = 50.0
TARGET_SSE_P99_MS = 100.0
SHOW_ERRORS = 5
CLIENT_SATURATED = 0.9  # bench CPU share above which a target's rate says more about the client
CEILING_REPLY = b'{"replies":[{"text":"ok","buttons":[]}]}'


# ---------------------------------------------------------------------------------------------------------------
# The ceiling: a bare aiohttp endpoint returning a constant reply.


async def _ceiling_message(request: web.Request) -> web.Response:
    json.loads(await request.read())
    return web.Response(body=CEILING_REPLY, content_type="application/json")


async def _ceiling_health(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def run_ceiling_server(port: int) -> int:
    """Serve the constant reply on ``127.0.0.1:port`` until terminated."""
    app = web.Application()
    app.add_routes([web.post("/api/v1/web/messages", _ceiling_message), web.get("/healthz", _ceiling_health)])
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)
    return 0


# ---------------------------------------------------------------------------------------------------------------
# Results.


@dataclass
class LoadResult:
    """What the load generator saw for one target during the measured window."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    server_cpu: float | None = None  # CPU seconds of the server process during the measured window
    client_cpu: float = 0.0  # CPU seconds of this (load generator) process during the measured window

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.error_samples) < SHOW_ERRORS:
            self.error_samples.append(text)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0


@dataclass
class SseResult:
    """Red-message send → SSE event latencies (seconds), and red messages whose event never came."""

    latencies: list[float] = field(default_factory=list)
    sent: int = 0
    missing: int = 0
    events: int = 0
    connected: bool = False
    problem: str = ""


@dataclass
class TargetReport:
    """One row of the table."""

    name: str
    load: LoadResult | None = None
    sse: SseResult | None = None
    failure: str = ""
    notes: list[str] = field(default_factory=list)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(fraction * len(ordered) + 0.999999)))
    return ordered[rank - 1]


# ---------------------------------------------------------------------------------------------------------------
# Load generation.


class RedTracker:
    """Send times of red messages keyed by their region tag, matched against SSE events as they arrive."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self.sent: dict[str, float] = {}
        self.arrived: dict[str, float] = {}
        self.recording = False

    def next_region(self) -> str:
        # Six digits (any GB/T 2260-shaped code is accepted); unique within one target's run.
        return f"{900000 + next(self._counter) % 100000:06d}"

    def on_send(self, region: str, at: float) -> None:
        if self.recording:
            self.sent[region] = at

    def on_event(self, region: str, at: float) -> None:
        self.arrived.setdefault(region, at)


def session_ids(tag: str, index: int) -> Iterator[str]:
    """Fresh session ids for one bench session (16-128 chars of [A-Za-z0-9_-])."""
    for rotation in itertools.count():
        yield f"bench-{tag}-{index:03d}-{rotation:05d}-{secrets.token_hex(4)}"


@dataclass
class Run:
    """What every session of one target's load shares."""

    http: aiohttp.ClientSession
    url: str
    tag: str
    measure_from: float
    deadline: float
    result: LoadResult
    tracker: RedTracker


def message_stream(run: Run, index: int) -> Iterator[tuple[dict[str, Any], bool]]:
    """One session's request bodies, and whether each is risky: one risky in every ten, in random order; a risky
    one always from a fresh session id (so it opens a case), and a new session id after ``ROTATE_EVERY``."""
    rng = random.Random(index)
    ids = session_ids(run.tag, index)
    session_id, in_session = next(ids), 0
    sequence = itertools.count()
    while True:
        deck = [False] * 9 + [True]
        rng.shuffle(deck)
        for risky in deck:
            if risky or in_session >= ROTATE_EVERY:
                session_id, in_session = next(ids), 0
            in_session += 1
            body: dict[str, Any] = {
                "session_id": session_id,
                "text": rng.choice(RISKY if risky else ORDINARY),
                "lang": "zh",
                "message_id": f"m{next(sequence)}",
            }
            if risky:
                body["region"] = run.tracker.next_region()
            yield body, risky


def check_reply(status: int, raw: bytes) -> str:
    """Why a response is an error, or ``""`` for a 2xx with at least one reply."""
    if not 200 <= status < 300:
        return f"HTTP {status}: {raw[:200].decode(errors='replace')}"
    try:
        replies = json.loads(raw)["replies"]
    except (ValueError, KeyError, TypeError):
        return f"HTTP {status} without replies: {raw[:200].decode(errors='replace')}"
    return "" if replies else f"HTTP {status} with an empty reply list"


async def one_session(run: Run, index: int) -> None:
    """One chatting session: post until the deadline; responses that complete inside the window count."""
    result = run.result
    for body, risky in message_stream(run, index):
        start = time.perf_counter()
        if start >= run.deadline:
            return
        if risky:
            run.tracker.on_send(body["region"], start)
        payload = json.dumps(body, ensure_ascii=False).encode()
        try:
            async with run.http.post(run.url, data=payload, headers={"Content-Type": "application/json"}) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            if time.perf_counter() >= run.measure_from:
                result.error(f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(0.05)
            continue
        end = time.perf_counter()
        if not run.measure_from <= end <= run.deadline:
            continue
        problem = check_reply(status, raw)
        if problem:
            result.error(problem)
        else:
            result.latencies.append(end - start)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux ``/proc``), or None where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


async def run_load(
    url: str, *, sessions: int, seconds: float, warmup: float, tracker: RedTracker, server_pid: int
) -> LoadResult:
    """``sessions`` concurrent sessions for ``warmup + seconds``; only the last ``seconds`` are measured."""
    result = LoadResult(elapsed=seconds)
    connector = aiohttp.TCPConnector(limit=sessions + 10, limit_per_host=sessions + 10)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:
        measure_from = time.perf_counter() + warmup
        run = Run(http, url, secrets.token_hex(3), measure_from, measure_from + seconds, result, tracker)

        async def start_recording() -> None:
            await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
            tracker.recording = True
            server, client = cpu_seconds(server_pid), time.process_time()
            await asyncio.sleep(max(0.0, run.deadline - time.perf_counter()))
            result.client_cpu = time.process_time() - client
            server_end = cpu_seconds(server_pid)
            if server is not None and server_end is not None:
                result.server_cpu = server_end - server

        recorder = asyncio.create_task(start_recording())
        await asyncio.gather(*(one_session(run, i) for i in range(sessions)))
        await recorder
        tracker.recording = False
    return result


async def listen_sse(url: str, token: str, tracker: RedTracker, sse: SseResult, ready: asyncio.Event) -> None:
    """Read the event stream; every case event whose region tags a red message we sent is timed."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as http,
            http.get(url, headers={"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}) as response,
        ):
            if response.status != 200:
                sse.problem = f"HTTP {response.status}: {(await response.text())[:200]}"
                return
            sse.connected = True
            ready.set()
            kind = ""
            async for raw_line in response.content:
                now = time.perf_counter()
                line = raw_line.decode("utf-8").rstrip("\r\n")
                if line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:") and kind.startswith("case."):
                    sse.events += 1
                    with contextlib.suppress(ValueError, KeyError, TypeError):
                        case = json.loads(line[5:])["case"]
                        if case["level"] == "red" and case.get("region"):
                            tracker.on_event(case["region"], now)
                elif not line:
                    kind = ""
    except (aiohttp.ClientError, OSError) as exc:
        sse.problem = f"{type(exc).__name__}: {exc}"
    finally:
        ready.set()


# ---------------------------------------------------------------------------------------------------------------
# Subprocesses.


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[bytes] | None) -> None:
    """Terminate, then kill if it does not exit promptly."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file, indented."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "    (no log)"
    return "\n".join("    " + line for line in text.splitlines()[-lines:]) or "    (empty log)"


async def wait_healthy(base: str, process: subprocess.Popen[bytes], log_path: Path, limit: float = 60.0) -> None:
    """Poll ``/healthz`` until 200; raise with the log's tail if the process exits or time runs out."""
    give_up = time.monotonic() + limit
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        while time.monotonic() < give_up:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with code {process.returncode}:\n{tail(log_path)}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"server not healthy after {limit:.0f} s:\n{tail(log_path)}")


def service_env(database_url: str, data_dir: Path, port: int) -> dict[str, str]:
    """The environment of ``xinqiao serve`` and ``xinqiao staff add`` for one backend."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XINQIAO_")}
    env.update(
        HOST="127.0.0.1",
        PORT=str(port),
        DATABASE_URL=database_url,
        XINQIAO_DATA_DIR=str(data_dir),
        XINQIAO_WEB_MESSAGES_PER_MINUTE="1000000",
        XINQIAO_LOG_LEVEL="WARNING",
    )
    return env


def add_counselor(env: dict[str, str]) -> str:
    """Create a counselor account (whole-deployment scope) and return its API token."""
    name = f"bench-{secrets.token_hex(4)}"
    done = subprocess.run(  # noqa: S603 - our own console script with fixed arguments
        [XINQIAO, "staff", "add", name, "--role", "counselor"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    match = re.search(r"^token: (\S+)$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or match is None:
        raise RuntimeError(f"xinqiao staff add failed ({done.returncode}): {done.stderr.strip() or done.stdout}")
    return match.group(1)


async def reset_postgres(url: str) -> None:
    """Drop and recreate the ``public`` schema so the run starts from an empty database."""
    import asyncpg

    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()


async def server_stats(base: str) -> list[str]:
    """Store failures the service hid behind a 200 (``unsaved`` in /healthz) and its error counters."""
    notes: list[str] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
            async with http.get(f"{base}/healthz") as response:
                health = await response.json()
                if health.get("unsaved"):
                    notes.append(f"server: {health['unsaved']} messages answered but not stored (unsaved)")
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with http.get(f"{base}/metrics") as response:
                for line in (await response.text()).splitlines():
                    if line.startswith("xinqiao_errors_total{") and float(line.rsplit(" ", 1)[1]) > 0:
                        notes.append(f"server metric: {line}")
    return notes


# ---------------------------------------------------------------------------------------------------------------
# Targets.


def load_options(args: argparse.Namespace) -> dict[str, Any]:
    """The load shape from the command line, the same for every target."""
    return {"sessions": args.sessions, "seconds": args.seconds, "warmup": args.warmup}


async def bench_ceiling(args: argparse.Namespace) -> TargetReport:
    """The bare aiohttp endpoint under the same load."""
    report = TargetReport("ceiling (bare aiohttp)")
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="xinqiao-bench-ceiling-"))
    log_path = workdir / "server.log"
    process: subprocess.Popen[bytes] | None = None
    try:
        with log_path.open("wb") as log:
            process = subprocess.Popen(  # noqa: S603 - this same script in its server mode
                [sys.executable, str(Path(__file__).resolve()), "--ceiling-server", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        base = f"http://127.0.0.1:{port}"
        await wait_healthy(base, process, log_path)
        report.load = await run_load(
            f"{base}/api/v1/web/messages", **load_options(args), tracker=RedTracker(), server_pid=process.pid
        )
    except (RuntimeError, OSError) as exc:
        report.failure = str(exc)
    finally:
        stop(process)
        shutil.rmtree(workdir, ignore_errors=True)
    return report


async def measure_sse_and_load(
    base: str, token: str, server_pid: int, args: argparse.Namespace, report: TargetReport
) -> None:
    """The load with an SSE listener connected throughout; fills ``report.load`` and ``report.sse``."""
    tracker = RedTracker()
    sse = SseResult()
    ready = asyncio.Event()
    listener = asyncio.create_task(listen_sse(f"{base}/api/v1/events", token, tracker, sse, ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        if not sse.connected:
            report.notes.append(f"SSE stream not connected: {sse.problem}")
        report.load = await run_load(
            f"{base}/api/v1/web/messages", **load_options(args), tracker=tracker, server_pid=server_pid
        )
        # Give the last events a moment to arrive.
        settle = time.perf_counter() + 2.0
        while time.perf_counter() < settle and not tracker.sent.keys() <= tracker.arrived.keys():
            await asyncio.sleep(0.05)
        sse.sent = len(tracker.sent)
        sse.latencies = [tracker.arrived[r] - t for r, t in tracker.sent.items() if r in tracker.arrived]
        sse.missing = sse.sent - len(sse.latencies)
        report.sse = sse
        if listener.done() and not listener.cancelled() and listener.exception() is not None:
            report.notes.append(f"SSE listener failed: {listener.exception()!r}")
        elif listener.done() and sse.connected:
            report.notes.append(f"SSE stream ended during the run {sse.problem}".rstrip())
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError, OSError):
            await listener


EXPECTED_LOG = ("xinqiao: serving on http", "no XINQIAO_DATA_KEYS set")


def log_problems(log_path: Path) -> list[str]:
    """The server runs at WARNING: any line in its log but the ready line and the dev-key notice is worth showing."""
    lines = [
        line
        for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        if line.strip() and not any(expected in line for expected in EXPECTED_LOG)
    ]
    if not lines:
        return []
    return [f"server log has {len(lines)} lines at WARNING or above; first ones:"] + [
        f"  {line[:300]}" for line in lines[:SHOW_ERRORS]
    ]


async def bench_backend(backend: str, args: argparse.Namespace) -> TargetReport:
    """``xinqiao serve`` on a fresh SQLite file or an emptied PostgreSQL schema, with an SSE listener."""
    report = TargetReport(backend)
    workdir = Path(tempfile.mkdtemp(prefix=f"xinqiao-bench-{backend}-"))
    log_path = workdir / "server.log"
    process: subprocess.Popen[bytes] | None = None
    try:
        if backend == "sqlite":
            database_url = f"sqlite+aiosqlite:///{workdir / 'xinqiao.db'}"
        else:
            database_url = args.postgres_url
            try:
                await asyncio.wait_for(reset_postgres(database_url), 15)
            except Exception as exc:  # asyncpg and the socket layer raise many kinds
                report.failure = f"PostgreSQL at {database_url} did not answer: {type(exc).__name__}: {exc}"
                return report
        port = free_port()
        env = service_env(database_url, workdir, port)
        token = await asyncio.to_thread(add_counselor, env)
        with log_path.open("wb") as log:
            process = subprocess.Popen(  # noqa: S603 - our own console script with fixed arguments
                [XINQIAO, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
            )
        base = f"http://127.0.0.1:{port}"
        await wait_healthy(base, process, log_path)
        await measure_sse_and_load(base, token, process.pid, args, report)
        report.notes.extend(await server_stats(base))
        if process.poll() is not None:
            report.notes.append(f"server exited during the run with code {process.returncode}")
        report.notes.extend(log_problems(log_path))
    except (RuntimeError, OSError, TimeoutError) as exc:
        report.failure = str(exc) or type(exc).__name__
    finally:
        stop(process)
        shutil.rmtree(workdir, ignore_errors=True)
    return report


# ---------------------------------------------------------------------------------------------------------------
# Report.


def ms(value: float) -> str:
    """Seconds as milliseconds for the table; ``-`` when there was nothing to measure."""
    return "-" if math.isnan(value) else f"{value * 1000:.1f}"


def print_table(reports: list[TargetReport], args: argparse.Namespace) -> None:
    """Throughput and latency per target, and each backend's share of the ceiling."""
    print(f"\n{args.sessions} sessions, {args.seconds:g} s measured after {args.warmup:g} s warm-up")
    print(
        f"{'target':<24}{'msgs/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>9}"
        f"{'server CPU':>12}{'CPU ms/msg':>12}{'bench CPU':>11}"
    )
    for report in reports:
        load = report.load
        if load is None:
            print(f"{report.name:<24}{'not run':>10}")
            continue
        p50, p99 = ms(percentile(load.latencies, 0.5)), ms(percentile(load.latencies, 0.99))
        server = per_msg = "-"
        if load.server_cpu is not None:
            server = f"{load.server_cpu / load.elapsed:.0%}"
            per_msg = f"{load.server_cpu * 1000 / len(load.latencies):.2f}" if load.latencies else "-"
        print(
            f"{report.name:<24}{load.rate:>10,.0f}{p50:>10}{p99:>10}{load.errors:>9}"
            f"{server:>12}{per_msg:>12}{load.client_cpu / load.elapsed:>11.0%}"
        )
    print("(CPU: share of one core during the measured window; the server is one process with one event loop)")
    for report in reports:
        if report.load is not None and report.load.client_cpu / report.load.elapsed >= CLIENT_SATURATED:
            print(f"note: the load generator used a whole core for {report.name}: that figure is client-bound")
    ceiling = reports[0].load
    if ceiling is not None and ceiling.rate:
        print()
        for report in reports[1:]:
            if report.load is not None:
                print(f"{report.name} / ceiling: {report.load.rate / ceiling.rate:.2f}")


def print_sse(reports: list[TargetReport]) -> None:
    """Red message → SSE event latency per backend."""
    print()
    for report in reports:
        sse = report.sse
        if sse is None:
            continue
        print(
            f"SSE {report.name}: red message → event p50 {ms(percentile(sse.latencies, 0.5))} ms, "
            f"p99 {ms(percentile(sse.latencies, 0.99))} ms, max {ms(max(sse.latencies, default=math.nan))} ms "
            f"({len(sse.latencies)} of {sse.sent} red messages timed, {sse.missing} without an event; "
            f"{sse.events} case events seen)"
        )


def print_problems(reports: list[TargetReport]) -> None:
    """The first errors, notes from the server, and targets that could not be run."""
    for report in reports:
        if report.load is not None and report.load.error_samples:
            print(f"\nfirst errors, {report.name}:")
            for sample in report.load.error_samples:
                print(f"  {sample}")
        for note in report.notes:
            print(f"note, {report.name}: {note}")
        if report.failure:
            print(f"\n{report.name}: NOT RUN: {report.failure}")


def print_verdicts(reports: list[TargetReport], args: argparse.Namespace) -> None:
    """PASS or MISS against the issue's targets."""
    print()
    for report in reports[1:]:
        if report.load is None:
            continue
        if report.name == "sqlite":
            p99 = percentile(report.load.latencies, 0.99)
            verdict = "PASS" if report.load.rate >= TARGET_RATE and p99 <= TARGET_P99_MS / 1000 else "MISS"
            print(
                f"{verdict}  sqlite ≥ {TARGET_RATE:,.0f} msgs/s and p99 ≤ {TARGET_P99_MS:.0f} ms at "
                f"{args.sessions} sessions: {report.load.rate:,.0f} msgs/s, p99 {ms(p99)} ms"
            )
        if report.sse is not None:
            sse_p99 = percentile(report.sse.latencies, 0.99)
            ok = bool(report.sse.latencies) and report.sse.missing == 0 and sse_p99 <= TARGET_SSE_P99_MS / 1000
            print(
                f"{'PASS' if ok else 'MISS'}  {report.name} red message → SSE event p99 ≤ {TARGET_SSE_P99_MS:.0f} ms: "
                f"p99 {ms(sse_p99)} ms, {report.sse.missing} missing"
            )


def print_report(reports: list[TargetReport], args: argparse.Namespace) -> bool:
    """Print everything (``reports[0]`` is the ceiling); True when every target could be run."""
    print_table(reports, args)
    print_sse(reports)
    print_problems(reports)
    print_verdicts(reports, args)
    return all(not r.failure for r in reports)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sessions", type=int, default=50, help="concurrent chat sessions (default 50)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per target (default 10)")
    parser.add_argument("--warmup", type=float, default=1.5, help="unmeasured seconds first (default 1.5)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--postgres-url", default="postgresql+asyncpg://root@127.0.0.1:5432/test")
    parser.add_argument("--ceiling-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.backend_list = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backend_list) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    if args.sessions < 1 or args.seconds <= 0 or args.warmup < 0:
        parser.error("--sessions must be ≥ 1, --seconds > 0 and --warmup ≥ 0")
    return args


async def bench(args: argparse.Namespace) -> int:
    print(f"CPUs: {os.cpu_count()} (usable by this process: {len(os.sched_getaffinity(0))})")
    print(f"python {sys.version.split()[0]}, aiohttp {aiohttp.__version__}")
    reports = [await bench_ceiling(args)]
    for backend in args.backend_list:
        print(f"running {backend} ...", flush=True)
        reports.append(await bench_backend(backend, args))
    return 0 if print_report(reports, args) else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.ceiling_server is not None:
        return run_ceiling_server(args.ceiling_server)
    # Terminated like interrupted: the finally blocks still stop the servers this run started.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return asyncio.run(bench(args))
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
