"""CRM triggers: contacts, personalized links, personal events in feeds, receipts."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import delete, select, text
from sqlalchemy.orm.exc import StaleDataError

from calserver.appkeys import FEED_CACHE, RECORDER, SESSIONS
from calserver.clock import FrozenClock
from storage.models import Subscription, Trigger
from tests.conftest import Tenant
from tests.support.agents import AGENTS
from tests.support.cascade import push
from tests.support.feeds import add_event, make_segment, path_of, poll, read, subscribe
from tests.support.openapi import ApiClient
from tests.support.telemetry import settle
from web.problems import REMOVED_MEANWHILE, error_middleware

ORDER = {"title": "Order 42 ready for pickup", "start": "2026-03-06T15:00:00", "duration": "PT2H",
         "alarms": [{"before": "PT1H"}]}  # fmt: skip


async def bound_subscription(
    client: TestClient, api: ApiClient, external_id: str = "c-1"
) -> dict[str, str]:  # type: ignore[type-arg]
    """Subscribe through a personalized link, as the contact's phone would."""
    link = await api.post(
        "/api/v1/links", {"external_id": external_id, "segments": ["news"], "src": "crm"}
    )
    assert link.status == 201, link.text
    async with client.post(path_of(link.body["url"]), data={"client": "apple", "tz": "Europe/Berlin"},
                           allow_redirects=False) as answer:  # fmt: skip
        assert answer.status == 303
        token = answer.headers["Location"].split("/")[2].split("?")[0]
    return {"feed_url": f"https://cal.example.test/f/{token}.ics", "token": token}


@pytest.fixture
async def crm(api: ApiClient) -> ApiClient:
    await make_segment(api, timezone="Europe/Berlin")
    await add_event(api, "news", title="Newsletter", start="2026-03-10T10:00:00")
    answer = await api.request(
        "PUT",
        "/api/v1/contacts/c-1",
        json_body={"phone": "+4915112345678", "timezone": "Europe/Berlin"},
    )
    assert answer.status == 201, answer.text
    return api


async def test_contacts_put_get_erase(client: TestClient, crm: ApiClient) -> None:  # type: ignore[type-arg]
    replaced = await crm.request(
        "PUT",
        "/api/v1/contacts/c-1",
        json_body={"email": "Anna@Example.com", "attributes": {"tier": "gold"}},
    )
    assert (
        replaced.status == 200
        and replaced.body["email"] == "anna@example.com"
        and replaced.body["phone"] is None
    )
    assert (await crm.get("/api/v1/contacts/c-1")).body["attributes"] == {"tier": "gold"}
    bad = await crm.request(
        "PUT",
        "/api/v1/contacts/c-2",
        json_body={"phone": "8-916-123", "email": "no-at-sign", "telegram_chat_id": "abc"},
    )
    assert bad.status == 422
    assert {e["pointer"] for e in bad.body["errors"]} == {
        "#/phone",
        "#/email",
        "#/telegram_chat_id",
    }
    await bound_subscription(client, crm)
    assert (await crm.delete("/api/v1/contacts/c-1")).status == 204
    assert (await crm.get("/api/v1/contacts/c-1")).status == 404
    async with client.app[SESSIONS]() as session:
        subscription = (await session.scalars(select(Subscription))).one()
    assert subscription.contact_id is None and subscription.status == "created"  # kept, anonymous


