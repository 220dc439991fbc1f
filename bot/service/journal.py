"""The durable local journal: messages the database could not take in time, kept in an append-only file
(fsync'd before the person is answered, each entry encrypted like the database), replayed into the store at
start and by the watchdog, and forgotten once committed. An entry that can never be stored is set aside in a
file of its own so that it never blocks the entries behind it.

File format, one record a line: ``+SEQ TOKEN`` an entry (TOKEN is the encrypted JSON), ``-SEQ`` stored,
``!SEQ REASON`` set aside. A torn last line (a crash while writing) is ignored: its message was never answered
as stored."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.core.messages import Button, InboundMessage, OutboundMessage, Profile
from bot.store.crypto import InvalidToken, TextCipher

log = logging.getLogger(__name__)
ENTRIES = "entries.log"
SET_ASIDE = "set-aside.log"
# Rewrite the file without the stored entries once this many records are dead weight.
COMPACT_AFTER = 1000


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One message that waits to be stored: what arrived, when, and the replies that already went out."""

    inbound: InboundMessage
    received_at: datetime
    replies: tuple[OutboundMessage, ...]
    delivered: bool
    # The person asked for a counselor while the store was down: the replay opens the request.
    wants_counselor: bool = False

    @property
    def person(self) -> tuple[str, str]:
        """(channel, external id) of the person."""
        return (self.inbound.channel, self.inbound.user_external_id)

    def to_json(self) -> str:
        """The entry as JSON (encrypted before it reaches the file)."""
        m = self.inbound
        data = {
            "channel": m.channel,
            "user": m.user_external_id,
            "id": m.external_id,
            "text": m.text,
            "profile": {k: getattr(m.profile, k) for k in ("lang", "region", "role", "school", "grade")},
            "at": self.received_at.isoformat(),
            "replies": [
                {"text": r.text, "sender": r.sender, "buttons": [[b.title, b.payload] for b in r.buttons]}
                for r in self.replies
            ],
            "delivered": self.delivered,
            "wants_counselor": self.wants_counselor,
        }
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> JournalEntry:
        """Read an entry written by ``to_json``; raises ``ValueError`` or ``KeyError`` when it is not one."""
        data: dict[str, Any] = json.loads(text)
        inbound = InboundMessage(data["channel"], data["user"], data["id"], data["text"], Profile(**data["profile"]))
        replies = tuple(
            OutboundMessage(r["text"], tuple(Button(t, p) for t, p in r["buttons"]), r["sender"])
            for r in data["replies"]
        )
        received_at = datetime.fromisoformat(data["at"])
        if received_at.tzinfo is None:
            raise ValueError("journal time without a zone")
        return cls(inbound, received_at, replies, bool(data["delivered"]), bool(data["wants_counselor"]))


