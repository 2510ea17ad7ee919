"""Storage-level errors the web layer turns into HTTP answers."""

from __future__ import annotations

import sqlite3

import asyncpg
from sqlalchemy import exc


class Conflict(Exception):
    """A unique value (slug, UID) is already taken."""


class NotFound(Exception):
    """The row does not exist, or belongs to another workspace."""


class UnsupportedDatabase(ValueError):
    """The database URL names a driver calserver does not run on."""


_UNREACHABLE = (
    OSError,  # connection refused or reset, a timeout
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # the connection is closed or gone
    asyncpg.CannotConnectNowError,  # starting up or shutting down
    asyncpg.AdminShutdownError,
    # A pooled connection whose server went away mid-protocol reports a state error.
    asyncpg.InternalClientError,
)


def unavailable(error: BaseException) -> bool:
    """True when ``error`` says the database cannot be reached right now (stopped, restarting,
    connection lost, SQLite locked), rather than that a query is wrong."""
    seen: BaseException | None = error
    for _ in range(5):  # SQLAlchemy wraps the driver's error, which may wrap another
        if seen is None:
            return False
        if isinstance(seen, sqlite3.OperationalError):
            return "locked" in str(seen) or "unable to open" in str(seen)
        if isinstance(seen, _UNREACHABLE):
            return True
        if isinstance(seen, exc.DBAPIError) and seen.connection_invalidated:
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False
