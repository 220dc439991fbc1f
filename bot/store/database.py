"""Engine, sessions and migrations. SQLite under ``./data/`` by default (WAL), PostgreSQL by ``DATABASE_URL``."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, exc, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from bot.settings import Settings
from bot.store.crypto import TextCipher

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
READ_ONLY = "xinqiao_read_only"


def default_url(data_dir: Path) -> str:
    """The development database: SQLite in ``data_dir``."""
    return f"sqlite+aiosqlite:///{data_dir / 'xinqiao.db'}"


def database_url(settings: Settings) -> str:
    """``DATABASE_URL`` or SQLite under the data folder."""
    return settings.database_url or default_url(settings.data_dir)


# The health probe's own engine waits this long for a lock: our own writes hold it for milliseconds.
PROBE_LOCK_WAIT = 0.25
# Waits for a lock outside the serving process (commands, migrations): long, since nobody is waiting on a reply.
COMMAND_LOCK_WAIT = 30.0


def create_engine(url: str, *, deadline: float | None = None) -> AsyncEngine:
    """An async engine. ``deadline`` (seconds) bounds how long a statement waits for a lock or runs: the serving
    process gives up then and keeps the message in its journal, instead of holding a safety reply. SQLite gets WAL,
    foreign keys and a busy timeout on every connection; the database file is made readable by its owner only.
    Parameters are never written into error messages or logs (they hold person hashes, schools, grades)."""
    parsed = make_url(url)
    lock_wait = deadline if deadline is not None else COMMAND_LOCK_WAIT
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _private_file(Path(parsed.database))
        engine = create_async_engine(url, connect_args={"timeout": lock_wait}, hide_parameters=True)
        busy_ms = int(lock_wait * 1000)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # The driver's own implicit BEGIN is switched off so that we choose the kind of BEGIN (below).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            # WAL lets readers run beside the one writer; NORMAL sync is durable across process crashes in WAL.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(connection: Connection) -> None:
            # A write transaction takes the write lock at BEGIN: concurrent writers then wait their turn
            # (busy_timeout) instead of failing when a read lock cannot be upgraded. Reads stay deferred.
            read_only = connection.get_execution_options().get(READ_ONLY, False)
            connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    connect_args: dict[str, Any] = {"timeout": min(lock_wait, 10.0)}
    if deadline is not None:
        # A locked table or a stuck statement ends on the server too, freeing the connection for the next message.
        connect_args["server_settings"] = {
            "lock_timeout": str(int(deadline * 1000)),
            "statement_timeout": str(int(max(deadline * 2.5, 5.0) * 1000)),
        }
    return create_async_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
        pool_timeout=lock_wait,
        connect_args=connect_args,
        hide_parameters=True,
    )


def _private_file(path: Path) -> None:
    """Create the SQLite file (and its folder) for the owner only; SQLite gives its -wal and -shm files the same
    permissions. An existing file is never opened here: closing any descriptor of a file drops every POSIX lock
    this process holds on it, including those of SQLite connections already open (stale reads, or worse)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)


# SQLSTATE classes and codes that say "not now" rather than "never": connection, resources, operator
# intervention (statement timeout, shutdown), lock not available, rollback (deadlock, serialization), system.
_TRANSIENT_SQLSTATE_CLASSES = ("08", "53", "57", "58", "40")
_TRANSIENT_SQLSTATES = ("55P03", "55006")


def is_unavailable(error: BaseException) -> bool:
    """True when ``error`` means the database cannot take writes now (down, locked, slow, schema missing) and the
    same statement may well succeed later; False for errors in the data itself, which will fail every time."""
    if isinstance(error, TimeoutError | OSError | exc.TimeoutError | exc.DisconnectionError):
        return True
    if isinstance(error, exc.OperationalError | exc.InterfaceError | exc.ProgrammingError):
        return True
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:
            return True
        state = getattr(error.orig, "sqlstate", None) or ""
        return state.startswith(_TRANSIENT_SQLSTATE_CLASSES) or state in _TRANSIENT_SQLSTATES
    return False


