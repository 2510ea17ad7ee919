"""Migrations build exactly the schema the models describe, on both stores."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from calserver.config import Config
from storage.engine import create_engine
from storage.migrate import _alembic_config, pending_revisions, upgrade
from storage.models import Base
from tests.conftest import TEST_SECRET


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(Config({"database_url": database_url, "secrets": [TEST_SECRET]}))
    try:
        await upgrade(engine)  # already at head: a second run is a no-op
        assert await pending_revisions(engine) == []
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()


def _upgrade_to_the_one_before_head(connection: Connection) -> None:
    config = _alembic_config(connection)
    head = ScriptDirectory.from_config(config).get_revision("head")
    assert head is not None and isinstance(head.down_revision, str)
    command.upgrade(config, head.down_revision)


async def test_only_changing_an_existing_database_is_logged_at_info(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    new = create_engine(Config({"database_url": f"sqlite+aiosqlite:///{tmp_path / 'new.db'}"}))
    old = create_engine(Config({"database_url": f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"}))
    try:
        async with old.begin() as connection:
            await connection.run_sync(_upgrade_to_the_one_before_head)
        caplog.clear()
        with caplog.at_level(logging.INFO):
            await upgrade(new)  # a new database: routine, said at debug
            await upgrade(new)  # nothing to do
        assert not [r for r in caplog.records if r.name.startswith("alembic")]

        with caplog.at_level(logging.INFO):
            await upgrade(old)  # an existing database changes: a line per step
        steps = [r.getMessage() for r in caplog.records if r.name.startswith("alembic")]
        assert any(step.startswith("Running upgrade") for step in steps), steps
        assert await pending_revisions(old) == []
    finally:
        await new.dispose()
        await old.dispose()
