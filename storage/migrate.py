"""Applying Alembic migrations from code (``calserver migrate`` and server start-up)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works; it only has to be the same in every calserver process.
_PG_MIGRATION_LOCK = 0x63616C73


def _alembic_config(connection: Connection) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Several processes may start at once against one database: one migrates, the
        # others wait and then find nothing to do.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    command.upgrade(_alembic_config(connection), "head")


async def upgrade(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


def _pending(connection: Connection) -> list[str]:
    heads = ScriptDirectory.from_config(_alembic_config(connection)).get_heads()
    current = set(MigrationContext.configure(connection).get_current_heads())
    return [] if current == set(heads) else list(heads)


async def pending_revisions(engine: AsyncEngine) -> list[str]:
    """Heads not yet applied; empty when the database is up to date."""
    async with engine.connect() as connection:
        return await connection.run_sync(_pending)
