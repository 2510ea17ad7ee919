"""The poll lookup (storage/lookup): the polls of one loop turn share one statement, those
that arrive while one is in flight share the next, and each still gets its own
subscription's view — or its own share of an outage."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import text

from calserver.appkeys import ENGINE, LOOKUP, SESSIONS
from storage.lookup import BATCH, BaseLookup, PollView
from storage.workspaces import hash_key
from tests.conftest import Tenant
from tests.support.feeds import make_segment, subscribe


class CountingRows:
    """Wraps a lookup's ``rows``: the statements run and the ids each asked for."""

    def __init__(self, lookup: BaseLookup):
        self.real = type(lookup).rows.__get__(lookup)
        self.batches: list[list[int]] = []
        self.failure: Exception | None = None
        self.gate: asyncio.Event | None = None  # when set: statements wait for it

    async def rows(self, ids: list[int], connection: Any) -> Sequence[Any]:
        self.batches.append(list(ids))
        if self.gate is not None:
            await self.gate.wait()
        if self.failure is not None:
            raise self.failure
        return await self.real(ids, connection)


@pytest.fixture
async def counted(client: TestClient) -> Any:  # type: ignore[type-arg]
    lookup = client.app[LOOKUP]
    counting = CountingRows(lookup)
    lookup.rows = counting.rows  # type: ignore[method-assign]
    yield counting
    del lookup.rows  # back to the class's method


async def _subscription_ids(client: TestClient, tenant: Tenant, count: int) -> list[int]:  # type: ignore[type-arg]
    await make_segment(tenant.api, "news")
    await make_segment(tenant.api, "sale", name="Sale")
    for number in range(count):
        await subscribe(tenant.api, tenant.slug, "news" if number % 2 else "sale",
                        timezone="Europe/Moscow" if number % 3 else None)  # fmt: skip
    async with client.app[ENGINE].connect() as connection:
        rows = await connection.execute(text("SELECT id FROM subscriptions ORDER BY id"))
        return [row[0] for row in rows]


async def test_polls_of_one_loop_turn_share_one_statement_and_get_their_own_views(
    client: TestClient, tenant: Tenant, counted: CountingRows
) -> None:  # type: ignore[type-arg]
    ids = await _subscription_ids(client, tenant, 6)
    lookup = client.app[LOOKUP]
    alone = {sid: await lookup.view(sid) for sid in ids}  # one statement each
    assert counted.batches == [[sid] for sid in ids]
    assert all(isinstance(view, PollView) and view.subscription_id == sid
               for sid, view in alone.items())  # fmt: skip
    assert len({view.segments for view in alone.values() if view}) == 2  # two segments read
    counted.batches.clear()
    unknown = max(ids) + 1000
    asked = [ids[3], unknown, *ids, ids[0], ids[3]]  # repeats and an id that does not exist
    views = await asyncio.gather(*(lookup.view(sid) for sid in asked))
    assert len(counted.batches) == 1 and sorted(counted.batches[0]) == sorted({*ids, unknown})
    assert list(views) == [alone.get(sid) for sid in asked]
    assert views[1] is None


async def test_more_polls_than_a_batch_take_more_statements(
    client: TestClient, tenant: Tenant, counted: CountingRows
) -> None:  # type: ignore[type-arg]
    ids = await _subscription_ids(client, tenant, 2)
    lookup = client.app[LOOKUP]
    asked = [*ids, *range(10_000, 10_000 + BATCH)]  # BATCH + 2 distinct ids
    views = await asyncio.gather(*(lookup.view(sid) for sid in asked))
    assert [len(batch) for batch in counted.batches] == [BATCH, 2]
    assert [view.subscription_id for view in views if view] == ids
    assert views.count(None) == BATCH


async def test_an_outage_fails_every_poll_of_the_statement_and_the_next_turn_reads_again(
    client: TestClient, tenant: Tenant, counted: CountingRows
) -> None:  # type: ignore[type-arg]
    ids = await _subscription_ids(client, tenant, 3)
    lookup = client.app[LOOKUP]
    counted.failure = ConnectionRefusedError("the database is down")
    outcomes = await asyncio.gather(*(lookup.view(sid) for sid in ids), return_exceptions=True)
    assert all(isinstance(outcome, ConnectionRefusedError) for outcome in outcomes), outcomes
    assert len(counted.batches) == 1
    counted.failure = None
    assert [view.subscription_id for view in await asyncio.gather(*map(lookup.view, ids))
            if view] == ids  # fmt: skip


async def test_a_poll_that_gives_up_leaves_the_others_their_answer(
    client: TestClient, tenant: Tenant, counted: CountingRows
) -> None:  # type: ignore[type-arg]
    ids = await _subscription_ids(client, tenant, 2)
    lookup = client.app[LOOKUP]
    quitter = asyncio.ensure_future(lookup.view(ids[0]))
    stayers = [asyncio.ensure_future(lookup.view(sid)) for sid in (ids[0], ids[1])]
    await asyncio.sleep(0)  # the polls are queued; the statement is scheduled
    quitter.cancel()
    views = await asyncio.gather(*stayers)
    assert [view.subscription_id for view in views if view] == ids
    assert quitter.cancelled() and len(counted.batches) == 1


