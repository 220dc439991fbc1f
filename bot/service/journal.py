"""The durable local journal: messages the database could not take in time, kept in an append-only file
(fsync'd before the person is answered, each entry encrypted like the database), replayed into the store at
start and by the watchdog, and forgotten once committed. An entry that can never be stored is set aside in a
file of its own so that it never blocks the entries behind it.

File format, one record a line: ``+SEQ TOKEN`` an entry (TOKEN is the encrypted JSON), ``-SEQ`` stored,
``!SEQ REASON`` set aside. A torn last line (a crash while writing) is ignored: its message was never answered
as stored."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.core.messages import Button, InboundMessage, OutboundMessage, Profile
from bot.store.crypto import InvalidToken, TextCipher

log = logging.getLogger(__name__)
ENTRIES = "entries.log"
SET_ASIDE = "set-aside.log"
LOCK = "lock"
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


class JournalBusy(RuntimeError):
    """Another process is using this journal folder (two services sharing one data folder)."""


@dataclass(slots=True)
class _Op:
    """One file operation for the writer task: ``entries`` appends a record, ``set_aside`` appends an entry to the
    set-aside file, ``compact`` rewrites the entries file with only what is pending, ``forget`` rewrites the
    set-aside file without one person's entries."""

    kind: str
    text: str = ""
    person: tuple[str, str] | None = None
    seq: int | None = None  # the entry an ``entries`` append writes
    done: asyncio.Future[int] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Journal:
    """Pending entries in memory, in arrival order, mirrored by the file under ``folder``. Every write goes through
    one writer task, in order: an append never races a compaction, and a caller that gives up (a deadline)
    never interrupts a write half done."""

    def __init__(self, folder: Path, cipher: TextCipher) -> None:
        self._folder = folder
        self._cipher = cipher
        self._pending: OrderedDict[int, JournalEntry] = OrderedDict()
        self._next = 1
        self._dead = 0  # records in the file for entries no longer pending
        self._set_aside = 0
        self._ops: list[_Op] = []
        self._unwritten: set[int] = set()
        self._writer: asyncio.Task[None] | None = None
        self._lock_file: int | None = None

    @property
    def depth(self) -> int:
        """Entries waiting to be stored."""
        return len(self._pending)

    @property
    def set_aside(self) -> int:
        """Entries set aside since start (they could not be stored)."""
        return self._set_aside

    def people(self) -> list[tuple[str, str]]:
        """The people with pending entries, in the order their oldest entry arrived."""
        return list(dict.fromkeys(entry.person for entry in self._pending.values()))

    def of_person(self, person: tuple[str, str]) -> list[tuple[int, JournalEntry]]:
        """One person's pending entries, oldest first."""
        return [(seq, entry) for seq, entry in self._pending.items() if entry.person == person]

    def has(self, person: tuple[str, str]) -> bool:
        """True when this person has a pending entry (their new messages must wait behind it)."""
        return bool(self._pending) and any(entry.person == person for entry in self._pending.values())

    def lock(self) -> None:
        """Take the folder for this process (``JournalBusy`` if another has it); held until ``close``."""
        self._folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self._folder, 0o700)
        descriptor = os.open(self._folder / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise JournalBusy(
                f"another xinqiao process uses the journal in {self._folder} (XINQIAO_DATA_DIR); "
                "give each service its own data folder"
            ) from None
        self._lock_file = descriptor

    def open(self) -> None:
        """Take the folder and read what a previous run left; undecryptable entries are set aside."""
        self.lock()
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
                self._set_aside_sync(f"{seq} {token} {type(exc).__name__}\n")
        _replace_durably(path, self._pending_text())
        if self._pending:
            log.warning(
                "journal: messages from an earlier run wait to be stored",
                extra={"event": "journal_loaded", "depth": len(self._pending)},
            )

    async def append(self, entry: JournalEntry) -> int:
        """Keep ``entry`` and return its number: pending at once (before the first await, so that the person's
        next message finds it), then written and fsync'd. If the disk refuses, the entry stays pending in memory
        only (``written`` is False: replayed all the same, lost with the process) until a compaction writes it."""
        token = self._cipher.encrypt(entry.to_json()).decode("ascii")
        seq = self._next
        self._next += 1
        self._pending[seq] = entry
        try:
            await self._submit(_Op("entries", f"+{seq} {token}\n", seq=seq))
        except Exception:
            self._unwritten.add(seq)
            log.exception("journal: the disk refused an entry; kept in memory", extra={"event": "journal_failed"})
            return seq
        if self._unwritten:
            await self._submit(_Op("compact"))  # the disk is back: what only memory held goes into the file
        return seq

    def written(self, seq: int) -> bool:
        """False while entry ``seq`` is pending in memory only (the disk refused it)."""
        return seq not in self._unwritten

    def is_pending(self, seq: int) -> bool:
        """True while entry ``seq`` waits to be stored (an erasure or another replay may have taken it)."""
        return seq in self._pending

    @property
    def unwritten(self) -> int:
        """Pending entries only in memory, because the disk refused them."""
        return len(self._unwritten)

    async def stored(self, seq: int) -> None:
        """The entry is in the database now: forget it."""
        if self._pending.pop(seq, None) is None:
            return
        self._unwritten.discard(seq)
        self._dead += 1
        await self._submit(_Op("entries", f"-{seq}\n"))
        await self._maybe_compact()

    async def put_aside(self, seq: int, reason: str) -> None:
        """The entry can never be stored: move it to the set-aside file, with the error's name only."""
        entry = self._pending.pop(seq, None)
        if entry is None:
            return
        self._unwritten.discard(seq)
        token = self._cipher.encrypt(entry.to_json()).decode("ascii")
        await self._submit(_Op("set_aside", f"{seq} {token} {reason}\n"))
        self._dead += 1
        await self._submit(_Op("entries", f"!{seq} {reason}\n"))
        await self._maybe_compact()

    async def forget_person(self, person: tuple[str, str]) -> int:
        """Erase a person's entries, pending and set aside (their data is being erased); returns how many."""
        pending = [seq for seq, entry in self._pending.items() if entry.person == person]
        for seq in pending:
            self._pending.pop(seq)
            self._unwritten.discard(seq)
            self._dead += 1
            await self._submit(_Op("entries", f"-{seq}\n"))
        dropped = await self._submit(_Op("forget", person=person))
        await self._submit(_Op("compact"))
        return len(pending) + dropped

    def rotate(self) -> tuple[int, int]:
        """Re-encrypt pending and set-aside entries under the cipher's first key (``xinqiao db rotate-keys``, with
        no service running); returns (rotated, unreadable): an entry no key opens is left as it is."""
        rotated = unreadable = 0
        for name in (ENTRIES, SET_ASIDE):
            path = self._folder / name
            if not path.exists():
                continue
            out = []
            for line in path.read_text("ascii").splitlines():
                # "+SEQ TOKEN" in the entries, "SEQ TOKEN REASON" in the set-aside file: the token is second.
                parts = line.split(" ")
                if len(parts) >= 2 and (name == SET_ASIDE or line.startswith("+")):
                    try:
                        parts[1] = self._cipher.rotate(parts[1].encode("ascii")).decode("ascii")
                        rotated += 1
                    except InvalidToken:
                        unreadable += 1
                out.append(" ".join(parts))
            _replace_durably(path, "".join(f"{line}\n" for line in out))
        return rotated, unreadable

    async def _maybe_compact(self) -> None:
        if self._dead >= COMPACT_AFTER or (not self._pending and self._dead):
            await self._submit(_Op("compact"))

    async def _submit(self, op: _Op) -> int:
        # Read the outcome even when nobody waits any more, so that a failure is not reported as unretrieved.
        op.done.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._ops.append(op)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._run_writer(), name="journal-writer")
        # The writer finishes the operation even if this caller gives up waiting (a deadline).
        return await asyncio.shield(op.done)

    async def _run_writer(self) -> None:
        while self._ops:
            # Appends that arrive while one fsync runs share the next one (group commit, as for the database).
            batch: list[_Op] = []
            while self._ops and self._ops[0].kind == "entries":
                batch.append(self._ops.pop(0))
            if batch:
                await self._perform(batch, _append, self._folder / ENTRIES, "".join(op.text for op in batch))
                continue
            op = self._ops.pop(0)
            if op.kind == "set_aside":
                await self._perform([op], self._set_aside_sync, op.text)
            elif op.kind == "compact":
                # Built here, on the loop, from what is pending now; appends queued after it go to the new file.
                written = set(self._pending)
                if await self._perform([op], _replace_durably, self._folder / ENTRIES, self._pending_text()):
                    self._dead = 0
                    self._unwritten -= written
            elif op.person is not None:
                await self._perform([op], self._forget_sync, op.person)

    async def _perform(self, ops: list[_Op], work: Callable[..., int | None], *args: Any) -> bool:
        try:
            result = await asyncio.to_thread(work, *args)
        except Exception as exc:  # every waiter hears of it, whatever it is (or nobody, if it gave up waiting)
            for op in ops:
                if op.seq is not None and op.seq in self._pending:
                    self._unwritten.add(op.seq)
                if not op.done.done():
                    op.done.set_exception(exc)
            return False
        for op in ops:
            if not op.done.done():
                op.done.set_result(result or 0)
        return True

    def _pending_text(self) -> str:
        return "".join(
            f"+{seq} {self._cipher.encrypt(e.to_json()).decode('ascii')}\n" for seq, e in self._pending.items()
        )

    def _set_aside_sync(self, line: str) -> None:
        _append(self._folder / SET_ASIDE, line)
        self._set_aside += 1
        seq, _, rest = line.partition(" ")
        log.error(
            "journal: a message could not be stored and was set aside",
            extra={"event": "journal_set_aside", "seq": seq, "reason": rest.rsplit(" ", 1)[-1].strip()},
        )

    def _forget_sync(self, person: tuple[str, str]) -> int:
        path = self._folder / SET_ASIDE
        if not path.exists():
            return 0
        kept, dropped = [], 0
        for line in path.read_text("ascii").splitlines():
            parts = line.split(" ")
            try:
                entry = JournalEntry.from_json(self._cipher.decrypt(parts[1].encode("ascii")))
            except (IndexError, InvalidToken, ValueError, KeyError, TypeError):
                kept.append(line)  # unreadable: nobody can tell whose it is, nor read it
                continue
            if entry.person == person:
                dropped += 1
            else:
                kept.append(line)
        _replace_durably(path, "".join(f"{line}\n" for line in kept))
        return dropped

    async def close(self) -> None:
        """Wait for the last writes and give the folder back."""
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
        if self._unwritten:
            log.error(
                "journal: entries the disk never took are lost with this process",
                extra={"event": "journal_lost", "count": len(self._unwritten)},
            )
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None


def _append(path: Path, text: str) -> None:
    _write_durably(path, text, os.O_APPEND)


def _replace_durably(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically: a temporary file, fsync'd, renamed, the folder fsync'd."""
    temporary = path.with_suffix(".tmp")
    _write_durably(temporary, text, os.O_TRUNC)
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _write_durably(path: Path, text: str, mode: int) -> None:
    """Write ``text`` to ``path`` (owner-only; ``mode`` O_APPEND or O_TRUNC) and fsync it before returning."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | mode, 0o600)
    try:
        size = os.fstat(descriptor).st_size
        try:
            data = memoryview(text.encode("ascii"))
            while data:  # a write may take less than all of it
                data = data[os.write(descriptor, data) :]
            os.fsync(descriptor)
        except OSError:
            # A record half written (a full disk) would run into the next one: cut the file back to where it was.
            with contextlib.suppress(OSError):
                os.ftruncate(descriptor, size)
            raise
    finally:
        os.close(descriptor)
