"""The feed poll's one read, kept off the ORM: the hot path's extension point.

A poll must cost little more than sending cached bytes, and an ORM session round trip
through aiosqlite costs twenty times that (docs/benchmarks.md). Each backend runs one
prepared statement with its own driver:

- ``sqlite``: a read-only sqlite3 connection queried on the event loop (a primary-key
  lookup in WAL mode takes microseconds and never waits for writers);
- ``postgresql``: an asyncpg pool with the statement prepared once per connection.

Both read committed data on every poll, so several processes sharing one database see each
other's changes at the next poll.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy.engine import make_url

from calserver.config import Config

# One row per followed segment (a row with NULL segment columns when there is none).
POLL_SQL = """
SELECT s.status, s.timezone, w.id, w.timezone, w.name, w.quiet_start, w.quiet_end,
       s.contact_id, c.version, ss.segment_id, g.version
FROM subscriptions s
JOIN workspaces w ON w.id = s.workspace_id
LEFT JOIN contacts c ON c.id = s.contact_id
LEFT JOIN subscription_segments ss ON ss.subscription_id = s.id
LEFT JOIN segments g ON g.id = ss.segment_id
WHERE s.id = {param}
ORDER BY ss.segment_id
"""


class PollView(NamedTuple):
    """What a poll needs to find (or build) its cached body."""

    subscription_id: int
    status: str
    timezone: str
    workspace_id: int
    workspace_timezone: str
    workspace_name: str
    quiet_start: str
    quiet_end: str
    contact_id: int | None  # personal events come from this contact's triggers
    contact_version: int | None
    segments: tuple[tuple[int, int], ...]  # (segment id, version)

    @classmethod
    def from_rows(cls, subscription_id: int, rows: list[Any]) -> PollView | None:
        if not rows:
            return None
        segments = tuple((row[9], row[10]) for row in rows if row[9] is not None)
        r = rows[0]
        return cls(subscription_id, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], segments)


class BaseLookup:
    """Reads the PollView of a subscription; ``close`` releases connections."""

    async def view(self, subscription_id: int) -> PollView | None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


async def load(config: Config) -> BaseLookup:
    url = make_url(config.resolved_database_url)
    if url.drivername.startswith("sqlite"):
        from storage.lookup.sqlite import Lookup as SQLiteLookup

        return SQLiteLookup(str(url.database))
    from storage.lookup.postgresql import Lookup as PostgreSQLLookup

    return await PostgreSQLLookup.open(url.set(drivername="postgresql").render_as_string(hide_password=False),
                                       config.database_pool_size)  # fmt: skip
