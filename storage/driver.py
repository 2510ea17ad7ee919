"""Rows handed straight to the driver, for writes made thousands of times a second.

SQLAlchemy's executemany builds a parameter dictionary per row and runs every value through
its column type's processor: for the cascade worker's step, timeline and trigger writes
that cost a fifth of its CPU per message. A ``Driver`` turns values into what the database
driver takes itself (aiosqlite: text instants, floats for money; asyncpg: as they are) and
writes the placeholders of its parameter style.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import Integer, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement

from storage.telemetry import timestamp_for


@dataclass(frozen=True)
class Driver:
    postgresql: bool
    _instant: Callable[[datetime], Any]

    def instant(self, value: datetime | None) -> Any:
        return None if value is None else self._instant(value)

    def money(self, value: Decimal) -> Any:
        # SQLite has no decimal type: SQLAlchemy stores a float there too.
        return value if self.postgresql else float(value)

    @staticmethod
    def json(value: Any) -> str:
        return json.dumps(value)

    def marks(self, count: int) -> list[str]:
        """``count`` placeholders, to be written in this order: sqlite3's ``?`` take the
        parameters by position, asyncpg's ``$n`` by number."""
        if self.postgresql:
            return [f"${n}" for n in range(1, count + 1)]
        return ["?"] * count


@cache
def driver_for(dialect: str) -> Driver:
    return Driver(dialect == "postgresql", timestamp_for(dialect))


def one_of(column: Any, ids: Collection[int], postgresql: bool) -> ColumnElement[bool]:
    """``column IN ids``, on PostgreSQL as one array parameter (``= ANY``): a batch's 200
    ids in an IN list are 200 parameters to render and bind, and a statement of their own
    for every count."""
    if postgresql:
        return column == any_(bindparam(None, list(ids), type_=ARRAY(Integer)))  # type: ignore[no-any-return]
    return column.in_(ids)  # type: ignore[no-any-return]
