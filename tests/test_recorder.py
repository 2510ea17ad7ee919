"""The background writer of recorded polls: a write under way when the server stops is
finished, never cancelled halfway (a cancelled SQLite write can keep the write lock on a
connection nobody rolls back, and the last write on shutdown then fails); a big batch is
written in slices, all of it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from calserver import recorder
from calserver.appkeys import CLOCK, RECORDER, SESSIONS
from calserver.clock import FrozenClock
from calserver.recorder import Recorder, run_forever
from storage import telemetry
from storage.models import Poll, Subscription
from tests.conftest import Tenant
from tests.support.agents import AGENTS
from tests.support.feeds import make_segment, poll, subscribe

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class SlowWrites(Recorder):
    """A recorder whose write waits for the test to let it finish."""

    def __init__(self) -> None:
        super().__init__(lambda moment: moment)
        self.started, self.release = asyncio.Event(), asyncio.Event()
        self.finished = 0

    async def flush(self, sessions: Any, now: datetime) -> int:
        self.started.set()
        await self.release.wait()
        self.finished += 1
        return 0


async def test_a_write_under_way_when_stopping_is_finished_not_cancelled() -> None:
    recorder, stop = SlowWrites(), asyncio.Event()
    task = asyncio.create_task(
        run_forever(recorder, None, FrozenClock(NOW), 0.01, {}, 48, stop)  # type: ignore[arg-type]
    )
    await asyncio.wait_for(recorder.started.wait(), 5)
    stop.set()
    await asyncio.sleep(0.05)
    assert not task.done()  # it waits for the write
    recorder.release.set()
    await asyncio.wait_for(task, 5)
    assert recorder.finished == 1


async def test_stopping_between_writes_ends_at_once() -> None:
    recorder, stop = SlowWrites(), asyncio.Event()
    task = asyncio.create_task(
        run_forever(recorder, None, FrozenClock(NOW), 3600, {}, 48, stop)  # type: ignore[arg-type]
    )
    await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 1)
    assert recorder.finished == 0 and not recorder.started.is_set()


async def test_a_flush_bigger_than_a_slice_writes_every_poll_and_frees_the_batch(
    client: TestClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[type-arg]
    """Flushes go to the database in slices (storage/telemetry.py FLUSH_SLICE): seven polls
    of three subscriptions in slices of two are all stored, with each one's latest state."""
    monkeypatch.setattr(telemetry, "FLUSH_SLICE", 2)
    monkeypatch.setattr(recorder, "FLUSH_SLICE", 2)
    await make_segment(tenant.api)
    links = [await subscribe(tenant.api, tenant.slug, "news") for _ in range(3)]
    agents = (AGENTS["apple-ios"][0], AGENTS["google"][0], AGENTS["thunderbird"][0])
    for feed, agent, times in zip(links, agents, (3, 3, 1), strict=True):
        for _ in range(times):
            assert (await poll(client, feed["feed_url"], {"User-Agent": agent})).status == 200
    batch = client.app[RECORDER].polls
    assert len(batch) == 7
    written = await client.app[RECORDER].flush(client.app[SESSIONS], client.app[CLOCK].now())
    assert written == 7 and batch.rows == []  # the written rows were released
    async with client.app[SESSIONS]() as session:
        stored = await session.scalar(select(func.count()).select_from(Poll))
        subscriptions = (await session.execute(select(Subscription))).scalars().all()
    assert stored == 7
    assert sorted(s.family for s in subscriptions) == ["apple-ios", "google", "thunderbird"]
    assert all(s.last_poll_at is not None and s.activated_at is not None for s in subscriptions)
    assert all(s.status == "active" for s in subscriptions)
    daily = (await tenant.api.get("/api/v1/stats/daily")).body["days"]
    assert sum(day["polls"] for day in daily) == 7
