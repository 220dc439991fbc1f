"""Signing in to the console: argon2id passwords, optional TOTP, lockout with backoff, server-side sessions with
a CSRF token each, an idle timeout; every sign-in and failure audited."""

from __future__ import annotations

import asyncio
import functools
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bot.core.cases import StaffMember
from bot.core.sign_in import is_idle, is_locked, lock_after
from bot.service.runtime import Runtime
from bot.store.console_sessions import (
    SignInRecord,
    close_session,
    find_session,
    open_session,
    record_failure,
    sign_in_record,
    touch_session,
)
from bot.store.staff import audit

# argon2-cffi's defaults are RFC 9106's second recommended profile (argon2id, 64 MiB, t=3): about 50 ms here, run
# off the event loop so a sign-in never delays a safety reply.
_HASHER = PasswordHasher()


# Verified when the account does not exist, so an unknown name costs as long as a wrong password.
@functools.cache
def _dummy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(16))


# A session's last use is written at most this often (seconds): every page and API call reads it, few write it.
TOUCH_EVERY = 60.0
NAME_MAX, PASSWORD_MAX, CODE_MAX = 80, 256, 12


def hash_password(password: str) -> str:
    """The argon2id hash of a new console password (with its own salt)."""
    return _HASHER.hash(password)


class Outcome(StrEnum):
    """How a sign-in attempt ended."""

    SIGNED_IN = "signed_in"
    WRONG = "wrong"  # unknown name, wrong password or wrong one-time code: the same answer for all three
    LOCKED = "locked"


@dataclass(frozen=True, slots=True)
class SignIn:
    """The result of an attempt: a session's cookie token and CSRF token when signed in; seconds to wait when
    locked."""

    outcome: Outcome
    token: str | None = None
    csrf: str | None = None
    retry_after: int | None = None


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    """A signed-in staff member and their session's CSRF token."""

    member: StaffMember
    csrf: str


class ConsoleAuth:
    """Sign-in, sessions and sign-out over the store."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    async def sign_in(self, name: str, password: str, code: str = "") -> SignIn:
        """Check a name, password and (for accounts that use one) one-time code; open a session if they hold."""
        now = self._rt.clock()
        name, code = name.strip()[:NAME_MAX], code.strip()[:CODE_MAX]
        async with self._rt.db.reading() as session:
            record = await sign_in_record(session, name)
        if record is not None and is_locked(record.locked_until, now):
            assert record.locked_until is not None
            async with self._rt.db.transaction() as session:
                await audit(session, record.member.id, "console_sign_in_failed", now, detail="locked")
            return SignIn(Outcome.LOCKED, retry_after=max(1, int((record.locked_until - now).total_seconds())))
        stored = record.password_hash if record is not None and record.active else None
        matches = await asyncio.to_thread(_verify, stored or _dummy_hash(), password[:PASSWORD_MAX])
        if record is None or stored is None or not matches or not self._code_holds(record.totp_enc, code, now):
            return await self._failed(record, now)
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        async with self._rt.db.transaction() as session:
            await open_session(session, record.member.id, token, csrf, now)
            await audit(session, record.member.id, "console_sign_in", now)
        return SignIn(Outcome.SIGNED_IN, token, csrf)

    async def user(self, token: str) -> ConsoleUser | None:
        """The staff member a session cookie belongs to; None if it is unknown, its account disabled, or it has
        been idle too long (it is then closed)."""
        if not token or len(token) > 128:
            return None
        now = self._rt.clock()
        async with self._rt.db.reading() as session:
            found = await find_session(session, token)
        if found is None:
            return None
        if is_idle(found.last_seen, now, self._rt.settings.console_idle):
            async with self._rt.db.transaction() as session:
                await close_session(session, token)
                await audit(session, found.member.id, "console_idle_sign_out", now)
            return None
        if (now - found.last_seen).total_seconds() >= TOUCH_EVERY:
            async with self._rt.db.transaction() as session:
                await touch_session(session, token, now)
        return ConsoleUser(found.member, found.csrf)

    async def sign_out(self, token: str, staff: StaffMember) -> None:
        """End the session everywhere."""
        async with self._rt.db.transaction() as session:
            await close_session(session, token)
            await audit(session, staff.id, "console_sign_out", self._rt.clock())

    def _code_holds(self, totp_enc: bytes | None, code: str, now: datetime) -> bool:
        if totp_enc is None:
            return True
        secret = self._rt.cipher.decrypt(totp_enc)
        # One step either side: a phone's clock a little off still signs in.
        return code.isdigit() and pyotp.TOTP(secret).verify(code, for_time=now, valid_window=1)

    async def _failed(self, record: SignInRecord | None, now: datetime) -> SignIn:
        async with self._rt.db.transaction() as session:
            if record is None:
                await audit(session, None, "console_sign_in_failed", now, detail="unknown account")
                return SignIn(Outcome.WRONG)
            failures = record.failed_sign_ins + 1
            lock = lock_after(failures)
            until = now + lock if lock is not None else None
            await record_failure(session, record.member.id, failures=failures, locked_until=until)
            await audit(session, record.member.id, "console_sign_in_failed", now, detail=f"failure {failures}")
        if until is not None:
            return SignIn(Outcome.LOCKED, retry_after=max(1, int((until - now).total_seconds())))
        return SignIn(Outcome.WRONG)


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
