"""CalDAV items hold exactly what the ICS feed holds for the same subscriber, and CalDAV
syncs count as polls and as delivery receipts of personal events."""

from __future__ import annotations

from datetime import timedelta

from aiohttp.test_utils import TestClient
from icalendar import Calendar
from sqlalchemy import select

from calserver.appkeys import SESSIONS
from calserver.clock import FrozenClock
from storage.models import Poll, Subscription
from tests.conftest import Tenant
from tests.support.agents import AGENTS
from tests.support.dav import SYNC_REPORT, basic, calendar_path, dav_client, in_thread
from tests.support.dav import dav as dav_raw
from tests.support.feeds import add_event, make_segment, path_of, poll
from tests.support.openapi import ApiClient
from tests.support.telemetry import settle

ORDER = {"title": "Order 42 ready", "start": "2026-03-06T15:00:00", "duration": "PT2H",
         "alarms": [{"before": "PT1H"}]}  # fmt: skip


async def _personal_subscription(client: TestClient, api: ApiClient) -> dict[str, str]:  # type: ignore[type-arg]
    """Subscribe through a personalized link; the JSON answer carries the CalDAV account."""
    link = await api.post("/api/v1/links", {"external_id": "c-1", "segments": ["news"]})
    assert link.status == 201, link.text
    async with client.post(path_of(link.body["url"]), json={"timezone": "Asia/Kathmandu"},
                           headers={"Accept": "application/json"}) as answer:  # fmt: skip
        assert answer.status == 201, await answer.text()
        return dict(await answer.json())


async def _catalogue(api: ApiClient) -> None:
    await make_segment(api, timezone="Europe/Moscow")
    await api.patch("/api/v1/workspace", {"quiet_hours": {"start": "22:00", "end": "08:00"}})
    # Its alarm would ring at 07:00 in Kathmandu, inside quiet hours: moved, as in the feed.
    await add_event(api, "news", title="Early", start="2026-03-10T08:00:00", local_time=True,
                    rrule="FREQ=WEEKLY;COUNT=10", alarms=[{"before": "PT1H"}])  # fmt: skip
    await add_event(api, "news", title="Fixed", start="2026-03-12T12:00:00",
                    timezone="America/New_York", alarms=[{"before": "PT15M"}])  # fmt: skip
    await add_event(api, "news", title="Holiday", start="2026-03-20", all_day=True)
    await api.request("PUT", "/api/v1/contacts/c-1", json_body={"timezone": "Asia/Kathmandu"})


def _components(text: bytes | str, name: str) -> list[bytes]:
    return [c.to_ical() for c in Calendar.from_ical(text).walk(name)]


async def test_items_are_the_feed_split_by_event(client: TestClient, tenant: Tenant) -> None:  # type: ignore[type-arg]
    await _catalogue(tenant.api)
    links = await _personal_subscription(client, tenant.api)
    created = await tenant.api.post(
        "/api/v1/triggers", {"external_id": "c-1", "idempotency_key": "o42", "event": ORDER}
    )
    assert created.status == 202, created.text
    feed = await poll(client, links["feed_url"])
    assert feed.status == 200
    feed_events = Calendar.from_ical(feed.body).walk("VEVENT")
    feed_zones = {
        str(z["TZID"]): z.to_ical() for z in Calendar.from_ical(feed.body).walk("VTIMEZONE")
    }

    def items() -> list[str]:
        with dav_client(client, links) as dav:
            return [str(o.data) for o in dav.principal().calendars()[0].events()]

    texts = await in_thread(items)
    assert len(texts) == 4  # three segment events and the personal one
    item_events: list[bytes] = []
    for text in texts:
        events = Calendar.from_ical(text).walk("VEVENT")
        assert len({str(e["UID"]) for e in events}) == 1  # one event (with its overrides) each
        item_events += [e.to_ical() for e in events]
        used = {e["DTSTART"].params.get("TZID") for e in events} - {None}
        zones = {str(z["TZID"]): z.to_ical() for z in Calendar.from_ical(text).walk("VTIMEZONE")}
        assert set(zones) == used
        assert all(zones[tzid] == feed_zones[tzid] for tzid in zones)
        assert "METHOD:" not in text  # RFC 4791 4.1: no METHOD in calendar object resources
    # Same VEVENTs byte for byte: UIDs, SEQUENCE, alarms (the quiet-hour override included),
    # the subscriber's link in DESCRIPTION.
    assert sorted(item_events) == sorted(e.to_ical() for e in feed_events)
    [early] = [e for e in item_events if b"SUMMARY:Early" in e and b"RECURRENCE-ID" not in e]
    # 07:00 in Kathmandu is inside quiet hours: the alarm moved, as the feed moved it.
    assert b"TRIGGER:" in early and b"TRIGGER:-PT1H\r\n" not in early
    assert any(links["manage_url"].encode()[:60] in e.replace(b"\r\n ", b"") for e in item_events)


