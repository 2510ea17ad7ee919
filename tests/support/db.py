"""Reading the whole database, to prove that a refused request wrote nothing."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from calserver.appkeys import SESSIONS
from storage.models import Base


async def snapshot(client: TestClient) -> dict[str, list[tuple[Any, ...]]]:  # type: ignore[type-arg]
    tables: dict[str, list[tuple[Any, ...]]] = {}
    async with client.app[SESSIONS]() as session:
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(select(table).order_by(*table.primary_key.columns))).all()
            tables[table.name] = [tuple(row) for row in rows]
    return tables