async def test_personalized_link_binds_and_expires(
    client: TestClient, crm: ApiClient, clock: FrozenClock
) -> None:  # type: ignore[type-arg]
    link = (
        await crm.post(
            "/api/v1/links", {"external_id": "c-1", "segments": ["news"], "expires_in": 3600}
        )
    ).body
    async with client.get(path_of(link["url"])) as page:
        assert page.status == 200 and "Shop news" in await page.text()
    async with client.get(path_of(link["qr_png_url"])) as qr:
        assert qr.status == 200 and qr.content_type == "image/png"
    await bound_subscription(client, crm)
    async with client.app[SESSIONS]() as session:
        assert (await session.scalars(select(Subscription.contact_id))).one() is not None
    clock.advance(timedelta(hours=2))
    for path in (path_of(link["url"]),):
        async with client.get(path) as page:
            assert (
                page.status == 410
                and page.content_type == "text/html"
                and "expired" in await page.text()
            )
        async with client.post(path, data={"client": "apple"}) as answer:
            assert answer.status == 410
    async with client.app[SESSIONS]() as session:
        assert (
            len((await session.scalars(select(Subscription))).all()) == 1
        )  # none from the expired link
    async with client.get(path_of(link["url"])[:-3] + "xyz") as page:
        assert page.status == 404 and page.content_type == "text/html"
    assert (
        await crm.post("/api/v1/links", {"external_id": "nobody", "segments": ["news"]})
    ).status == 404
    assert (
        await crm.post("/api/v1/links", {"external_id": "c-1", "segments": ["nope"]})
    ).status == 404


async def test_trigger_reaches_only_its_contacts_feed(client: TestClient, crm: ApiClient) -> None:  # type: ignore[type-arg]
    mine = await bound_subscription(client, crm)
    stranger = await subscribe(crm, "acme", "news", "Europe/Berlin")
    before = await poll(client, stranger["feed_url"])
    misses = client.app[FEED_CACHE].misses
    created = await crm.post(
        "/api/v1/triggers", {"external_id": "c-1", "idempotency_key": "order-42", "event": ORDER}
    )
    assert created.status == 202, created.text
    assert created.body["status"] == "pending" and created.body["deliver_by"].startswith(
        "2026-03-06T12:45:00"  # the alarm at 13:00Z minus the 15-minute margin
    )
    feed = read(await poll(client, mine["feed_url"]))
    assert sorted(e["summary"] for e in feed["events"]) == [
        "Newsletter",
        "Order 42 ready for pickup",
    ]
    order = next(e for e in feed["events"] if e["summary"].startswith("Order"))
    assert order["start_utc"] == "2026-03-06T14:00:00Z" and order["occurrences"][0][
        "alarms_utc"
    ] == ["2026-03-06T13:00:00Z"]
    after = await poll(client, stranger["feed_url"])
    assert after.body == before.body  # other subscribers' feeds untouched…
    assert (
        client.app[FEED_CACHE].misses == misses + 1
    )  # …and their cached body reused (one miss: mine)


async def test_idempotency_and_bad_input(crm: ApiClient) -> None:
    body = {"external_id": "c-1", "idempotency_key": "k1", "event": ORDER}
    first = await crm.post("/api/v1/triggers", body)
    again = await crm.post("/api/v1/triggers", body)
    assert first.status == again.status == 202 and first.body["id"] == again.body["id"]
    other = await crm.post("/api/v1/triggers", {**body, "event": {**ORDER, "title": "Another"}})
    assert other.status == 409
    unknown = await crm.post(
        "/api/v1/triggers", {**body, "idempotency_key": "k2", "external_id": "c-9"}
    )
    assert unknown.status == 404
    created = await crm.post(
        "/api/v1/triggers",
        {**body, "idempotency_key": "k3", "external_id": "c-9", "create_contact": True},
    )
    assert created.status == 202
    bad = await crm.post("/api/v1/triggers", {**body, "idempotency_key": "k4",
                                              "event": {**ORDER, "timezone": "Mars/Base", "rrule": "FREQ=MINUTELY"}})  # fmt: skip
    assert bad.status == 422
    assert {e["pointer"] for e in bad.body["errors"]} == {
        "#/event/timezone"
    }  # the zone is checked first
    missing = await crm.post("/api/v1/triggers", {"external_id": "c-1"})
    assert missing.status == 422 and {e["pointer"] for e in missing.body["errors"]} == {
        "#/idempotency_key",
        "#/event",
    }


