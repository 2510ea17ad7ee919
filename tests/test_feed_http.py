"""The feed endpoint as calendar clients use it: tokens, validators, encodings, unsubscribe."""

from __future__ import annotations

import gzip
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from icalendar import Calendar
from sqlalchemy import event as sa_event

from calserver.appkeys import ENGINE, FEED_CACHE, LOOKUP, SIGNER
from calserver.clock import FrozenClock
from calserver.config import Config
from tests.conftest import TEST_SECRET, Tenant
from tests.support.agents import AGENTS
from tests.support.feeds import add_event, make_segment, path_of, poll, read, subscribe
from tests.support.telemetry import settle
from web.app import create_app

APPLE = "iOS/26.6 (23G71) dataaccessd/1.0"
OUTLOOK = "Microsoft Exchange/15.20"


async def _subscribed(tenant: Tenant, zone: str = "Europe/London") -> dict[str, str]:
    await make_segment(
        tenant.api, description="Sales, open days", color="#1E88E5", timezone="Europe/Moscow"
    )
    await add_event(
        tenant.api, "news", title="Sale", start="2026-03-10T15:00:00", duration="PT2H",
        alarms=[{"before": "P1D"}, {"before": "PT15M"}],
    )  # fmt: skip
    return await subscribe(tenant.api, tenant.slug, "news", zone)


async def test_links_and_a_correct_calendar(client: TestClient, tenant: Tenant) -> None:  # type: ignore[type-arg]
    links = await _subscribed(tenant)
    assert all(len(url) < 200 for url in (links["feed_url"], links["webcal_url"]))
    assert links["webcal_url"] == "webcal://" + links["feed_url"].removeprefix("https://")
    polled = await poll(client, links["feed_url"], {"User-Agent": APPLE})
    assert polled.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert Calendar.from_ical(polled.body).walk("VEVENT")[0]["SUMMARY"] == "Sale"
    feed = read(polled)
    calendar = feed["calendar"]
    assert calendar["x-wr-calname"] == calendar["name"] == "Shop news"
    assert (calendar["method"], calendar["calscale"], calendar["version"]) == (
        "PUBLISH",
        "GREGORIAN",
        "2.0",
    )
    assert calendar["refresh-interval"] == calendar["x-published-ttl"] == "PT1H"
    assert calendar["color"] == "dodgerblue" and calendar["x-apple-calendar-color"] == "#1E88E5"
    assert links["manage_url"] in calendar["description"]
    assert calendar["description"].startswith("Sales, open days\n\n")
    assert calendar["x-wr-caldesc"].startswith(
        "Sales\\, open days"
    )  # X- values stay raw in ical.js
    [event] = feed["events"]
    assert event["tzid"] == "Europe/Moscow" and not event["is_floating"]
    assert (event["start_utc"], event["end_utc"]) == (
        "2026-03-10T12:00:00Z",
        "2026-03-10T14:00:00Z",
    )
    assert event["occurrences"][0]["alarms_utc"] == ["2026-03-09T12:00:00Z", "2026-03-10T11:45:00Z"]
    assert links["manage_url"] in event["description"]
    assert event["property_order"][-2:] == ["valarm", "valarm"]
    assert feed["timezones"] == ["Europe/Moscow"]


async def test_validators_head_and_stable_bytes(
    client: TestClient, tenant: Tenant, clock: FrozenClock
) -> None:  # type: ignore[type-arg]
    links = await _subscribed(tenant)
    first = await poll(client, links["feed_url"])
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    again = await poll(client, links["feed_url"])
    assert again.body == first.body and again.headers["ETag"] == etag  # DTSTAMP is deterministic
    assert (await poll(client, links["feed_url"], {"If-None-Match": etag})).status == 304
    assert (
        await poll(client, links["feed_url"], {"If-None-Match": '"other", ' + etag})
    ).status == 304
    since = first.headers["Last-Modified"]
    not_modified = await poll(client, links["feed_url"], {"If-Modified-Since": since})
    assert not_modified.status == 304 and not_modified.body == b""
    head = await poll(client, links["feed_url"], method="HEAD")
    assert head.status == 200 and head.body == b"" and head.headers["ETag"] == etag

    clock.advance(timedelta(hours=1))  # same day, later
    event_id = (await tenant.api.get("/api/v1/segments/news/events")).body["items"][0]["id"]
    await tenant.api.patch(f"/api/v1/segments/news/events/{event_id}", {"title": "Big sale"})
    changed = await poll(client, links["feed_url"], {"If-None-Match": etag})
    assert changed.status == 200 and changed.headers["ETag"] != etag
    [event] = read(changed)["events"]
    assert event["summary"] == "Big sale" and event["sequence"] == 1
    assert read(first)["events"][0]["dtstamp"] == "2026-03-02T09:00:00Z"
    assert event["dtstamp"] == "2026-03-02T10:00:00Z"  # moves only when the event changes


async def test_gzip_only_when_asked_and_never_for_microsoft(
    client: TestClient, tenant: Tenant
) -> None:  # type: ignore[type-arg]
    links = await _subscribed(tenant)
    await tenant.api.patch("/api/v1/segments/news", {"description": "x" * 3000})
    plain = await poll(client, links["feed_url"])
    assert "Content-Encoding" not in plain.headers
    zipped = await poll(client, links["feed_url"], {"Accept-Encoding": "gzip", "User-Agent": APPLE})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.body) == plain.body
    assert zipped.headers["ETag"] != plain.headers["ETag"]
    outlook = await poll(
        client, links["feed_url"], {"Accept-Encoding": "gzip", "User-Agent": OUTLOOK}
    )
    assert "Content-Encoding" not in outlook.headers and outlook.body == plain.body


