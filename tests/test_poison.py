"""One stored event that cannot be rendered never takes a calendar down: it is left out of
every answer (feed, CalDAV, API list, dashboard, subscriber pages), logged once with its id
and counted in /metrics, while the rest is served."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import update

from calserver.appkeys import SESSIONS
from feeds import poison as poison_log
from storage.models import Event
from tests.conftest import Tenant
from tests.support.admin import add_user, sign_in
from tests.support.dav import basic, calendar_path, dav
from tests.support.feeds import add_event, make_segment, poll, read, subscribe

# Each row is valid for the database, yet cannot be rendered: the first ends past the year
# 9999 once converted to its zone, the second's rule is not a rule, the third's zone does
# not exist.
POISONS: dict[str, dict[str, Any]] = {
    "year-9999": {
        "start_local": "9999-12-31T23:30:00", "timezone": "Asia/Tokyo",
        "starts_at": datetime(9999, 12, 31, 14, 30, tzinfo=UTC),
        "ends_at": datetime(9999, 12, 31, 15, 30, tzinfo=UTC),
    },
    "broken-rrule": {"rrule": "FREQ=FORTNIGHTLY;BYDAY=XX"},
    "no-such-zone": {"timezone": "Mars/Base"},
}  # fmt: skip

QUERY = """<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/><C:calendar-data/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
    <C:time-range start="20260101T000000Z" end="20270101T000000Z"/>
  </C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"""


async def _poison(client: TestClient, event_id: int, columns: dict[str, Any]) -> None:  # type: ignore[type-arg]
    """Write the row straight into the database, as an old release or a bug might have."""
    async with client.app[SESSIONS].begin() as session:
        await session.execute(update(Event).where(Event.id == event_id).values(**columns))


async def _metric(client: TestClient) -> float:  # type: ignore[type-arg]
    async with client.get("/metrics") as answer:
        text = await answer.text()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("calserver_unrenderable_events_total")
    )


@pytest.mark.parametrize("poison", sorted(POISONS))
async def test_a_poisoned_event_is_left_out_everywhere(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    poison: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await make_segment(tenant.api, timezone="Europe/Berlin")
    good = await add_event(tenant.api, "news", title="Good", start="2026-03-10T10:00:00")
    bad = await add_event(
        tenant.api, "news", title="Bad", start="2026-03-11T10:00:00", rrule="FREQ=WEEKLY"
    )
    await _poison(client, bad["id"], POISONS[poison])
    links = await subscribe(tenant.api, tenant.slug, "news", "Europe/Berlin")
    before = await _metric(client)
    poison_log.forget()  # other tests of this process wrote rows with the same ids
    caplog.set_level(logging.WARNING, logger="calserver.poison")

    polled = await poll(client, links["feed_url"])
    summaries = [e["summary"] for e in read(polled)["events"]]
    assert summaries == ["Good"]

    auth = basic(links)
    status, body, _ = await dav(
        client, "REPORT", calendar_path(links), QUERY,
        {**auth, "Depth": "1", "Content-Type": "application/xml"},
    )  # fmt: skip
    assert status == 207, body
    assert "SUMMARY:Good" in body and "SUMMARY:Bad" not in body
    status, body, _ = await dav(
        client, "PROPFIND", calendar_path(links), headers={**auth, "Depth": "1"}
    )
    assert status == 207 and f"e{good['id']}.ics" in body and f"e{bad['id']}.ics" not in body

    listed = await tenant.api.get("/api/v1/segments/news/events")
    assert listed.status == 200, listed.text
    # The list shows the row as long as its fields can be written, so it can be fixed.
    assert "Good" in [item["title"] for item in listed.body["items"]]

    async with client.get(f"/s/{tenant.slug}/news", headers={"Accept": "text/html"}) as page:
        assert page.status == 200, await page.text()
    await add_user(client, tenant.slug)
    assert (await sign_in(client))[0] == 200
    for path in ("/admin/segments/news", "/admin/segments/news/preview"):
        async with client.get(path) as page:
            assert page.status == 200, (path, await page.text())
    async with client.get(f"/admin/segments/news/events/{bad['id']}") as page:
        assert page.status < 500, await page.text()

    assert await _metric(client) > before
    logged = [r for r in caplog.records if r.name == "calserver.poison"]
    assert logged and all(str(bad["id"]) in r.getMessage() for r in logged)
    # Once per row, however many answers left it out.
    assert len({r.getMessage() for r in logged}) == len(logged)


async def test_a_poisoned_personal_event_can_still_be_read_and_cancelled(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
) -> None:
    from storage.models import Trigger
    from tests.test_triggers import ORDER, bound_subscription

    api = tenant.api
    await make_segment(api, timezone="Europe/Berlin")
    await add_event(api, "news", title="Newsletter", start="2026-03-10T10:00:00")
    assert (await api.request("PUT", "/api/v1/contacts/c-1", json_body={})).status == 201
    mine = await bound_subscription(client, api)
    created = await api.post(
        "/api/v1/triggers", {"external_id": "c-1", "idempotency_key": "k", "event": ORDER}
    )
    assert created.status == 202, created.text
    trigger_id = created.body["id"]
    async with client.app[SESSIONS].begin() as session:
        await session.execute(
            update(Trigger).where(Trigger.id == trigger_id).values(**POISONS["year-9999"])
        )
    polled = await poll(client, mine["feed_url"])
    assert [e["summary"] for e in read(polled)["events"]] == ["Newsletter"]
    got = await api.get(f"/api/v1/triggers/{trigger_id}")
    assert got.status == 200, got.text
    assert got.body["event"]["start"].startswith("9999-12-31")
    await add_user(client, tenant.slug)
    assert (await sign_in(client))[0] == 200
    async with client.get(f"/admin/triggers/{trigger_id}") as page:
        assert page.status == 200, await page.text()
    async with client.get("/admin/triggers") as page:
        assert page.status == 200, await page.text()
    cancelled = await api.request("DELETE", f"/api/v1/triggers/{trigger_id}")
    assert cancelled.status == 200, cancelled.text
    assert cancelled.body["status"] == "cancelled"
