"""The PostgreSQL pool checks a connection only when it sat idle (storage/engine.py).

PostgreSQL only: the tests ask for that store; SQLite has no server to lose."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

import storage.engine
from calserver.config import Config
from storage.engine import create_engine


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(database_url: str, pid: int) -> None:
    """What a restart of the server does to the pool's connection, from outside."""
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(dsn)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


@pytest.fixture
async def engine(database_url: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    made = create_engine(Config({"data_dir": str(tmp_path), "database_url": database_url}))
    yield made
    await made.dispose()


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
async def test_an_idle_connection_closed_by_the_server_is_replaced_unseen(
    engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = await _backend_pid(engine)
    await _terminate(database_url, dead)
    monkeypatch.setattr(storage.engine, "PING_AFTER_IDLE_SECONDS", 0.05)
    await asyncio.sleep(0.1)  # idle longer than that: pinged at checkout, found dead, replaced
    assert await _backend_pid(engine) != dead


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
async def test_a_connection_busy_a_moment_ago_is_not_pinged(
    engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No round trips on a busy pool: a connection checked in a moment ago is used as it
    is, so one closed meanwhile fails its first statement (and the pool then starts over)."""
    monkeypatch.setattr(storage.engine, "PING_AFTER_IDLE_SECONDS", 3600.0)
    dead = await _backend_pid(engine)
    await _terminate(database_url, dead)
    with pytest.raises(DBAPIError):
        await _backend_pid(engine)
    assert await _backend_pid(engine) != dead  # the failure replaced the connection
