"""Builds the aiohttp application: loads content, opens and migrates the store, wires channels, the counselor
API, operations endpoints and the SLA watchdog."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from bot.channels.article_pages import ArticlePages
from bot.channels.web import MAX_BODY, WebChat
from bot.console.api import CounselorApi
from bot.console.case_page import CasePages
from bot.console.pages import ConsolePages
from bot.core.cases import SlaPolicy
from bot.core.dialogue import Dialogue
from bot.core.hotlines import HotlineDirectory
from bot.core.referrals import ReferralDirectory
from bot.core.safety_replies import SafetyReplies
from bot.core.triage.engine import TriageEngine
from bot.loaders.content import load_hotlines, load_referrals, load_safety_replies, load_triage
from bot.loaders.dialogues import load_dialogue
from bot.nlu.backends import EmbeddedBackend, RasaBackend
from bot.nlu.embedded import EmbeddedNlu
from bot.ops.metrics import Metrics
from bot.service.case_events import CaseEvents
from bot.service.casework import Casework
from bot.service.console_auth import ConsoleAuth
from bot.service.deliveries import Deliveries
from bot.service.journal import Journal
from bot.service.person_cache import PersonCache
from bot.service.pipeline import JOURNAL_WAIT, MessagePipeline
from bot.service.runtime import Runtime
from bot.settings import Settings
from bot.store import cases as case_store
from bot.store.crypto import cipher_for
from bot.store.database import Database, create_engine, database_url, is_unavailable, upgrade
from bot.store.group_commit import GroupCommit
from bot.store.instance_lock import InstanceLock

log = logging.getLogger(__name__)
JOURNAL_FOLDER = "journal"
# /healthz answers within a second: a probe still running after this is itself the answer (slow).
HEALTH_WAIT = 0.8
# While the journal holds messages, it is replayed this often (the watchdog's interval is longer).
REPLAY_SECONDS = 1.0
# A chat message or counselor note is a few kilobytes: any real connection delivers it in well under this.
BODY_SECONDS = 5.0
RUNTIME_KEY = web.AppKey("runtime", Runtime)
PIPELINE_KEY = web.AppKey("pipeline", MessagePipeline)
CASEWORK_KEY = web.AppKey("casework", Casework)


@dataclass(frozen=True, slots=True)
class Content:
    """Everything read from ``content/`` and ``dialogues/``, validated."""

    triage: TriageEngine
    safety: SafetyReplies
    hotlines: HotlineDirectory
    dialogue: Dialogue
    nlu_model: EmbeddedNlu
    referrals: ReferralDirectory


def load_content(settings: Settings) -> Content:
    """Read and validate the counselor- and editor-owned files; a ``ContentError`` names file and line."""
    nlu_model, dialogue = load_dialogue(settings.content_dir, settings.dialogues_dir)
    return Content(
        triage=load_triage(settings.content_dir / "risk"),
        safety=load_safety_replies(settings.content_dir),
        hotlines=load_hotlines(settings.content_dir),
        dialogue=dialogue,
        nlu_model=nlu_model,
        referrals=load_referrals(settings.content_dir),
    )


async def build_runtime(
    settings: Settings, *, clock: Callable[[], datetime] | None = None, content: Content | None = None
) -> Runtime:
    """Load and validate all content, open the database and bring its schema up to date."""
    content = content or load_content(settings)
    # Before serving: the first risky message must not be the one that waits for a dictionary to load.
    content.triage.warm_up()
    cipher = cipher_for(settings)
    db = Database(create_engine(database_url(settings), deadline=settings.store_deadline))
    await upgrade(db.engine, cipher=cipher)
    journal = Journal(settings.data_dir / JOURNAL_FOLDER, cipher)
    journal.open()
    return Runtime(
        settings=settings,
        db=db,
        cipher=cipher,
        triage=content.triage,
        safety=content.safety,
        hotlines=content.hotlines,
        dialogue=content.dialogue,
        nlu=(
            RasaBackend(settings.rasa_url, settings.rasa_timeout, content.nlu_model)
            if settings.nlu_backend == "rasa"
            else EmbeddedBackend(content.nlu_model)
        ),
        sla=SlaPolicy(settings.sla_red, settings.sla_orange, settings.sla_yellow_working_days),
        events=CaseEvents(),
        metrics=Metrics(),
        deliveries=Deliveries(),
        clock=clock or (lambda: datetime.now(UTC)),
        people=PersonCache(),
        group_commit=GroupCommit(db),
        journal=journal,
        referrals=content.referrals,
    )


@web.middleware
async def body_deadline(request: web.Request, handler: Callable[[web.Request], object]) -> web.StreamResponse:
    """A request body must arrive within ``BODY_SECONDS``: a slow or stalled client gets 408 instead of holding a
    connection (handlers read the body aiohttp keeps from here)."""
    if request.body_exists:
        try:
            async with asyncio.timeout(BODY_SECONDS):
                await request.read()
        except TimeoutError:
            return web.json_response(
                {"error": f"the body did not arrive within {BODY_SECONDS:g} seconds", "status": 408},
                status=408,
                headers={"Connection": "close"},
            )
    response = await handler(request)  # type: ignore[misc]
    assert isinstance(response, web.StreamResponse)
    return response


@web.middleware
async def json_errors(request: web.Request, handler: Callable[[web.Request], object]) -> web.StreamResponse:
    """API errors as JSON bodies; unexpected failures logged and answered 500 without details."""
    try:
        response = await handler(request)  # type: ignore[misc]
    except web.HTTPException as exc:
        if not request.path.startswith("/api/") or exc.content_type == "application/json":
            raise
        status = exc.status
        message = "body too large" if status == 413 else exc.reason
        headers = {k: v for k, v in exc.headers.items() if k.lower() not in {"content-type", "content-length"}}
        return web.json_response({"error": message, "status": status}, status=status, headers=headers)
    except Exception as error:
        request.app[RUNTIME_KEY].metrics.errors.labels("http").inc()
        if is_unavailable(error):
            log.warning("database unavailable for a request", extra={"event": "http_unavailable", "path": request.path})
            return web.json_response(
                {"error": "the database is busy or unavailable; please retry shortly", "status": 503},
                status=503,
                headers={"Retry-After": "5"},
            )
        log.exception("request failed", extra={"event": "http_error", "path": request.path})
        return web.json_response({"error": "internal error; please retry", "status": 500}, status=500)
    assert isinstance(response, web.StreamResponse)
    return response


async def create_app(
    settings: Settings, *, clock: Callable[[], datetime] | None = None, content: Content | None = None
) -> web.Application:
    """The whole service as one aiohttp application. Takes the database's instance lock first (``AlreadyRunning``
    when another serving process holds it): the journal and the person registry belong to one process."""
    lock = InstanceLock(database_url(settings))
    await lock.acquire("xinqiao serve")
    try:
        runtime = await build_runtime(settings, clock=clock, content=content)
    except BaseException:
        await lock.release()
        raise
    pipeline = MessagePipeline(runtime)
    casework = Casework(runtime)
    app = web.Application(middlewares=[json_errors, body_deadline], client_max_size=MAX_BODY)
    app[RUNTIME_KEY] = runtime
    app[PIPELINE_KEY] = pipeline
    app[CASEWORK_KEY] = casework
    web_chat = WebChat(runtime, pipeline)
    console_auth = ConsoleAuth(runtime)
    counselor_api = CounselorApi(runtime, casework, console_auth)
    app.add_routes(web_chat.routes())
    app.add_routes(ArticlePages(runtime.dialogue.library, runtime.dialogue.domain.labels["article"]["help"]).routes())
    app.add_routes(counselor_api.routes())
    app.add_routes(ConsolePages(runtime, console_auth, casework).routes())
    app.add_routes(CasePages(runtime, console_auth, casework, runtime.referrals).routes())
    app.add_routes([web.get("/healthz", healthz), web.get("/metrics", metrics)])
    app[HEALTH_KEY] = HealthProbe(runtime.db)
    # Shutdown, in order (aiohttp has stopped accepting by now): say goodbye on open sockets and streams so their
    # handlers end, then in-flight messages drain (the runner's shutdown timeout), then the cleanups below.
    app.on_shutdown.append(lambda _app: web_chat.close_sockets(settings.store_deadline + JOURNAL_WAIT))
    app.on_shutdown.append(lambda _app: counselor_api.close_streams())
    app.cleanup_ctx.append(_journal_replay)
    app.cleanup_ctx.append(_watchdog)
    app.on_cleanup.append(_close_db)

    async def release(_app: web.Application) -> None:
        await lock.release()

    app.on_cleanup.append(release)
    return app


class HealthProbe:
    """At most one write probe of the database at a time; a caller waits for it only ``HEALTH_WAIT`` seconds."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._task: asyncio.Task[None] | None = None

    async def check(self) -> str:
        """``ok``, ``slow`` (no answer in time), or the name of the error the database gave."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._db.probe(), name="health-probe")
        done, _ = await asyncio.wait({self._task}, timeout=HEALTH_WAIT)
        if not done:
            return "slow"
        error = self._task.exception()
        return "ok" if error is None else type(error).__name__

    async def close(self) -> None:
        """Stop a probe still waiting."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


