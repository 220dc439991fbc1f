"""One serving process per database: a PostgreSQL advisory lock held on a connection of its own, or an exclusive
lock on a file beside the SQLite database. The person registry, caches and journal live in one process; a second
one would silently drop counselor replies and handoffs."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

# An arbitrary constant shared by every Xinqiao process: the advisory lock's name ("xinqiao" in ASCII).
ADVISORY_KEY = 0x78696E7169616F


class AlreadyRunning(RuntimeError):
    """Another Xinqiao process holds this database; the message says which and what to do."""


class InstanceLock:
    """Held from ``acquire`` until ``release``."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._file: int | None = None
        self._engine: AsyncEngine | None = None
        self._connection: AsyncConnection | None = None

    async def acquire(self, what: str) -> None:
        """Take the lock for ``what`` (e.g. ``xinqiao serve``); raises ``AlreadyRunning`` if it is taken."""
        parsed = make_url(self._url)
        if parsed.get_backend_name() == "sqlite":
            path = Path(f"{parsed.database}.lock")
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(descriptor, 200).decode("utf-8", "replace").strip() or "another process"
                os.close(descriptor)
                raise AlreadyRunning(
                    f"{holder} is already using {parsed.database}; stop it first (one process per database)"
                ) from None
            os.ftruncate(descriptor, 0)
            os.write(descriptor, f"{what} (pid {os.getpid()})".encode())
            self._file = descriptor
            return
        self._engine = create_async_engine(self._url, pool_size=1, max_overflow=0)
        self._connection = await self._engine.connect()
        taken = await self._connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY})
        await self._connection.commit()
        if not taken:
            await self.release()
            database = parsed.render_as_string(hide_password=True)
            raise AlreadyRunning(
                f"another xinqiao process is already using {database}; stop it first (one process per database)"
            )

    async def release(self) -> None:
        """Give the lock back (closing the connection or file is enough; done explicitly for a clean exit)."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file, fcntl.LOCK_UN)
            os.close(self._file)
            self._file = None
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
