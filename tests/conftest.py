"""Fixtures: every store-backed test runs on SQLite and on a real PostgreSQL.

PostgreSQL comes from CALSERVER_TEST_POSTGRES_URL (scripts/test starts a throwaway
cluster and sets it). Without it the PostgreSQL half is skipped, unless
CALSERVER_TEST_REQUIRE_POSTGRES is set (as in CI), where that is an error.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.engine import make_url

from calserver.appkeys import SESSIONS
from calserver.clock import FrozenClock
from calserver.config import Config
from storage.engine import create_engine
from storage.migrate import upgrade
from storage.workspaces import add_key, create_workspace
from tests.support.openapi import ApiClient
from tests.support.served import ServedTestServer
from web.app import create_app

PG_URL_ENV = "CALSERVER_TEST_POSTGRES_URL"
TEST_SECRET = "test-secret-0123456789abcdef"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _pg_admin_dsn() -> str | None:
    url = os.environ.get(PG_URL_ENV)
    if not url:
        return None
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating each time is slower)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    config = Config({"database_url": f"sqlite+aiosqlite:///{path}", "secrets": [TEST_SECRET]})

    async def migrate() -> None:
        engine = create_engine(config)
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(migrate())
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    """A migrated PostgreSQL database used as TEMPLATE for each test's database."""
    dsn = _pg_admin_dsn()
    if dsn is None:
        yield None
        return
    name = f"calserver_tpl_{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        admin = await asyncpg.connect(dsn)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        url = make_url(os.environ[PG_URL_ENV]).set(database=name)
        engine = create_engine(Config({"database_url": url.render_as_string(hide_password=False)}))
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(create())
    yield name

    async def drop() -> None:
        admin = await asyncpg.connect(dsn)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    asyncio.run(drop())


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not os.environ.get(PG_URL_ENV):
        if os.environ.get("CALSERVER_TEST_REQUIRE_POSTGRES"):
            pytest.fail(f"{PG_URL_ENV} is not set but PostgreSQL is required")
        pytest.skip(f"PostgreSQL not configured ({PG_URL_ENV}); scripts/test starts one")
    return str(request.param)


@pytest.fixture
async def database_url(
    store: str, tmp_path: Path, sqlite_template: Path, pg_template: str | None
) -> AsyncIterator[str]:
    if store == "sqlite":
        path = tmp_path / "calserver.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    dsn = _pg_admin_dsn()
    assert dsn and pg_template
    name = f"calserver_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    finally:
        await admin.close()
    yield make_url(os.environ[PG_URL_ENV]).set(database=name).render_as_string(hide_password=False)
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Config:
    return Config(
        {
            "data_dir": str(tmp_path / "data"),
            "database_url": database_url,
            "secrets": [TEST_SECRET],
            "demo": False,
            "public_url": "https://cal.example.test",
            "migrate_on_start": False,
        }
    )


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@dataclass
class Tenant:
    slug: str
    key: str
    api: ApiClient


@pytest.fixture
async def client(aiohttp_client: Any, config: Config, clock: FrozenClock) -> TestClient:  # type: ignore[type-arg]
    return await aiohttp_client(ServedTestServer(create_app(config, clock=clock)))


async def _tenant(client: TestClient, slug: str) -> Tenant:  # type: ignore[type-arg]
    async with client.app[SESSIONS].begin() as session:
        workspace = await create_workspace(session, slug, f"{slug} shop", START)
        key = await add_key(session, workspace, "tests", START)
    return Tenant(slug, key, ApiClient(client, key))


@pytest.fixture
async def tenant(client: TestClient) -> Tenant:  # type: ignore[type-arg]
    return await _tenant(client, "acme")


@pytest.fixture
async def other_tenant(client: TestClient) -> Tenant:  # type: ignore[type-arg]
    return await _tenant(client, "globex")


@pytest.fixture
def api(tenant: Tenant) -> ApiClient:
    return tenant.api
