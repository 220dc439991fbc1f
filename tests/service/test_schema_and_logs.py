"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL; logs carry no text."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.ops.json_logs import JsonFormatter
from bot.store.database import create_engine, downgrade, upgrade
from bot.store.models import Base
from tests.service.conftest import Service, new_session


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
