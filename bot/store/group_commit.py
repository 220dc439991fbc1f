"""Group commit for ordinary messages: exchanges that arrive while a write is running are stored together in the
next transaction, as one INSERT. Each caller still waits for the commit that holds its rows, so nothing is
acknowledged before it is stored; fewer transactions and statements make room for many more messages a second."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from bot.core.messages import StoredOutbound
from bot.store import dialogue_store
from bot.store import messages as message_store
from bot.store.database import Database
from bot.store.messages import Exchange

MAX_ROWS = 400


class GroupCommit:
    """Queue of exchanges and the one task that writes them."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._waiting: deque[tuple[Exchange, asyncio.Future[tuple[int, list[StoredOutbound]] | None]]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._writing = False

    async def store(self, item: Exchange) -> tuple[int, list[StoredOutbound]] | None:
        """Store ``item`` in the next group; returns like ``Exchange.result``; raises what the write raised."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="group-commit")
        future: asyncio.Future[tuple[int, list[StoredOutbound]] | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        self._wake.set()
        return await future

    async def close(self, drain_seconds: float = 0.5) -> None:
        """Stop the writer at shutdown, after the server stopped taking messages: what is queued is written first
        (for at most ``drain_seconds``; a waiter left over gets the cancellation and falls back to the journal)."""
        if self._task is None:
            return
        deadline = asyncio.get_running_loop().time() + drain_seconds
        while (self._waiting or self._writing) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._waiting:
                group, rows = [], 0
                while self._waiting and rows < MAX_ROWS:
                    entry = self._waiting.popleft()
                    group.append(entry)
                    rows += len(entry[0].rows)
                self._writing = True
                try:
                    await self._write(group)
                finally:
                    self._writing = False

    async def _write(
        self, group: list[tuple[Exchange, asyncio.Future[tuple[int, list[StoredOutbound]] | None]]]
    ) -> None:
        try:
            async with self._db.transaction() as session:
                ids = await message_store.insert_rows(session, [row for item, _ in group for row in item.rows])
                # A re-delivered message (its row skipped) must not move the conversation's state again.
                states = [
                    item.state_row
                    for item, _ in group
                    if item.state_row is not None and (item.user_id, item.external_id) in ids
                ]
                await dialogue_store.upsert_states(session, states)
        except Exception as exc:  # every waiter gets the failure and takes its own fallback
            for _item, future in group:
                if not future.done():
                    future.set_exception(exc)
            return
        for item, future in group:
            if not future.done():
                future.set_result(item.result(ids))