@dataclass(slots=True)
class _Write:
    text: str
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Journal:
    """Pending entries in memory, in arrival order, mirrored by the file under ``folder``."""

    def __init__(self, folder: Path, cipher: TextCipher) -> None:
        self._folder = folder
        self._cipher = cipher
        self._pending: OrderedDict[int, JournalEntry] = OrderedDict()
        self._next = 1
        self._dead = 0  # records in the file for entries no longer pending
        self._set_aside = 0
        self._writes: list[_Write] = []
        self._writer: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def depth(self) -> int:
        """Entries waiting to be stored."""
        return len(self._pending)

    @property
    def set_aside(self) -> int:
        """Entries set aside since start (they could not be stored)."""
        return self._set_aside

    def entries(self) -> Iterator[tuple[int, JournalEntry]]:
        """Pending entries, oldest first (a snapshot: safe to mark entries while iterating)."""
        return iter(list(self._pending.items()))

    def people(self) -> list[tuple[str, str]]:
        """The people with pending entries, in the order their oldest entry arrived."""
        return list(dict.fromkeys(entry.person for entry in self._pending.values()))

    def of_person(self, person: tuple[str, str]) -> list[tuple[int, JournalEntry]]:
        """One person's pending entries, oldest first."""
        return [(seq, entry) for seq, entry in self._pending.items() if entry.person == person]

    def has(self, person: tuple[str, str]) -> bool:
        """True when this person has a pending entry (their new messages must wait behind it)."""
        return bool(self._pending) and any(entry.person == person for entry in self._pending.values())

    def open(self) -> None:
        """Create the folder (owner only) and read what a previous run left; undecryptable entries are set aside."""
        self._folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self._folder, 0o700)
        path = self._folder / ENTRIES
        if not path.exists():
            return
        raw: OrderedDict[int, str] = OrderedDict()
        gone: set[int] = set()
        lines = path.read_bytes().split(b"\n")
        torn = lines.pop()  # what follows the last newline: empty unless a write was cut short
        if torn:
            log.warning("journal: ignored a torn last record", extra={"event": "journal_torn"})
        for line in lines:
            record = line.decode("ascii", "replace")
            kind, _, rest = record.partition(" ")
            if not kind[1:].isdigit() or kind[0] not in "+-!":
                log.warning("journal: ignored an unreadable record", extra={"event": "journal_unreadable"})
                continue
            seq = int(kind[1:])
            self._next = max(self._next, seq + 1)
            if kind[0] == "+":
                raw[seq] = rest
            else:
                gone.add(seq)
        for seq, token in raw.items():
            if seq in gone:
                continue
            try:
                self._pending[seq] = JournalEntry.from_json(self._cipher.decrypt(token.encode("ascii")))
            except (InvalidToken, ValueError, KeyError, TypeError) as exc:
                self._append_set_aside_sync(seq, token, type(exc).__name__)
        self._dead = len(raw) + len(gone) - len(self._pending)
        self._rewrite_sync()
        if self._pending:
            log.warning(
                "journal: messages from an earlier run wait to be stored",
                extra={"event": "journal_loaded", "depth": len(self._pending)},
            )

    async def append(self, entry: JournalEntry) -> int:
        """Write ``entry`` and fsync it; returns its number. Raises ``OSError`` when the disk refuses."""
        token = self._cipher.encrypt(entry.to_json()).decode("ascii")
        seq = self._next
        self._next += 1
        # Pending before it is written, so that a compaction running meanwhile keeps it in the file.
        self._pending[seq] = entry
        try:
            await self._write(f"+{seq} {token}\n")
        except OSError:
            self._pending.pop(seq, None)
            raise
        return seq

    async def stored(self, seq: int) -> None:
        """The entry is in the database now: forget it."""
        if self._pending.pop(seq, None) is None:
            return
        self._dead += 1
        await self._write(f"-{seq}\n")
        await self._maybe_compact()

    async def put_aside(self, seq: int, reason: str) -> None:
        """The entry can never be stored: move it to the set-aside file, with the error's name only."""
        entry = self._pending.pop(seq, None)
        if entry is None:
            return
        token = self._cipher.encrypt(entry.to_json()).decode("ascii")
        await asyncio.to_thread(self._append_set_aside_sync, seq, token, reason)
        self._dead += 1
        await self._write(f"!{seq} {reason}\n")
        await self._maybe_compact()

    def rotate(self) -> int:
        """Re-encrypt pending and set-aside entries under the cipher's first key (``xinqiao db rotate-keys``);
        returns how many. Call with no service running."""
        count = 0
        for name in (ENTRIES, SET_ASIDE):
            path = self._folder / name
            if not path.exists():
                continue
            out = []
            for line in path.read_text("ascii").splitlines():
                # "+SEQ TOKEN" in the entries, "SEQ TOKEN REASON" in the set-aside file: the token is second.
                parts = line.split(" ")
                if len(parts) >= 2 and (name == SET_ASIDE or line.startswith("+")):
                    parts[1] = self._cipher.rotate(parts[1].encode("ascii")).decode("ascii")
                    count += 1
                out.append(" ".join(parts))
            self._replace_sync(path, "".join(f"{line}\n" for line in out))
        return count

    async def _write(self, text: str) -> None:
        write = _Write(text)
        self._writes.append(write)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._flush(), name="journal-writer")
        await write.done

    async def _flush(self) -> None:
        # Records that arrive while one fsync runs share the next one (group commit, as for the database).
        while self._writes:
            batch, self._writes = self._writes, []
            try:
                async with self._lock:
                    await asyncio.to_thread(self._append_sync, "".join(w.text for w in batch))
            except OSError as exc:
                for write in batch:
                    if not write.done.done():
                        write.done.set_exception(exc)
                continue
            for write in batch:
                if not write.done.done():
                    write.done.set_result(None)

    def _append_sync(self, text: str) -> None:
        _write_durably(self._folder / ENTRIES, text, os.O_APPEND)

    def _append_set_aside_sync(self, seq: int, token: str, reason: str) -> None:
        self._set_aside += 1
        _write_durably(self._folder / SET_ASIDE, f"{seq} {token} {reason}\n", os.O_APPEND)
        log.error(
            "journal: a message could not be stored and was set aside",
            extra={"event": "journal_set_aside", "seq": seq, "reason": reason},
        )

    async def _maybe_compact(self) -> None:
        if self._dead < COMPACT_AFTER and (self._pending or not self._dead):
            return
        async with self._lock:
            await asyncio.to_thread(self._rewrite_sync)

    def _rewrite_sync(self) -> None:
        """The file with only the pending entries (empty when none), replaced atomically."""
        path = self._folder / ENTRIES
        lines = [f"+{seq} {self._cipher.encrypt(e.to_json()).decode('ascii')}\n" for seq, e in self._pending.items()]
        self._replace_sync(path, "".join(lines))
        self._dead = 0

    def _replace_sync(self, path: Path, text: str) -> None:
        temporary = path.with_suffix(".tmp")
        _write_durably(temporary, text, os.O_TRUNC)
        os.replace(temporary, path)
        directory = os.open(self._folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    async def close(self) -> None:
        """Wait for the last writes."""
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)


def _write_durably(path: Path, text: str, mode: int) -> None:
    """Write ``text`` to ``path`` (owner-only; ``mode`` O_APPEND or O_TRUNC) and fsync it before returning."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | mode, 0o600)
    try:
        data = memoryview(text.encode("ascii"))
        while data:  # a write may take less than all of it
            data = data[os.write(descriptor, data) :]
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