HEALTH_KEY = web.AppKey("health", HealthProbe)


async def healthz(request: web.Request) -> web.Response:
    """``GET /healthz``: 200 ``ok``; 503 ``degraded`` (with the journal's depth) while the database is slow, down
    or refusing writes, or messages wait in the journal. Answers within a second."""
    pipeline = request.app[PIPELINE_KEY]
    journal = request.app[RUNTIME_KEY].journal
    database = await request.app[HEALTH_KEY].check()
    body = {"database": database, "journal": pipeline.unsaved, "set_aside": journal.set_aside}
    if database != "ok" or pipeline.unsaved:
        return web.json_response({"status": "degraded", **body}, status=503)
    return web.json_response({"status": "ok", **body})


async def metrics(request: web.Request) -> web.Response:
    """``GET /metrics``: Prometheus text format; case counts read fresh from the store."""
    runtime = request.app[RUNTIME_KEY]
    try:
        async with runtime.db.reading() as session:
            runtime.metrics.set_case_counts(await case_store.counts(session))
    except Exception:  # the metrics page must render while the database is down
        runtime.metrics.errors.labels("metrics").inc()
    return web.Response(body=runtime.metrics.render(), content_type="text/plain", charset="utf-8")


async def watchdog_once(app: web.Application) -> None:
    """One round: climb overdue cases first (escalation must not wait behind a long replay), then store what the
    journal holds. A failure of either is logged and counted; the next round tries again."""
    for name, work in (("sweep", app[CASEWORK_KEY].sweep), ("replay", app[PIPELINE_KEY].replay_journal)):
        try:
            await work()
        except Exception:
            app[RUNTIME_KEY].metrics.errors.labels("watchdog").inc()
            log.exception("watchdog round failed", extra={"event": "watchdog_failed", "part": name})


