"""The CRM flow of docs/crm.md end to end: bind a contact, push a trigger, see the receipt
after a feed poll, and receive the signed webhooks on a real receiver on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from calserver.clock import FrozenClock
from calserver.config import Config
from calserver.webhooks import deliver_due
from tests.conftest import Tenant
from tests.support.agents import AGENTS
from tests.support.feeds import add_event, make_segment, poll
from tests.support.telemetry import settle
from tests.test_triggers import ORDER, bound_subscription
from tests.test_webhooks import Receiver, add_hook, make_app, verify


@pytest.fixture
async def client(aiohttp_client: Any, config: Config, clock: FrozenClock) -> TestClient:  # type: ignore[type-arg]
    return await aiohttp_client(make_app(config, clock, sender=False))  # loopback receivers allowed


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    await receiver.start()
    yield receiver
    await receiver.stop()


async def test_bind_push_receipt_and_signed_webhooks(
    client: TestClient, tenant: Tenant, receiver: Receiver
) -> None:  # type: ignore[type-arg]
    api = tenant.api
    await make_segment(api, timezone="Europe/Berlin")
    await add_event(api, "news", title="Newsletter", start="2026-03-10T10:00:00")
    await api.request("PUT", "/api/v1/contacts/c-1", json_body={"timezone": "Europe/Berlin"})
    hook = await add_hook(
        api,
        receiver.url,
        [
            "subscription.created",
            "subscription.activated",
            "subscription.unsubscribed",
            "trigger.delivered",
        ],
    )
    mine = await bound_subscription(client, api)
    trigger = (
        await api.post(
            "/api/v1/triggers", {"external_id": "c-1", "idempotency_key": "o-1", "event": ORDER}
        )
    ).body
    await settle(client)
    assert await deliver_due(client.app) == 1  # subscription.created only: no receipt before a poll
    await poll(client, mine["feed_url"], {"User-Agent": AGENTS["apple-ios"][0]})
    await settle(client)
    assert await deliver_due(client.app) == 2
    assert all(
        verify(hook["secret"], r.headers["Calserver-Signature"], r.body) for r in receiver.requests
    )
    by_type = {r.payload["type"]: r.payload for r in receiver.requests}
    assert set(by_type) == {"subscription.created", "subscription.activated", "trigger.delivered"}
    created = by_type["subscription.created"]["data"]
    assert (
        created["contact_external_id"] == "c-1"
        and created["segments"] == ["news"]
        and created["src"] == "crm"
    )
    assert by_type["subscription.activated"]["data"]["family"] == "apple-ios"
    delivered = by_type["trigger.delivered"]["data"]
    assert delivered["trigger_id"] == trigger["id"] and delivered["external_id"] == "c-1"
    assert (
        delivered["family"] == "apple-ios"
        and delivered["rings_alarms"] is True
        and delivered["sequence"] == 0
    )
    assert [r.headers["Calserver-Event-Id"] for r in receiver.requests] == [
        r.payload["id"] for r in receiver.requests
    ]
    assert await deliver_due(client.app) == 0  # each sent once
    async with client.post(f"/u/{mine['token']}") as answer:
        assert answer.status == 200, await answer.text()
    assert await deliver_due(client.app) == 1
    assert receiver.requests[-1].payload["type"] == "subscription.unsubscribed"
    assert receiver.requests[-1].payload["data"]["status"] == "unsubscribed"


async def test_a_missed_deadline_sends_trigger_undelivered(
    client: TestClient,
    tenant: Tenant,
    receiver: Receiver,
    clock: FrozenClock,  # type: ignore[type-arg]
) -> None:
    from datetime import timedelta

    api = tenant.api
    await make_segment(api)
    await api.request("PUT", "/api/v1/contacts/c-1", json_body={})
    hook = await add_hook(api, receiver.url, ["trigger.undelivered"])
    await bound_subscription(client, api)  # subscribed, but the calendar never polls
    body = {
        "external_id": "c-1",
        "idempotency_key": "o-1",
        "event": ORDER,
        "deliver_by": "2026-03-02T12:00:00+00:00",
    }
    trigger = (await api.post("/api/v1/triggers", body)).body
    await settle(client)
    assert await deliver_due(client.app) == 0  # not yet late
    clock.advance(timedelta(hours=4))
    await settle(client)
    assert await deliver_due(client.app) == 1
    [received] = receiver.requests
    assert verify(hook["secret"], received.headers["Calserver-Signature"], received.body)
    assert received.payload["type"] == "trigger.undelivered"
    assert (
        received.payload["data"]["trigger_id"] == trigger["id"]
        and received.payload["data"]["delivered_at"] is None
    )
