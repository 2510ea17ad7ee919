"""SQLite: a read-only connection on the event loop, one prepared statement."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from storage.lookup import KEY_SQL, POLL_SQL, BaseLookup, KeyOwner, PollView, key_owner


class Lookup(BaseLookup):
    def __init__(self, path: str):
        uri = Path(path).resolve().as_uri() + "?mode=ro"
        # Autocommit: every SELECT reads the latest committed data (WAL readers never wait).
        self._connection = sqlite3.connect(
            uri, uri=True, isolation_level=None, check_same_thread=False
        )
        self._connection.execute("PRAGMA query_only=1")
        self._cursor = self._connection.cursor()  # reused: a poll makes no cursor object
        self._sql = POLL_SQL.format(param="?")
        self._key_sql = KEY_SQL.format(param="?")

    async def view(self, subscription_id: int) -> PollView | None:
        rows = self._cursor.execute(self._sql, (subscription_id,)).fetchall()
        return PollView.from_rows(subscription_id, rows)

    async def key(self, key_hash: str) -> KeyOwner | None:
        row = self._connection.execute(self._key_sql, (key_hash,)).fetchone()
        return key_owner(row) if row is not None else None

    async def close(self) -> None:
        self._connection.close()
