"""The ``xinqiao serve``, ``db`` and ``staff`` subcommands (imported only when used: they load the web stack)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.core.cases import district_of
from bot.ops import json_logs
from bot.settings import Settings
from bot.store.crypto import cipher_for
from bot.store.database import Database, create_engine, database_url, upgrade
from bot.store.models import CaseEvent, Message
from bot.store.staff import add_staff

EXIT_USAGE = 2


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Dispatch one of the service subcommands."""
    json_logs.configure(settings.log_level)
    if args.command == "serve":
        # The database drivers hand results between the event loop and a worker thread (aiosqlite) many times a
        # message; a shorter GIL switch interval stops each hand-over waiting up to 5 ms (measured: +20% on the
        # risky path, no loss on the ordinary one).
        sys.setswitchinterval(0.001)
        from aiohttp import web

        from bot.app import create_app

        settings = replace(settings, host=args.host or settings.host, port=args.port or settings.port)
        web.run_app(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            print=lambda _: print(f"xinqiao: serving on http://{settings.host}:{settings.port}/", flush=True),
            access_log=None,
        )
        return 0
    if args.command == "db":
        return asyncio.run(_upgrade(settings) if args.db_command == "upgrade" else _rotate(settings))
    return asyncio.run(_staff_add(settings, args))


async def _upgrade(settings: Settings) -> int:
    db = Database(create_engine(database_url(settings)))
    try:
        await upgrade(db.engine)
    finally:
        await db.close()
    print("xinqiao: database is up to date")
    return 0


async def _rotate(settings: Settings) -> int:
    cipher = cipher_for(settings)
    db = Database(create_engine(database_url(settings)))
    count = 0
    try:
        await upgrade(db.engine)
        async with db.transaction() as session:
            for model, column in ((Message, "text_enc"), (Message, "cues_enc"), (CaseEvent, "detail_enc")):
                for row in await session.scalars(select(model)):
                    token = getattr(row, column)
                    if token is not None:
                        setattr(row, column, cipher.rotate(token))
                        count += 1
    finally:
        await db.close()
    print(f"xinqiao: re-encrypted {count} values under the first data key")
    return 0


async def _staff_add(settings: Settings, args: argparse.Namespace) -> int:
    if args.district is not None and district_of(args.district) is None:
        print(f"xinqiao staff add: --district {args.district!r} is not a 6-digit district code", file=sys.stderr)
        return EXIT_USAGE
    if not args.name.strip() or len(args.name) > 80:
        print("xinqiao staff add: NAME must be 1-80 characters", file=sys.stderr)
        return EXIT_USAGE
    db = Database(create_engine(database_url(settings)))
    try:
        await upgrade(db.engine)
        async with db.transaction() as session:
            staff, token = await add_staff(
                session,
                name=args.name.strip(),
                role=args.role,
                school=args.school,
                district=args.district,
                now=datetime.now(UTC),
            )
    except IntegrityError:
        print(f"xinqiao staff add: an account named {args.name!r} already exists", file=sys.stderr)
        return EXIT_USAGE
    finally:
        await db.close()
    scope = (
        f"school {staff.school}"
        if staff.school
        else f"district {staff.district}"
        if staff.district
        else "whole deployment"
    )
    print(f"created {staff.role} {staff.name} (id {staff.id}, scope: {scope})")
    print(f"token: {token}")
    return 0
