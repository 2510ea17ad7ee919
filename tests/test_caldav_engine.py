"""The CalDAV side's synchronous engine reaches the same database as the async one."""

from __future__ import annotations

from calserver.config import Config
from storage.davsync import sync_engine


def test_the_same_database_through_blocking_drivers() -> None:
    sqlite = sync_engine(Config({"database_url": "sqlite+aiosqlite:////srv/cal/c.db"}), 2)
    assert (sqlite.url.drivername, sqlite.url.database) == ("sqlite", "/srv/cal/c.db")
    pg = sync_engine(
        Config({"database_url": "postgresql+asyncpg://u:p@db:5433/cal?ssl=require"}), 2
    )
    assert pg.url.drivername == "postgresql+psycopg"
    assert (pg.url.host, pg.url.port, pg.url.database, pg.url.password) == ("db", 5433, "cal", "p")
    assert dict(pg.url.query) == {"sslmode": "require"}  # asyncpg's spelling, translated
    sqlite.dispose()
    pg.dispose()
