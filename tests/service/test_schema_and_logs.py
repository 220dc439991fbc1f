"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL; logs carry no text."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bot.app import Content
from bot.channels.embed_token import sign
from bot.channels.web import person_key
from bot.ops.json_logs import JsonFormatter
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
