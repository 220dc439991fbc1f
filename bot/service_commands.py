"""The ``xinqiao serve``, ``db`` and ``staff`` subcommands (imported only when used: they load the web stack).
Failures an operator can fix (a bad key, an unreachable database, a port in use, a second server) are told in a
line or two naming the variable or resource, never as a traceback."""

from __future__ import annotations

import argparse
import asyncio
import errno
import os
import signal
import sys
import threading
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyotp
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.cases import district_of
from bot.core.messages import SCHOOL_MAX
from bot.ops import json_logs
from bot.service.console_auth import PASSWORD_MAX, hash_password
from bot.settings import Settings
from bot.store.console_sessions import close_sessions_of, set_password, set_totp
from bot.store.crypto import DataKeyError, TextCipher, cipher_for
from bot.store.database import Database, create_engine, database_url, upgrade
from bot.store.instance_lock import AlreadyRunning, InstanceLock
from bot.store.key_rotation import rotate_all
from bot.store.staff import add_staff, list_staff, reset_token, set_active

EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
# After SIGTERM everything in flight was answered within the store deadline plus the journal's wait (3 s by
# default) of arriving: sockets' messages get that long, then a goodbye (1 s to close), HTTP requests still in
# flight this long, detached store work the deadline (+0.5 s), queued group commits 0.5 s: 8.5 s at worst,
# within the 9.5 s after which the process ends itself regardless.
SHUTDOWN_SECONDS = 1.5
EXIT_SECONDS = 9.5
# An idle keep-alive connection is closed after this (aiohttp's default holds it 75 s).
KEEPALIVE_SECONDS = 15.0


class CommandError(Exception):
    """A failure told to the operator in one line, with the exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Dispatch one of the service subcommands."""
    json_logs.configure(settings.log_level)
    commands: dict[str, Callable[[], Coroutine[Any, Any, int]]] = {
        "serve": lambda: _serve(replace(settings, host=args.host or settings.host, port=args.port or settings.port)),
        "db": lambda: _upgrade(settings) if args.db_command == "upgrade" else _rotate(settings),
        "staff": lambda: _staff(settings, args),
    }
    try:
        return asyncio.run(commands[args.command]())
    except CommandError as exc:
        print(f"xinqiao: {exc}", file=sys.stderr)
        return exc.code


def describe_database(settings: Settings) -> str:
    """The database in use, without its password (and, for SQLite, as an absolute path)."""
    url = make_url(database_url(settings))
    if url.get_backend_name() == "sqlite" and url.database:
        return f"SQLite {Path(url.database).resolve()}"
    return url.render_as_string(hide_password=True)


def _cipher(settings: Settings) -> TextCipher:
    try:
        return cipher_for(settings)
    except DataKeyError as exc:
        raise CommandError(f"XINQIAO_DATA_KEYS: {exc}") from None


def _unreachable(settings: Settings, error: BaseException) -> CommandError:
    reason = str(getattr(error, "orig", None) or error).splitlines()[0][:200]
    return CommandError(
        f"cannot use the database {describe_database(settings)} (DATABASE_URL): {reason}", EXIT_UNAVAILABLE
    )


async def _open(settings: Settings, *, creating: bool = False) -> Database:
    """The database, migrated; says on stderr which one (and whether it was just created)."""
    url = make_url(database_url(settings))
    new = url.get_backend_name() == "sqlite" and bool(url.database) and not Path(str(url.database)).exists()
    note = " (new: created now; set XINQIAO_DATA_DIR or DATABASE_URL to use another)" if new and creating else ""
    print(f"xinqiao: database {describe_database(settings)}{note}", file=sys.stderr)
    db = Database(create_engine(database_url(settings)))
    try:
        await upgrade(db.engine, cipher=_cipher(settings))
    except (SQLAlchemyError, OSError) as exc:
        await db.close()
        raise _unreachable(settings, exc) from None
    except BaseException:
        await db.close()
        raise
    return db