async def test_bad_tokens_reveal_nothing(client: TestClient, tenant: Tenant) -> None:  # type: ignore[type-arg]
    links = await _subscribed(tenant)
    path = path_of(links["feed_url"])
    token = path.removeprefix("/f/").removesuffix(".ics")
    unknown = client.app[SIGNER].sign("feed", 999_999)
    for bad in (
        token[:-3] + "AAA",
        "garbage",
        unknown,
        token + "x",
        client.app[SIGNER].sign("other", 1),
    ):
        async with client.get(f"/f/{bad}.ics") as answer:
            assert answer.status == 404
            assert token not in await answer.text()
    async with client.post(path) as answer:
        assert answer.status == 405


async def test_rotated_secret_keeps_old_urls(
    aiohttp_client: Any, config: Config, clock: FrozenClock
) -> None:
    old_app = await aiohttp_client(create_app(config, clock=clock))
    from tests.conftest import _tenant

    tenant = await _tenant(old_app, "acme")
    links = await _subscribed(tenant)
    before = await poll(old_app, links["feed_url"])
    await old_app.close()
    rotated = config.replace(secrets=["brand-new-secret-0123456789", TEST_SECRET])
    new_app = await aiohttp_client(create_app(rotated, clock=clock))
    after = await poll(new_app, links["feed_url"])
    assert after.status == 200 and after.body == before.body
    dropped = await aiohttp_client(
        create_app(config.replace(secrets=["brand-new-secret-0123456789"]), clock=clock)
    )
    assert (await poll(dropped, links["feed_url"])).status == 404


async def test_unsubscribe_leaves_an_empty_named_calendar(
    client: TestClient, tenant: Tenant
) -> None:  # type: ignore[type-arg]
    links = await _subscribed(tenant)
    unsubscribe = path_of(links["unsubscribe_url"])
    async with client.get(unsubscribe) as page:
        html = await page.text()
        assert page.status == 200 and f'action="{unsubscribe}"' in html and 'method="post"' in html
    assert len(read(await poll(client, links["feed_url"]))["events"]) == 1  # a GET changed nothing
    async with client.post(unsubscribe) as done:
        assert done.status == 200 and "unsubscribed" in await done.text()
    polled = await poll(client, links["feed_url"])
    feed = read(polled)
    assert feed["events"] == [] and feed["calendar"]["x-wr-calname"] == "Shop news (unsubscribed)"
    async with client.post(unsubscribe) as again:
        assert again.status == 200  # idempotent


async def test_a_cached_poll_makes_one_query_whatever_the_event_count(
    client: TestClient, tenant: Tenant, store: str
) -> None:  # type: ignore[type-arg]
    links = await _subscribed(tenant)
    for day in range(1, 29):
        await add_event(tenant.api, "news", title=f"Day {day}", start=f"2026-04-{day:02d}T10:00:00",
                        alarms=[{"before": "PT30M"}])  # fmt: skip
    await poll(client, links["feed_url"])  # fills the cache
    misses = client.app[FEED_CACHE].misses
    orm: list[str] = []
    lookup = client.app[LOOKUP]
    driver: list[str] = []
    calls = CountingLookup(lookup)
    lookup.view = calls.view  # type: ignore[method-assign]

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        orm.append(statement)

    sa_event.listen(client.app[ENGINE].sync_engine, "before_cursor_execute", count)
    if store == "sqlite":  # the statements the lookup's own connection really runs
        lookup._connection.set_trace_callback(driver.append)  # type: ignore[attr-defined]
    try:
        polled = await poll(client, links["feed_url"])
    finally:
        sa_event.remove(client.app[ENGINE].sync_engine, "before_cursor_execute", count)
        del lookup.view  # back to the class's method
        if store == "sqlite":
            lookup._connection.set_trace_callback(None)  # type: ignore[attr-defined]
    assert len(read(polled)["events"]) == 29
    assert orm == [] and calls.calls == 1
    if store == "sqlite":
        assert len(driver) == 1 and driver[0].lstrip().startswith("SELECT"), driver
    assert client.app[FEED_CACHE].misses == misses


class CountingLookup:
    def __init__(self, inner: Any):
        self.real, self.calls = type(inner).view.__get__(inner), 0

    async def view(self, subscription_id: int) -> Any:
        self.calls += 1
        return await self.real(subscription_id)


async def test_robots_allow_feeds(client: TestClient) -> None:  # type: ignore[type-arg]
    async with client.get("/robots.txt") as answer:
        text = await answer.text()
    assert "Allow: /f/" in text and "Disallow: /f" not in text.replace("Disallow: /f/", "")
    assert "Disallow: /f/" not in text


async def test_subscribers_polled_at_different_times_share_one_cached_body(
    client: TestClient,
    tenant: Tenant,
    clock: FrozenClock,  # type: ignore[type-arg]
) -> None:
    """The body cache is keyed by what a body holds, not by when each subscriber last polled
    (the lookup reads that too, to skip rewriting a last poll that is still current)."""
    first = await _subscribed(tenant)
    second = await subscribe(tenant.api, tenant.slug, "news", "Europe/London")
    ios = {"User-Agent": AGENTS["apple-ios"][0]}
    for links in (first, second):
        await poll(client, links["feed_url"], ios)
    await settle(client)
    clock.advance(timedelta(hours=2))
    await poll(client, first["feed_url"], ios)  # the first one's last poll moves on
    await settle(client)
    misses = client.app[FEED_CACHE].misses
    for links in (first, second, first):
        assert len(read(await poll(client, links["feed_url"], ios))["events"]) == 1
    assert client.app[FEED_CACHE].misses == misses