async def test_receipt_after_a_poll_and_not_before(client: TestClient, crm: ApiClient) -> None:  # type: ignore[type-arg]
    mine = await bound_subscription(client, crm)
    trigger = (
        await crm.post(
            "/api/v1/triggers", {"external_id": "c-1", "idempotency_key": "o", "event": ORDER}
        )
    ).body
    await settle(client)
    assert (await crm.get(f"/api/v1/triggers/{trigger['id']}")).body["status"] == "pending"
    await poll(client, mine["feed_url"], {"User-Agent": AGENTS["apple-ios"][0]})
    await settle(client)
    got = (await crm.get(f"/api/v1/triggers/{trigger['id']}")).body
    assert got["status"] == "delivered"
    assert got["receipt"] == {
        "delivered_at": "2026-03-02T09:00:00+00:00",
        "sequence": 0,
        "family": "apple-ios",
        "rings_alarms": True,
    }
    assert [e["type"] for e in got["timeline"]] == ["created", "delivered"]


async def test_receipt_from_a_304_and_google_staleness(client: TestClient, crm: ApiClient) -> None:  # type: ignore[type-arg]
    mine = await bound_subscription(client, crm)
    trigger = (
        await crm.post(
            "/api/v1/triggers", {"external_id": "c-1", "idempotency_key": "o", "event": ORDER}
        )
    ).body
    google = {"User-Agent": AGENTS["google"][0]}
    first = await poll(client, mine["feed_url"], google)
    # As if the process that served the 200 died before writing its receipt: a fresh one
    # (empty cache, empty recorder) answers the client's next poll with a 304.
    client.app[RECORDER].delivered.clear()
    client.app[FEED_CACHE].clear()
    again = await poll(client, mine["feed_url"], {**google, "If-None-Match": first.headers["ETag"]})
    assert again.status == 304
    await settle(client)
    got = (await crm.get(f"/api/v1/triggers/{trigger['id']}")).body
    assert got["status"] == "delivered" and got["receipt"]["family"] == "google"
    assert got["receipt"]["rings_alarms"] is False
    changed = (
        await crm.patch(
            f"/api/v1/triggers/{trigger['id']}", {"event": {"start": "2026-03-06T16:00:00"}}
        )
    ).body
    assert (
        changed["sequence"] == 1
        and changed["status"] == "pending"
        and changed["stale_on_google"] is True
    )
    await poll(client, mine["feed_url"], google)
    await settle(client)
    assert (await crm.get(f"/api/v1/triggers/{trigger['id']}")).body["receipt"]["sequence"] == 1


async def test_undelivered_at_the_deadline_and_cancel(
    client: TestClient, crm: ApiClient, clock: FrozenClock
) -> None:  # type: ignore[type-arg]
    mine = await bound_subscription(client, crm)
    trigger = (await crm.post("/api/v1/triggers", {"external_id": "c-1", "idempotency_key": "o", "event": ORDER,
                                                   "deliver_by": "2026-03-03T09:00:00+00:00"})).body  # fmt: skip
    clock.advance(timedelta(days=2))
    await settle(client)
    assert (await crm.get(f"/api/v1/triggers/{trigger['id']}")).body["status"] == "undelivered"
    cancelled = await crm.delete(f"/api/v1/triggers/{trigger['id']}")
    assert cancelled.status == 200 and cancelled.body["status"] == "cancelled"
    feed = read(await poll(client, mine["feed_url"]))
    order = next(e for e in feed["events"] if e["summary"].startswith("Order"))
    assert order["status"] == "CANCELLED" and order["alarms"] == [] and order["sequence"] == 1
    assert (await crm.patch(f"/api/v1/triggers/{trigger['id']}", {"critical": True})).status == 409


async def test_a_trigger_for_another_workspace_is_not_found(
    crm: ApiClient, other_tenant: Tenant
) -> None:
    trigger = (
        await crm.post(
            "/api/v1/triggers", {"external_id": "c-1", "idempotency_key": "o", "event": ORDER}
        )
    ).body
    assert (await other_tenant.api.get(f"/api/v1/triggers/{trigger['id']}")).status == 404
    assert (await other_tenant.api.get("/api/v1/contacts/c-1")).status == 404


