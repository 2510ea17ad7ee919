"""Creating the async engine for SQLite (embedded default) or PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.errors import UnsupportedDatabase

SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


class StoreSettings(Protocol):
    """What the store needs from the configuration (calserver's Config has both)."""

    @property
    def resolved_database_url(self) -> str: ...

    @property
    def database_pool_size(self) -> int: ...


# How long a SQLite writer waits for another's lock before the request gets a 503.
SQLITE_BUSY_TIMEOUT_MS = 10_000


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (feed polls) run beside a writer; foreign keys are off by default.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_MS)}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(config: StoreSettings, url: str | None = None) -> AsyncEngine:
    url = url or config.resolved_database_url
    parsed = make_url(url)
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise UnsupportedDatabase(
            f"database_url: driver {parsed.drivername!r} is not supported; "
            f"use one of {', '.join(SUPPORTED_DRIVERS)}"
        )
    if parsed.drivername.startswith("sqlite"):
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", sqlite_pragmas)
        return engine
    engine = create_async_engine(
        url, pool_size=config.database_pool_size, max_overflow=config.database_pool_size
    )
    ping_when_idle(engine)
    return engine


# A connection idle this long is checked before use (a restarted server has closed it).
PING_AFTER_IDLE_SECONDS = 1.0


def ping_when_idle(engine: AsyncEngine) -> None:
    """SQLAlchemy's pool_pre_ping, but only for a connection that sat idle in the pool:
    through asyncpg the ping is three round trips (BEGIN, an empty statement, ROLLBACK), as
    many as a whole ingest batch's work, on every checkout. A connection busy a moment ago
    is not pinged; if the server went away within that moment, the first statement fails,
    and SQLAlchemy then replaces every connection of the pool."""

    @event.listens_for(engine.sync_engine, "checkin")
    def returned(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def taken(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise DisconnectionError("the database closed this connection") from error


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def is_postgresql(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"
