"""Migrations build exactly the schema the models describe, on both stores."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from calserver.config import Config
from storage.engine import create_engine
from storage.migrate import pending_revisions, upgrade
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