async def _serve(settings: Settings) -> int:
    from aiohttp import web

    from bot.app import create_app

    # The database drivers hand results between the event loop and a worker thread (aiosqlite) many times a
    # message; a shorter GIL switch interval stops each hand-over waiting up to 5 ms (measured: +20% on the
    # risky path, no loss on the ordinary one).
    sys.setswitchinterval(0.001)
    _cipher(settings)  # a bad key is named before anything else starts
    print(f"xinqiao: database {describe_database(settings)}", file=sys.stderr)
    from bot.service.journal import JournalBusy

    try:
        app = await create_app(settings)
    except (AlreadyRunning, JournalBusy) as exc:
        raise CommandError(str(exc)) from None
    except (SQLAlchemyError, OSError) as exc:
        raise _unreachable(settings, exc) from None
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS, keepalive_timeout=KEEPALIVE_SECONDS)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        try:
            await site.start()
        except OSError as exc:
            busy = exc.errno == errno.EADDRINUSE
            raise CommandError(
                f"port {settings.port} on {settings.host} is already in use (PORT or --port)"
                if busy
                else f"cannot listen on {settings.host}:{settings.port} (HOST/PORT): {exc.strerror}"
            ) from None
        print(f"xinqiao: serving on http://{settings.host}:{settings.port}/", flush=True)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        await stopping.wait()
        print("xinqiao: stopping: no new connections; closing streams, finishing messages", file=sys.stderr)
        # Every acknowledged message is in the database or the fsync'd journal, so a process that cannot finish
        # in time is ended rather than left hanging for a supervisor to kill.
        last_resort = threading.Timer(EXIT_SECONDS, _forced_exit)
        last_resort.daemon = True
        last_resort.start()
    finally:
        await runner.cleanup()
    return 0


def _forced_exit() -> None:
    print(f"xinqiao: shutdown took longer than {EXIT_SECONDS:g} s; exiting now", file=sys.stderr, flush=True)
    os._exit(1)


async def _upgrade(settings: Settings) -> int:
    db = await _open(settings, creating=True)
    await db.close()
    print("xinqiao: database is up to date")
    return 0


async def _rotate(settings: Settings) -> int:
    from bot.app import JOURNAL_FOLDER
    from bot.service.journal import Journal, JournalBusy

    cipher = _cipher(settings)
    lock = InstanceLock(database_url(settings))
    try:
        await lock.acquire("xinqiao db rotate-keys")
    except AlreadyRunning as exc:
        raise CommandError(f"{exc}; rotate keys while the service is stopped") from None
    try:
        db = await _open(settings)
        try:
            counts = await rotate_all(db, cipher)
        finally:
            await db.close()
        journal_count, unreadable = 0, 0
        if (settings.data_dir / JOURNAL_FOLDER).exists():
            journal = Journal(settings.data_dir / JOURNAL_FOLDER, cipher)
            try:
                journal.lock()
            except JournalBusy as exc:
                raise CommandError(f"{exc}; rotate keys while the service is stopped") from None
            try:
                journal_count, unreadable = journal.rotate()
            finally:
                await journal.close()
    finally:
        await lock.release()
    total = sum(counts.values()) + journal_count
    detail = ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))
    print(f"xinqiao: re-encrypted {total} values under the first data key ({detail}, journal {journal_count})")
    if unreadable:
        print(f"xinqiao: {unreadable} journal entries open with none of the keys and were left as they are")
    print("xinqiao: the older keys can now be removed from XINQIAO_DATA_KEYS")
    return 0


async def _staff(settings: Settings, args: argparse.Namespace) -> int:
    password = _password_from_stdin(args) if getattr(args, "password_stdin", False) else None
    if args.staff_command == "add":
        _check_new_staff(args)
    db = await _open(settings, creating=args.staff_command == "add")
    try:
        async with db.transaction() as session:
            await _staff_action(session, settings, args, password)
    except (SQLAlchemyError, OSError) as exc:
        if isinstance(exc, IntegrityError):
            raise
        raise _unreachable(settings, exc) from None
    finally:
        await db.close()
    return 0


