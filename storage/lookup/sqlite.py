"""SQLite: a read-only connection on the event loop, one prepared statement (the ids of a
batch go in as one JSON array)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from storage.lookup import BATCH_SQL, KEY_SQL, BaseLookup, KeyOwner, key_owner


class Lookup(BaseLookup):
    def __init__(self, path: str):
        super().__init__()
        uri = Path(path).resolve().as_uri() + "?mode=ro"
        # Autocommit: every SELECT reads the latest committed data (WAL readers never wait).
        self._connection = sqlite3.connect(
            uri, uri=True, isolation_level=None, check_same_thread=False
        )
        self._connection.execute("PRAGMA query_only=1")
        self._cursor = self._connection.cursor()  # reused: a poll makes no cursor object
        self._sql = BATCH_SQL.format(ids="s.id IN (SELECT value FROM json_each(?))")
        self._key_sql = KEY_SQL.format(param="?")

    async def rows(self, ids: list[int], connection: Any) -> Sequence[Any]:
        return self._cursor.execute(self._sql, (json.dumps(ids),)).fetchall()

    async def key(self, key_hash: str) -> KeyOwner | None:
        row = self._connection.execute(self._key_sql, (key_hash,)).fetchone()
        return key_owner(row) if row is not None else None

    async def close(self) -> None:
        await self._stop_reads()
        self._connection.close()
