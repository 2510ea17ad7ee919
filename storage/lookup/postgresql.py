"""PostgreSQL: a small asyncpg pool; asyncpg prepares the statement once per connection, and
a reader keeps its connection for as long as polls keep coming."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import asyncpg

from storage.lookup import BATCH_SQL, KEY_SQL, BaseLookup, KeyOwner, key_owner

_ROWS_SQL = BATCH_SQL.format(ids="s.id = ANY($1::integer[])")


async def _nothing_to_reset(connection: asyncpg.Connection) -> None:
    """The lookup runs single read-only statements and leaves no session state behind, so a
    released connection needs no reset query (asyncpg's default sends one: a second round
    trip to the database for every poll). An open transaction is still rolled back first."""


class Lookup(BaseLookup):
    # Two statements in flight: while one waits on the database the other's polls gather.
    # One alone left the loop idle on every round trip; more made smaller batches (measured
    # with bench/feed.py, docs/benchmarks.md).
    readers = 2

    def __init__(self, pool: asyncpg.Pool):
        super().__init__()
        self._pool = pool
        self._key_sql = KEY_SQL.format(param="$1")

    @classmethod
    async def open(cls, dsn: str, size: int) -> Lookup:
        # min_size=0: no connection before the first poll, so a server starts while the
        # database is down (and /healthz says so) instead of failing.
        return cls(
            await asyncpg.create_pool(dsn, min_size=0, max_size=size, reset=_nothing_to_reset)
        )

    def reading(self) -> AbstractAsyncContextManager[Any]:
        # Taken from the pool once for a run of statements, not once per statement: an
        # acquire and release cost a poll batch more CPU than its statement does.
        held: AbstractAsyncContextManager[Any] = self._pool.acquire()
        return held

    async def rows(self, ids: list[int], connection: Any) -> Sequence[Any]:
        rows: list[asyncpg.Record] = await connection.fetch(_ROWS_SQL, ids)
        return rows

    async def key(self, key_hash: str) -> KeyOwner | None:
        row = await self._pool.fetchrow(self._key_sql, key_hash)
        return key_owner(row) if row is not None else None

    async def close(self) -> None:
        await self._stop_reads()
        await self._pool.close()
