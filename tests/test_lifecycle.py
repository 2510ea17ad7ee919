"""A subscription's life through the real endpoints, with a controllable clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from calserver.appkeys import CLOCK, CONFIG, SESSIONS
from calserver.clock import FrozenClock
from storage.families import last_poll_resolution, parse_thresholds
from storage.models import Poll, Subscription, SubscriptionEvent
from tests.conftest import Tenant
from tests.support.agents import AGENTS
from tests.support.feeds import make_segment, path_of, poll, subscribe
from tests.support.telemetry import settle

IOS = AGENTS["apple-ios"][0]
GOOGLE = AGENTS["google"][0]


async def status_of(client: TestClient) -> tuple[str, str]:  # type: ignore[type-arg]
    async with client.app[SESSIONS]() as session:
        row = (await session.scalars(select(Subscription))).one()
    return row.status, row.family


async def log(client: TestClient) -> list[tuple[str, str, int]]:  # type: ignore[type-arg]
    async with client.app[SESSIONS]() as session:
        rows = (
            await session.scalars(select(SubscriptionEvent).order_by(SubscriptionEvent.id))
        ).all()
    return [(row.type, row.at.strftime("%m-%d %H:%M"), row.delta_active) for row in rows]


async def test_created_active_dormant_lapsed_returned_unsubscribed(
    client: TestClient,
    tenant: Tenant,
    clock: FrozenClock,  # type: ignore[type-arg]
) -> None:
    await make_segment(tenant.api)
    links = await subscribe(tenant.api, tenant.slug, "news")
    await settle(client)
    assert await status_of(client) == ("created", "")
    await poll(client, links["feed_url"], {"User-Agent": IOS})
    assert await status_of(client) == ("created", "")  # nothing written on the request path
    await settle(client)
    assert await status_of(client) == ("active", "apple-ios")

    clock.advance(timedelta(hours=37))  # iOS: dormant after 36 h of silence
    await settle(client)
    assert (await status_of(client))[0] == "dormant"
    clock.advance(timedelta(days=6))  # lapsed after 7 days
    await settle(client)
    assert (await status_of(client))[0] == "lapsed"
    await poll(client, links["feed_url"], {"User-Agent": IOS})
    await settle(client)
    assert (await status_of(client))[0] == "active"
    async with client.post(path_of(links["unsubscribe_url"])) as answer:
        assert answer.status == 200
    assert (await status_of(client))[0] == "unsubscribed"
    await poll(client, links["feed_url"], {"User-Agent": IOS})  # clients keep polling a while
    await settle(client)
    assert (await status_of(client))[0] == "unsubscribed"
    assert await log(client) == [
        ("created", "03-02 09:00", 0),
        ("activated", "03-02 09:00", 1),
        ("dormant", "03-03 21:00", 0),
        ("lapsed", "03-09 09:00", -1),  # dated when the silence crossed 7 days
        ("returned", "03-09 22:00", 1),
        ("unsubscribed", "03-09 22:00", -1),
    ]


async def test_google_gets_days_before_doubt_and_polls_are_kept_raw(
    client: TestClient,
    tenant: Tenant,
    clock: FrozenClock,  # type: ignore[type-arg]
) -> None:
    await make_segment(tenant.api)
    links = await subscribe(tenant.api, tenant.slug, "news")
    first = await poll(client, links["feed_url"], {"User-Agent": GOOGLE})
    await poll(
        client, links["feed_url"], {"User-Agent": GOOGLE, "If-None-Match": first.headers["ETag"]}
    )
    await settle(client)
    async with client.app[SESSIONS]() as session:
        polls = (await session.scalars(select(Poll).order_by(Poll.id))).all()
    assert [(p.status, p.family, p.etag) for p in polls] == [
        (200, "google", first.headers["ETag"]), (304, "google", first.headers["ETag"])
    ]  # fmt: skip
    clock.advance(timedelta(days=3))
    await settle(client)
    assert await status_of(client) == ("active", "google")  # an iPhone would be dormant by now
    clock.advance(timedelta(days=2))
    await settle(client)
    assert (await status_of(client))[0] == "dormant"
    async with client.app[SESSIONS]() as session:  # raw rows are kept 48 hours
        assert (await session.scalars(select(Poll))).all() == []


async def test_two_processes_write_one_activation(
    client: TestClient, tenant: Tenant, aiohttp_client: Any
) -> None:  # type: ignore[type-arg]
    from web.app import create_app

    await make_segment(tenant.api)
    links = await subscribe(tenant.api, tenant.slug, "news")
    other = await aiohttp_client(create_app(client.app[CONFIG], clock=client.app[CLOCK]))
    await poll(client, links["feed_url"], {"User-Agent": IOS})
    await poll(other, links["feed_url"], {"User-Agent": IOS})
    await settle(client)
    await settle(other)
    kinds = [kind for kind, _, _ in await log(client)]
    assert kinds == ["created", "activated"]


async def test_raw_polls_are_purged_after_retention_and_daily_counts_stay(
    client: TestClient,
    tenant: Tenant,
    clock: FrozenClock,  # type: ignore[type-arg]
) -> None:
    from storage.models import PollDaily
    from storage.telemetry import purge_polls

    await make_segment(tenant.api)
    links = await subscribe(tenant.api, tenant.slug, "news")
    for hours in (0, 30, 30):  # polls at 03-02 09:00, 03-03 15:00, 03-04 21:00
        clock.advance(timedelta(hours=hours))
        await poll(client, links["feed_url"], {"User-Agent": IOS})
        await settle(client)  # the hourly purge: rows older than poll_retention_hours (48) go
    async with client.app[SESSIONS]() as session:
        kept = (await session.scalars(select(Poll.at).order_by(Poll.id))).all()
    assert [at.strftime("%m-%d %H") for at in kept] == ["03-03 15", "03-04 21"]
    # The purge works in primary-key batches; the last row stays when it is recent enough.
    before = clock.now() - timedelta(hours=1)
    assert await purge_polls(client.app[SESSIONS], before, batch=1) == 1
    assert await purge_polls(client.app[SESSIONS], before, batch=1) == 0
    async with client.app[SESSIONS]() as session:
        kept = (await session.scalars(select(Poll.at).order_by(Poll.id))).all()
        daily = (await session.scalars(select(PollDaily.polls))).all()
    assert [at.strftime("%m-%d %H") for at in kept] == ["03-04 21"]
    assert sum(daily) == 3


async def last_poll(client: TestClient) -> tuple[Any, str]:  # type: ignore[type-arg]
    async with client.app[SESSIONS]() as session:
        row = (await session.scalars(select(Subscription))).one()
    return row.last_poll_at, row.family


async def test_a_poll_within_the_hour_by_the_same_client_leaves_the_last_poll_as_stored(
    client: TestClient,
    tenant: Tenant,
    clock: FrozenClock,  # type: ignore[type-arg]
) -> None:
    """The stored last poll stands for later polls within the hour: no rewrite of the row
    per poll. Every poll is still kept raw and counted; a new client or an hour later is
    written at once."""
    await make_segment(tenant.api)
    links = await subscribe(tenant.api, tenant.slug, "news")
    await poll(client, links["feed_url"], {"User-Agent": IOS})
    await settle(client)
    first, family = await last_poll(client)
    assert family == "apple-ios" and first == clock.now()
    clock.advance(timedelta(minutes=59))
    await poll(client, links["feed_url"], {"User-Agent": IOS})
    await settle(client)
    assert await last_poll(client) == (first, "apple-ios")  # still current: not written
    clock.advance(timedelta(minutes=1))
    await poll(client, links["feed_url"], {"User-Agent": IOS})
    await settle(client)
    assert await last_poll(client) == (clock.now(), "apple-ios")  # an hour on: written
    clock.advance(timedelta(minutes=5))
    await poll(client, links["feed_url"], {"User-Agent": GOOGLE})
    await settle(client)
    assert await last_poll(client) == (clock.now(), "google")  # another client: written
    async with client.app[SESSIONS]() as session:
        assert len((await session.scalars(select(Poll))).all()) == 4


def test_the_last_poll_is_current_for_a_tenth_of_the_shortest_silence_at_most_an_hour() -> None:
    assert last_poll_resolution(parse_thresholds("")) == 3600  # iOS: dormant after 36 h
    assert last_poll_resolution(parse_thresholds("apple-ios=2h/5d")) == 720