async def _watchdog(app: web.Application) -> AsyncIterator[None]:
    interval = app[RUNTIME_KEY].settings.watchdog_seconds

    async def loop() -> None:
        while True:
            await asyncio.sleep(interval)
            await watchdog_once(app)

    task = asyncio.create_task(loop(), name="sla-watchdog")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _journal_replay(app: web.Application) -> AsyncIterator[None]:
    """What an earlier run left in the journal is stored at start; then, while entries wait, every second."""
    pipeline = app[PIPELINE_KEY]
    journal = app[RUNTIME_KEY].journal

    async def replay() -> None:
        try:
            await pipeline.replay_journal()
        except Exception:
            app[RUNTIME_KEY].metrics.errors.labels("journal").inc()
            log.exception("journal replay failed", extra={"event": "journal_replay_failed"})

    async def loop() -> None:
        while True:
            await asyncio.sleep(REPLAY_SECONDS)
            if pipeline.unsaved:
                await replay()

    if journal.depth:
        await replay()
    task = asyncio.create_task(loop(), name="journal-replay")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _close_db(app: web.Application) -> None:
    await app[HEALTH_KEY].close()
    await app[PIPELINE_KEY].settle()
    await app[RUNTIME_KEY].nlu.close()
    await app[RUNTIME_KEY].group_commit.close()
    await app[RUNTIME_KEY].journal.close()
    await app[RUNTIME_KEY].db.close()