async def _staff_action(
    session: AsyncSession, settings: Settings, args: argparse.Namespace, password: str | None
) -> None:
    command, name = args.staff_command, getattr(args, "name", "")
    if command == "add":
        await _add_staff(session, args, password)
    elif command == "list":
        for entry in await list_staff(session):
            m = entry.member
            scope = f"school {m.school}" if m.school else f"district {m.district}" if m.district else "all"
            state = "active" if entry.active else "disabled"
            print(f"{m.name}\t{m.role}\t{scope}\t{state}\tsince {entry.created_at.date().isoformat()}")
    elif command == "disable":
        if not await set_active(session, name, active=False):
            raise CommandError(f"staff disable: no account named {name!r}")
        ended = await close_sessions_of(session, name)
        print(f"disabled {name}: its token no longer works; {ended} console session(s) ended")
    elif command == "set-password":
        assert password is not None
        if not await set_password(session, name, hash_password(password)):
            raise CommandError(f"staff set-password: no account named {name!r}")
        ended = await close_sessions_of(session, name)
        print(f"console password set for {name}; {ended} console session(s) ended")
    elif command == "totp":
        await _totp(session, settings, name, off=args.off)
    else:
        fresh = await reset_token(session, name)
        if fresh is None:
            raise CommandError(f"staff reset-token: no account named {name!r}")
        print(f"new token for {name} (the old one no longer works)")
        print(f"token: {fresh}")


async def _add_staff(session: AsyncSession, args: argparse.Namespace, password: str | None) -> None:
    try:
        staff, token = await add_staff(
            session,
            name=args.name.strip(),
            role=args.role,
            school=args.school,
            district=args.district,
            now=datetime.now(UTC),
        )
        await session.flush()
    except IntegrityError:
        raise CommandError(f"staff add: an account named {args.name!r} already exists") from None
    if password is not None:
        await set_password(session, staff.name, hash_password(password))
    scope = (
        f"school {staff.school}"
        if staff.school
        else f"district {staff.district}"
        if staff.district
        else "whole deployment"
    )
    print(f"created {staff.role} {staff.name} (id {staff.id}, scope: {scope})")
    if password is not None:
        print("console password set")
    print(f"token: {token}")


async def _totp(session: AsyncSession, settings: Settings, name: str, *, off: bool) -> None:
    if off:
        if not await set_totp(session, name, None):
            raise CommandError(f"staff totp: no account named {name!r}")
        print(f"{name} signs in without a one-time code")
        return
    secret = pyotp.random_base32()
    if not await set_totp(session, name, _cipher(settings).encrypt(secret)):
        raise CommandError(f"staff totp: no account named {name!r}")
    print(f"{name} now needs a one-time code at sign-in; add this to an authenticator app (shown once):")
    print(f"secret: {secret}")
    print(f"otpauth: {pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name='Xinqiao')}")


# The shortest console password accepted (NIST SP 800-63B asks at least 8; staff accounts see children's
# disclosures).
PASSWORD_MIN = 10


def _password_from_stdin(args: argparse.Namespace) -> str:
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise CommandError(
            f"staff {args.staff_command}: the password on stdin must be {PASSWORD_MIN}-{PASSWORD_MAX} characters"
        )
    return password


def _check_new_staff(args: argparse.Namespace) -> None:
    if args.district is not None and district_of(args.district) is None:
        raise CommandError(f"staff add: --district {args.district!r} is not a 6-digit district code")
    if not args.name.strip() or len(args.name) > 80:
        raise CommandError("staff add: NAME must be 1-80 characters")
    if args.school is not None and not 0 < len(args.school) <= SCHOOL_MAX:
        raise CommandError(f"staff add: --school must be 1-{SCHOOL_MAX} characters")