async def test_polls_that_arrive_during_a_statement_share_the_next_one(
    client: TestClient, tenant: Tenant, counted: CountingRows, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[type-arg]
    ids = await _subscription_ids(client, tenant, 4)
    lookup = client.app[LOOKUP]
    monkeypatch.setattr(lookup, "readers", 1)
    counted.gate = asyncio.Event()
    first = asyncio.ensure_future(lookup.view(ids[0]))
    while not counted.batches:
        await asyncio.sleep(0)
    later = [asyncio.ensure_future(lookup.view(sid)) for sid in ids[1:]]
    for _ in range(5):
        await asyncio.sleep(0)
    assert counted.batches == [[ids[0]]]  # the others wait for the statement in flight
    counted.gate.set()
    views = await asyncio.gather(first, *later)
    assert counted.batches == [[ids[0]], ids[1:]]
    assert [view.subscription_id for view in views if view] == ids


def _held_release(
    lookup: BaseLookup, monkeypatch: pytest.MonkeyPatch, failure: Exception | None = None
) -> tuple[asyncio.Event, asyncio.Event]:
    """One reader at a time, and the first to give its connection back holds there: it sets
    the first event, waits for the second, then raises ``failure`` if one is given."""
    monkeypatch.setattr(lookup, "readers", 1)
    releasing, gate = asyncio.Event(), asyncio.Event()
    real, first = lookup.reading, [failure]

    @asynccontextmanager
    async def held() -> AsyncIterator[Any]:
        async with real() as connection:
            yield connection
            if first:
                error = first.pop()
                releasing.set()
                await gate.wait()
                if error is not None:
                    raise error

    monkeypatch.setattr(lookup, "reading", held)
    return releasing, gate


async def test_a_poll_arriving_while_a_reader_lets_go_of_its_connection_is_read(
    client: TestClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[type-arg]
    ids = await _subscription_ids(client, tenant, 2)
    lookup = client.app[LOOKUP]
    releasing, gate = _held_release(lookup, monkeypatch)
    view = await lookup.view(ids[0])
    assert view is not None and view.subscription_id == ids[0]
    await releasing.wait()
    try:  # not held up until the first reader has let go
        second = await asyncio.wait_for(lookup.view(ids[1]), timeout=5)
    finally:
        gate.set()
    assert second is not None and second.subscription_id == ids[1]


async def test_a_failed_release_does_not_fail_a_poll_another_reader_serves(
    client: TestClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[type-arg]
    ids = await _subscription_ids(client, tenant, 2)
    lookup = client.app[LOOKUP]
    broken = ConnectionResetError("the connection broke as it went back")
    releasing, gate = _held_release(lookup, monkeypatch, broken)
    assert await lookup.view(ids[0]) is not None
    await releasing.wait()
    second = asyncio.ensure_future(lookup.view(ids[1]))  # queued in the same turn as the break
    gate.set()
    view = await asyncio.wait_for(second, timeout=5)
    assert view is not None and view.subscription_id == ids[1]


async def test_admin_keys_of_one_loop_turn_share_a_statement_and_a_revoked_key_stops_at_once(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[type-arg]
    lookup = client.app[LOOKUP]
    statements: list[list[str]] = []
    down = False
    # PostgreSQL batches the keys of a loop turn; SQLite reads each on the loop.
    pool = getattr(lookup, "_pool", None)
    if pool is not None:

        class CountingPool:
            def __getattr__(self, name: str) -> Any:
                return getattr(pool, name)

            async def fetch(self, sql: str, hashes: list[str]) -> Any:
                statements.append(list(hashes))
                if down:
                    raise ConnectionRefusedError("the database is down")
                return await pool.fetch(sql, hashes)

        monkeypatch.setattr(lookup, "_pool", CountingPool())
    ours, theirs, unknown = hash_key(tenant.key), hash_key(other_tenant.key), hash_key("nope")
    owners = await asyncio.gather(*(lookup.key(h) for h in (ours, theirs, ours, unknown)))
    assert [owner.workspace.slug if owner else None for owner in owners] == [
        "acme", "globex", "acme", None]  # fmt: skip
    if pool is not None:
        assert len(statements) == 1 and sorted(statements[0]) == sorted({ours, theirs, unknown})
        down = True  # an outage fails every call of the statement, each on its own
        outcomes = await asyncio.gather(
            lookup.key(ours), lookup.key(theirs), return_exceptions=True
        )
        assert all(isinstance(outcome, ConnectionRefusedError) for outcome in outcomes)
        down = False
    async with client.app[SESSIONS].begin() as session:
        await session.execute(text("UPDATE api_keys SET revoked_at = created_at"))
    assert await asyncio.gather(lookup.key(ours), lookup.key(theirs)) == [None, None]
