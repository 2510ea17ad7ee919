"""A database outage is not an error page: with PostgreSQL stopped under polled feeds, a
feed polled recently is served from memory (200 or 304), any other poll and the API get 503
with Retry-After, never 500; polls recorded meanwhile are written once it is back."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from calserver.appkeys import CLOCK, RECORDER, SESSIONS
from calserver.clock import FrozenClock
from calserver.config import Config
from storage.engine import create_engine
from storage.migrate import upgrade
from storage.models import Poll
from tests.conftest import START, TEST_SECRET, _tenant
from tests.support.dav import basic, calendar_path, dav
from tests.support.feeds import add_event, make_segment, poll, subscribe
from web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
PROPFIND = """<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>"""
QUERY = """<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR">
<C:comp-filter name="VEVENT"><C:time-range start="20260301T000000Z" end="20260401T000000Z"/>
</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"""


def _pg(*args: str) -> None:
    binary = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
    command = [str(binary / "pg_ctl"), *args]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, capture_output=True, timeout=60)


@pytest.fixture
def cluster() -> Iterator[tuple[str, Path]]:
    """A PostgreSQL of this test's own, which it may stop and start."""
    if not os.environ.get("CALSERVER_TEST_POSTGRES_URL"):
        pytest.skip("PostgreSQL tests are configured by CALSERVER_TEST_POSTGRES_URL")
    started = subprocess.run([str(ROOT / "scripts" / "pg"), "start"], check=True,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in started.stdout.splitlines()
    )
    directory = Path(exports["CALSERVER_TEST_PGDIR"])
    yield exports["CALSERVER_TEST_POSTGRES_URL"], directory
    subprocess.run([str(ROOT / "scripts" / "pg"), "stop", str(directory)], timeout=120,
                   check=False, capture_output=True)  # fmt: skip


async def test_feeds_survive_a_postgresql_outage(
    aiohttp_client: Any, cluster: tuple[str, Path], tmp_path: Path
) -> None:
    url, directory = cluster
    config = Config({"data_dir": str(tmp_path), "database_url": url, "secrets": [TEST_SECRET],
                     "demo": False, "public_url": "https://cal.example.test",
                     "poll_flush_seconds": 3600})  # fmt: skip
    engine = create_engine(config)
    await upgrade(engine)
    await engine.dispose()
    client: TestClient = await aiohttp_client(create_app(config, clock=FrozenClock(START)))  # type: ignore[type-arg]
    tenant = await _tenant(client, "acme")
    await make_segment(tenant.api, timezone="Europe/Berlin")
    await add_event(tenant.api, "news", title="Opening", start="2026-03-10T10:00:00")
    seen = await subscribe(tenant.api, tenant.slug, "news", "Europe/Berlin")
    unseen = await subscribe(tenant.api, tenant.slug, "news", "Europe/Berlin")
    first = await poll(client, seen["feed_url"])
    assert first.status == 200
    await client.app[RECORDER].flush(client.app[SESSIONS], START)

    warm = await dav(client, "PROPFIND", calendar_path(seen), PROPFIND,
                     {"Depth": "1", **basic(seen)})  # fmt: skip
    assert warm[0] == 207

    data = directory / "data"
    _pg("-D", str(data), "-m", "fast", "-w", "stop")
    try:
        again = await poll(client, seen["feed_url"])
        assert again.status == 200 and again.body == first.body
        cached = await poll(client, seen["feed_url"], {"If-None-Match": first.headers["ETag"]})
        assert cached.status == 304
        other = await poll(client, unseen["feed_url"])
        assert other.status == 503 and other.headers["Retry-After"]
        api = await client.get(
            "/api/v1/segments", headers={"Authorization": f"Bearer {tenant.key}"}
        )
        assert api.status == 503 and api.content_type == "application/problem+json"
        assert api.headers["Retry-After"]
        page = await client.get(f"/s/{tenant.slug}/news", headers={"Accept": "text/html"})
        assert page.status == 503
        for links in (seen, unseen):  # known to the poll cache, or not: 503 either way
            for method, body, depth in (("PROPFIND", PROPFIND, "1"), ("REPORT", QUERY, "1")):
                status, _, headers = await dav(client, method, calendar_path(links), body,
                                               {"Depth": depth, **basic(links)})  # fmt: skip
                assert status == 503 and headers["Retry-After"], (method, status)
        with pytest.raises(Exception):  # noqa: B017 - the flush fails and keeps its polls
            await client.app[RECORDER].flush(client.app[SESSIONS], START)
    finally:
        port = url.rsplit(":", 1)[1].split("/")[0]
        _pg("-D", str(data), "-l", str(directory / "log"), "-w", "-o",
            f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off", "start")  # fmt: skip

    for _ in range(50):  # the pools reconnect on their own
        back = await poll(client, unseen["feed_url"])
        if back.status == 200:
            break
        await asyncio.sleep(0.2)
    assert back.status == 200
    await client.app[RECORDER].flush(client.app[SESSIONS], client.app[CLOCK].now())
    async with client.app[SESSIONS]() as session:
        written = await session.scalar(select(func.count()).select_from(Poll))
    assert written == 5  # the first poll, the CalDAV one, the two served from memory, the one after


async def test_a_locked_sqlite_database_is_a_503_not_a_500(
    aiohttp_client: Any, tmp_path: Path, sqlite_template: Path
) -> None:
    import shutil
    import sqlite3

    path = tmp_path / "calserver.db"
    shutil.copy(sqlite_template, path)
    config = Config({"data_dir": str(tmp_path), "database_url": f"sqlite+aiosqlite:///{path}",
                     "secrets": [TEST_SECRET], "demo": False,
                     "public_url": "https://cal.example.test"})  # fmt: skip
    client: TestClient = await aiohttp_client(create_app(config, clock=FrozenClock(START)))  # type: ignore[type-arg]
    tenant = await _tenant(client, "acme")
    await make_segment(tenant.api)
    links = await subscribe(tenant.api, tenant.slug, "news")
    assert (await poll(client, links["feed_url"])).status == 200
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another process holds the write lock past the timeout
    try:
        assert (await poll(client, links["feed_url"])).status == 200  # reads go on (WAL)
        headers = {"Authorization": f"Bearer {tenant.key}"}
        async with client.post("/api/v1/segments", json={"slug": "more", "name": "More"},
                               headers=headers) as answer:  # fmt: skip
            assert answer.status == 503 and answer.headers["Retry-After"]
            assert answer.content_type == "application/problem+json"
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert (
        await tenant.api.post("/api/v1/segments", {"slug": "more", "name": "More"})
    ).status == 201