async def test_a_trigger_removed_by_another_request_meanwhile_is_a_404(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
) -> None:
    """A PATCH that loaded a trigger whose contact another request then erased: its UPDATE
    matches no row (SQLAlchemy's StaleDataError). The answer is the 404 a read would give,
    not a 500 (a ten-minute schemathesis session with two workers found the 500)."""
    contact = await tenant.api.request("PUT", "/api/v1/contacts/c-1", json_body={})
    assert contact.status == 201, contact.text
    trigger_id = await push(tenant.api, "o-race")
    sessions = client.app[SESSIONS]
    async with sessions() as patching:
        trigger = await patching.get(Trigger, trigger_id)
        assert trigger is not None
        async with sessions.begin() as erasing:  # the other request
            await erasing.execute(delete(Trigger).where(Trigger.id == trigger_id))
        trigger.sequence += 1
        with pytest.raises(StaleDataError) as raced:
            await patching.flush()

    async def patch_handler(request: web.Request) -> web.Response:
        raise raced.value

    app = web.Application(middlewares=[error_middleware])
    app.router.add_patch("/t", patch_handler)
    server = TestClient(TestServer(app))
    await server.start_server()
    try:
        async with server.patch("/t", json={}) as answer:
            assert answer.status == 404
            assert answer.content_type == "application/problem+json"
            assert (await answer.json())["detail"] == REMOVED_MEANWHILE
    finally:
        await server.close()


async def test_triggers_sent_at_once_share_a_batch_and_each_gets_its_own_answer(
    client: TestClient,
    crm: ApiClient,  # type: ignore[type-arg]
) -> None:
    """The group commit (calserver/ingest.py): known, new and unknown contacts, repeats of a
    key with the same and another body, and a bad event, all in one batch."""
    berlin = {**ORDER, "start": "2026-03-06T15:00:00"}
    bodies = [
        {"external_id": "c-1", "idempotency_key": f"b-{n}", "event": berlin} for n in range(20)
    ]
    bodies += [{"external_id": "c-new", "idempotency_key": f"n-{n}", "event": berlin,
                "create_contact": True} for n in range(3)]  # fmt: skip
    bodies += [{"external_id": "c-none", "idempotency_key": "u-1", "event": berlin},
               {"external_id": "c-1", "idempotency_key": "b-0", "event": berlin},
               {"external_id": "c-1", "idempotency_key": "b-1", "event": {**berlin, "title": "Other"}},
               {"external_id": "c-1", "idempotency_key": "x-1",
                "event": {**berlin, "timezone": "Mars/Base"}}]  # fmt: skip
    async with client.app[SESSIONS]() as session:
        before = await session.scalar(
            text("SELECT version FROM contacts WHERE external_id = 'c-1'")
        )
    answers = await asyncio.gather(*(crm.post("/api/v1/triggers", body) for body in bodies))
    statuses = [answer.status for answer in answers]
    assert statuses[:23] == [202] * 23 and statuses[23:] == [404, 202, 409, 422]
    ids = [int(answer.body["id"]) for answer in answers[:23]]
    assert len(set(ids)) == 23 and int(answers[24].body["id"]) == ids[0]  # the repeat: same trigger
    async with client.app[SESSIONS]() as session:
        stored = dict((await session.execute(text(
            "SELECT t.idempotency_key, c.external_id FROM triggers t "
            "JOIN contacts c ON c.id = t.contact_id"))).all())  # fmt: skip
        after = await session.scalar(text("SELECT version FROM contacts WHERE external_id = 'c-1'"))
        new_contacts = await session.scalar(
            text("SELECT count(*) FROM contacts WHERE external_id = 'c-new'"))  # fmt: skip
    assert stored == {body["idempotency_key"]: body["external_id"] for body in bodies[:23]}
    assert new_contacts == 1  # created once, for the batch's three triggers
    assert after > before  # the contact's feed is rebuilt with its new events