async def test_syncs_count_as_polls_and_receipts(
    client: TestClient,
    tenant: Tenant,
    clock: FrozenClock,  # type: ignore[type-arg]
) -> None:
    await _catalogue(tenant.api)
    links = await _personal_subscription(client, tenant.api)
    trigger = (
        await tenant.api.post(
            "/api/v1/triggers", {"external_id": "c-1", "idempotency_key": "o42", "event": ORDER}
        )
    ).body
    await settle(client)
    assert (await tenant.api.get(f"/api/v1/triggers/{trigger['id']}")).body["status"] == "pending"
    # A listing of ETags is not a delivery: the client has not got the event yet.
    listing = await dav_raw(client, "REPORT", calendar_path(links), SYNC_REPORT.format(token=""),
                            {"Depth": "1", **basic(links)})  # fmt: skip
    assert listing[0] == 207 and f"p{trigger['id']}.ics" in listing[1]
    await settle(client)
    assert (await tenant.api.get(f"/api/v1/triggers/{trigger['id']}")).body["status"] == "pending"
    dav = dav_client(client, links, headers={"User-Agent": AGENTS["davx5"][0]})
    calendar = (await in_thread(lambda: dav.principal().calendars()))[0]
    snapshot = await in_thread(lambda: calendar.get_objects_by_sync_token(load_objects=True))
    await settle(client)
    got = (await tenant.api.get(f"/api/v1/triggers/{trigger['id']}")).body
    assert got["status"] == "delivered" and got["receipt"]["family"] == "davx5"

    clock.advance(timedelta(hours=1))
    await in_thread(lambda: snapshot.sync())  # nothing changed
    await settle(client)
    dav.close()
    async with client.app[SESSIONS]() as session:
        polls = (await session.execute(select(Poll.status, Poll.family, Poll.at))).all()
        subscription = (await session.scalars(select(Subscription))).one()
    assert {(s, f) for s, f, _ in polls} == {(200, "davx5"), (304, "davx5"), (200, "other")}
    # The quiet sync an hour later is a 304, as an unchanged ICS poll is.
    assert [s for s, _, at in polls if at == clock.now()] and all(
        s == 304 for s, _, at in polls if at == clock.now()
    )
    assert subscription.status == "active" and subscription.family == "davx5"


async def test_a_cancelled_personal_event_arrives_in_the_sync_delta(
    client: TestClient,
    tenant: Tenant,
    clock: FrozenClock,  # type: ignore[type-arg]
) -> None:
    await _catalogue(tenant.api)
    links = await _personal_subscription(client, tenant.api)
    trigger = (
        await tenant.api.post(
            "/api/v1/triggers", {"external_id": "c-1", "idempotency_key": "o42", "event": ORDER}
        )
    ).body
    dav = dav_client(client, links)
    calendar = (await in_thread(lambda: dav.principal().calendars()))[0]
    snapshot = await in_thread(lambda: calendar.get_objects_by_sync_token(load_objects=True))
    clock.advance(timedelta(hours=1))
    cancelled = await tenant.api.delete(f"/api/v1/triggers/{trigger['id']}")
    assert cancelled.status == 200, cancelled.text
    updated, removed = await in_thread(lambda: snapshot.sync())
    dav.close()
    assert removed == [] and len(updated) == 1  # only the personal event, now cancelled
    [event] = Calendar.from_ical(updated[0].data).walk("VEVENT")
    assert str(event["UID"]) == trigger["event"]["uid"]
    assert str(event["STATUS"]) == "CANCELLED" and int(event["SEQUENCE"]) == 1
