"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL; logs carry no text."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bot.app import Content
from bot.channels.embed_token import sign
from bot.channels.web import person_key
from bot.ops.json_logs import JsonFormatter
from bot.store.crypto import TextCipher
from bot.store.database import create_engine, downgrade, upgrade
from bot.store.models import Base
from bot.store.staff import add_staff
from tests.service.conftest import Clock, Service, new_session, running_service


async def test_migrations_match_the_models_and_downgrade_cleanly(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        async with engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
        assert differences == []
        await downgrade(engine)
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: sync.dialect.get_table_names(sync))
        assert set(tables) <= {"alembic_version"}
        await upgrade(engine)
    finally:
        await engine.dispose()


async def test_logs_are_json_and_never_hold_message_text(service: Service, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    await service.say(new_session(), "我不想活了，药都准备好了，今晚就吃")
    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    assert any(json.loads(line).get("event") == "triage" for line in lines)
    assert all("药" not in line for line in lines)


def test_sqlite_database_file_is_created_under_the_data_folder(tmp_path: Path) -> None:
    from bot.store.database import default_url

    assert default_url(tmp_path).endswith(str(tmp_path / "xinqiao.db"))


async def test_a_log_record_keeps_its_own_level_beside_the_triage_level(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await service.say(new_session(), "我不想活了，药都准备好了，今晚就吃")
    formatter = JsonFormatter()
    triaged = [json.loads(formatter.format(r)) for r in caplog.records if getattr(r, "event", None) == "triage"]
    assert triaged
    assert triaged[0]["level"] == "info"
    assert triaged[0]["triage_level"] == "red"
    colliding = logging.LogRecord("x", logging.WARNING, "f", 1, "m", (), None)
    colliding.level = "red"
    assert json.loads(formatter.format(colliding)) | {"at": None} == {
        "at": None,
        "level": "warning",
        "logger": "x",
        "msg": "m",
        "extra_level": "red",
    }


async def test_store_failures_are_logged_without_parameters_or_row_values(
    database_url: str, tmp_path: Path, content: Content, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    school = "school-that-must-not-be-logged"
    async with running_service(database_url, tmp_path, content, clock, XINQIAO_STORE_DEADLINE="300ms") as service:
        context = sign({"school": school, "grade": "grade-secret", "exp": time.time() + 60}, "school-site-secret")
        async with service.runtime.db.transaction() as session:
            # The users table gone: storing a new person fails on the statement that carries school and grade.
            await session.execute(text("ALTER TABLE users RENAME TO users_away"))
        session_id = new_session()
        await service.say(session_id, "我不想活了，药都准备好了，今晚就吃", context=context)
        async with service.runtime.db.transaction() as session:
            await session.execute(text("ALTER TABLE users_away RENAME TO users"))
            await add_staff(session, name="dup", role="admin", school=None, district=None, now=clock())
        try:
            async with service.runtime.db.transaction() as session:
                await add_staff(session, name="dup", role="admin", school=None, district=None, now=clock())
        except IntegrityError:
            logging.getLogger("test").exception("duplicate staff")
    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    assert any("store_failed" in line for line in lines)
    assert any("duplicate staff" in line for line in lines)
    for line in lines:
        assert school not in line
        assert "grade-secret" not in line
        assert person_key(session_id) not in line
        assert "=(dup)" not in line


async def test_upgrading_a_database_that_holds_data_keeps_it(database_url: str) -> None:
    cipher = TextCipher([Fernet.generate_key()])
    engine = create_engine(database_url)
    at = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    try:
        await upgrade(engine, "0002")
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO users (id, channel, external_id, role, lang, region, school, grade, consent, "
                    "subscribed, created_at) VALUES (1, 'web', 'p1', 'student', 'zh', '450102', 's1', '初二', "
                    "false, false, :at)"
                ),
                {"at": at},
            )
            await connection.execute(
                text("INSERT INTO conversations (id, user_id, started_at, last_message_at) VALUES (1, 1, :at, :at)"),
                {"at": at},
            )
            await connection.execute(
                text(
                    "INSERT INTO messages (id, conversation_id, user_id, direction, sender, external_id, text_enc, "
                    "created_at) VALUES (1, 1, 1, 'in', 'person', 'm1', :token, :at)"
                ),
                {"token": cipher.encrypt("我不想活了"), "at": at},
            )
            await connection.execute(
                text(
                    "INSERT INTO cases (id, user_id, conversation_id, level, categories, status, tier, region, "
                    "trigger_message_id, opened_at, claim_deadline, outcome, escalations) VALUES (1, 1, 1, 'red', "
                    "'suicide', 'resolved', 'school', '450102', 1, :at, :at, '家长接回家', 0)"
                ),
                {"at": at},
            )
        await upgrade(engine, cipher=cipher)
        async with engine.connect() as connection:
            grade = (await connection.execute(text("SELECT grade FROM users"))).scalar_one()
            token = (await connection.execute(text("SELECT outcome_enc FROM cases"))).scalar_one()
            messages = (await connection.execute(text("SELECT count(*) FROM messages"))).scalar_one()
        assert grade == "初二"
        assert cipher.decrypt(token) == "家长接回家"
        assert messages == 1
        await downgrade(engine, "0002", cipher=cipher)
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT outcome FROM cases"))).scalar_one() == "家长接回家"
        await upgrade(engine, cipher=cipher)
    finally:
        await engine.dispose()


async def test_upgrading_outcomes_without_the_keys_is_refused_and_changes_nothing(database_url: str) -> None:
    engine = create_engine(database_url)
    at = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    try:
        await upgrade(engine, "0002")
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO users (id, channel, external_id, role, lang, region, consent, subscribed, "
                    "created_at) VALUES (1, 'web', 'p1', 'student', 'zh', 'CN', false, false, :at)"
                ),
                {"at": at},
            )
            await connection.execute(
                text("INSERT INTO conversations (id, user_id, started_at, last_message_at) VALUES (1, 1, :at, :at)"),
                {"at": at},
            )
            await connection.execute(
                text(
                    "INSERT INTO cases (id, user_id, conversation_id, level, categories, status, tier, region, "
                    "opened_at, claim_deadline, outcome, escalations) VALUES (1, 1, 1, 'red', '', 'resolved', "
                    "'city', 'CN', :at, :at, 'safe', 0)"
                ),
                {"at": at},
            )
        with pytest.raises(RuntimeError, match="data keys"):
            await upgrade(engine)
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT outcome FROM cases"))).scalar_one() == "safe"
    finally:
        await engine.dispose()
