"""PostgreSQL: a small asyncpg pool; asyncpg prepares the statement once per connection."""

from __future__ import annotations

import asyncpg

from storage.lookup import KEY_SQL, POLL_SQL, BaseLookup, KeyOwner, PollView, key_owner


async def _nothing_to_reset(connection: asyncpg.Connection) -> None:
    """The lookup runs single read-only statements and leaves no session state behind, so a
    released connection needs no reset query (asyncpg's default sends one: a second round
    trip to the database for every poll). An open transaction is still rolled back first."""


class Lookup(BaseLookup):
    def __init__(self, pool: asyncpg.Pool):
        self._pool = pool
        self._sql = POLL_SQL.format(param="$1")
        self._key_sql = KEY_SQL.format(param="$1")

    @classmethod
    async def open(cls, dsn: str, size: int) -> Lookup:
        # min_size=0: no connection before the first poll, so a server starts while the
        # database is down (and /healthz says so) instead of failing.
        return cls(
            await asyncpg.create_pool(dsn, min_size=0, max_size=size, reset=_nothing_to_reset)
        )

    async def view(self, subscription_id: int) -> PollView | None:
        rows = await self._pool.fetch(self._sql, subscription_id)
        return PollView.from_rows(subscription_id, list(rows))

    async def key(self, key_hash: str) -> KeyOwner | None:
        row = await self._pool.fetchrow(self._key_sql, key_hash)
        return key_owner(row) if row is not None else None

    async def close(self) -> None:
        await self._pool.close()
