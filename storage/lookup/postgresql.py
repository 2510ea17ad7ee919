"""PostgreSQL: a small asyncpg pool; asyncpg prepares the statement once per connection, and
a reader keeps its connection for as long as polls keep coming."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import asyncpg

from storage.lookup import BATCH_SQL, KEY_SQL, BaseLookup, KeyOwner, key_owner

_ROWS_SQL = BATCH_SQL.format(ids="s.id = ANY($1::integer[])")
# KEY_SQL for the keys of one loop turn; each row ends with its key's hash.
_KEYS_SQL = KEY_SQL.format(param="ANY($1::text[])").replace(
    "w.language\n", "w.language, k.key_hash\n", 1
)
_HASH = 14  # the key's hash in a _KEYS_SQL row
assert "k.key_hash\nFROM" in _KEYS_SQL  # KEY_SQL's select list still ends where expected


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
        # Admin keys asked for during one loop turn: hash -> each call's own future.
        self._keys: defaultdict[str, list[asyncio.Future[KeyOwner | None]]] = defaultdict(list)
        self._key_reads: set[asyncio.Task[None]] = set()

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
        """Read fresh on every call (a revoked key stops at once), but the calls of one loop
        turn share one statement: under a burst of API calls (a CRM pushing triggers) a
        round trip and a pool acquire per call cost more than the rest of the lookup."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[KeyOwner | None] = loop.create_future()
        if not self._keys:
            read = loop.create_task(self._read_keys())
            self._key_reads.add(read)
            read.add_done_callback(self._key_reads.discard)
        self._keys[key_hash].append(future)
        return await future

    async def _read_keys(self) -> None:
        await asyncio.sleep(0)  # the rest of this loop turn's calls join
        waiting, self._keys = self._keys, defaultdict(list)
        try:
            rows = await self._pool.fetch(_KEYS_SQL, list(waiting))
        except asyncio.CancelledError:
            for futures in waiting.values():
                for future in futures:
                    future.cancel()
            raise
        except Exception as error:  # an outage: each call handles it
            for futures in waiting.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(error)
            return
        found = {row[_HASH]: key_owner(row) for row in rows}
        for key_hash, futures in waiting.items():
            for future in futures:
                if not future.done():
                    future.set_result(found.get(key_hash))

    async def close(self) -> None:
        for read in list(self._key_reads):
            read.cancel()
        await asyncio.gather(*self._key_reads, return_exceptions=True)
        await self._stop_reads()
        await self._pool.close()