def _alembic_config(connection: Connection, cipher: TextCipher | None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    # Migrations that encrypt existing values (0003's outcomes) use the service's own keys.
    config.attributes["cipher"] = cipher
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head", *, cipher: TextCipher | None = None) -> None:
    """Apply migrations up to ``revision`` on ``engine``'s database."""
    await _migrate(engine, lambda sync: command.upgrade(_alembic_config(sync, cipher), revision))


async def downgrade(engine: AsyncEngine, revision: str = "base", *, cipher: TextCipher | None = None) -> None:
    """Undo migrations down to ``revision``."""
    await _migrate(engine, lambda sync: command.downgrade(_alembic_config(sync, cipher), revision))


class MigrationError(RuntimeError):
    """A migration left rows that break a foreign key; nothing was changed."""


async def _migrate(engine: AsyncEngine, step: Callable[[Connection], None]) -> None:
    """Run ``step`` in one transaction. On SQLite a column change rebuilds the table (copy, drop, rename), which
    foreign-key enforcement forbids while other rows point at it: enforcement is off for the migration, on a
    connection of its own, and the keys are checked before the commit (SQLite's documented procedure)."""
    async with engine.connect() as connection:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            await _sqlite_foreign_keys(connection, enforced=False)
        try:
            async with connection.begin():
                await connection.run_sync(step)
                if sqlite and (await connection.exec_driver_sql("PRAGMA foreign_key_check")).first() is not None:
                    raise MigrationError("the migration would break a foreign key; rolled back")
        finally:
            if sqlite:
                await _sqlite_foreign_keys(connection, enforced=True)


async def _sqlite_foreign_keys(connection: AsyncConnection, *, enforced: bool) -> None:
    # Outside any transaction (the pragma does nothing inside one), so on the driver's connection directly.
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    await driver.execute(f"PRAGMA foreign_keys={'ON' if enforced else 'OFF'}")


async def ping(engine: AsyncEngine) -> None:
    """Raise unless the database answers a trivial query."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def probe_writable(engine: AsyncEngine) -> None:
    """Raise unless a message could be written now, without writing: SQLite's write lock is taken and given back;
    on PostgreSQL the lock an INSERT into messages needs is asked for without waiting."""
    async with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            # The begin listener issues BEGIN IMMEDIATE: it fails when another connection holds the write lock.
            transaction = await connection.begin()
            await transaction.rollback()
            return
        async with connection.begin():
            await connection.execute(text("LOCK TABLE messages IN ROW EXCLUSIVE MODE NOWAIT"))


class Database:
    """The engine and its session factories."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        # SQLite has one write lock: writers queue here, in order, instead of polling the lock in busy_timeout
        # sleeps (which gave second-long tails under concurrency). PostgreSQL writers run side by side.
        self._write_turn = asyncio.Lock() if self.dialect == "sqlite" else None
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._reading = async_sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)
        self._probe: AsyncEngine | None = None

    async def probe(self) -> None:
        """Raise unless a message could be written now (``probe_writable`` on an engine of its own, which waits for
        a lock only briefly and never queues behind the service's connections)."""
        if self._probe is None:
            self._probe = create_engine(self.engine.url.render_as_string(hide_password=False), deadline=PROBE_LOCK_WAIT)
        await probe_writable(self._probe)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        if self._write_turn is None:
            async with self._sessions() as session, session.begin():
                yield session
            return
        async with self._write_turn, self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only."""
        async with self._reading() as session:
            yield session

    async def close(self) -> None:
        """Dispose of the connection pools."""
        if self._probe is not None:
            await self._probe.dispose()
        await self.engine.dispose()


def insert_ignoring_conflicts(dialect: str, table: Any) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` for SQLite or PostgreSQL (rows that would break a unique key are
    skipped; ``RETURNING`` shows which were inserted)."""
    if dialect == "postgresql":
        return postgresql_insert(table).on_conflict_do_nothing()
    return sqlite_insert(table).on_conflict_do_nothing()
