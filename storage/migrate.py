"""Applying Alembic migrations from code (``calserver migrate`` and server start-up)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
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


@contextlib.contextmanager
def _alembic_logs_at_debug() -> Iterator[None]:
    """Alembic reports every step at INFO; shown only when calserver logs at debug."""
    logger = logging.getLogger("alembic")
    previous = logger.level
    if not logger.isEnabledFor(logging.DEBUG):
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(previous)


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Several processes may start at once against one database: one migrates, the
        # others wait and then find nothing to do.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    cfg = _alembic_config(connection)
    # Creating a new database, or finding nothing to do, is routine: said at debug. Changing
    # the schema of a database that holds data is worth a line per step in the log.
    with _alembic_logs_at_debug():
        current = set(MigrationContext.configure(connection).get_current_heads())
        heads = set(ScriptDirectory.from_config(cfg).get_heads())
    if current and current != heads:
        command.upgrade(cfg, "head")
        return
    with _alembic_logs_at_debug():
        command.upgrade(cfg, "head")


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
