"""Webhooks: endpoints through the API, and deliveries to a real HTTP receiver on 127.0.0.1.

Deliveries are driven by calling ``deliver_due(app)`` with the FrozenClock moved by hand.
The background loop may run beside it (it does once create_app wires it in), but sends are
serialized per app and each message is claimed once, so what the receiver sees is the same.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from calserver.appkeys import SESSIONS
from calserver.clock import FrozenClock
from calserver.config import Config
from calserver.targets import check_target, is_public_address
from calserver.webhooks import ALLOW_PRIVATE, deliver_due, retry_delay, sign, webhook_sender
from storage.models import OutboxMessage, Workspace
from storage.outbox import EVENT_TYPES, enqueue
from storage.workspaces import add_key, create_workspace
from tests.conftest import START, Tenant
from tests.support.openapi import ApiClient
from web.api import webhooks as webhooks_api
from web.app import create_app

HOOKS = "/api/v1/webhooks"
TRIGGER_DATA = {
    "trigger_id": 7, "idempotency_key": "order-1", "external_id": "crm-42", "sequence": 0,
    "delivered_at": "2026-03-02T09:00:00+00:00", "family": "apple-ios", "rings_alarms": True,
}  # fmt: skip


# --- the app, with the webhook routes and sender until create_app has them ----------------


def make_app(
    config: Config, clock: FrozenClock, *, allow_private: bool = True, sender: bool = True
) -> web.Application:
    """create_app, plus the webhook routes and sender if create_app does not wire them yet.

    ``sender=False`` leaves the background sender out (a process that dies before sending);
    ``deliver_due`` then uses a one-off HTTP client.
    """
    app = create_app(config, clock=clock)
    if "webhooks" not in app.router.named_resources():
        r = app.router
        r.add_get(HOOKS, webhooks_api.list_webhooks, name="webhooks")
        r.add_post(HOOKS, webhooks_api.create_webhook, name="webhook_create")
        r.add_delete(HOOKS + "/{webhook_id}", webhooks_api.delete_webhook, name="webhook_delete")
        r.add_get(
            HOOKS + "/{webhook_id}/deliveries",
            webhooks_api.list_deliveries,
            name="webhook_deliveries",
        )
    if sender and webhook_sender not in app.cleanup_ctx:
        app.cleanup_ctx.append(webhook_sender)
    if not sender and webhook_sender in app.cleanup_ctx:
        app.cleanup_ctx.remove(webhook_sender)
    if allow_private:
        app[ALLOW_PRIVATE] = True
    return app


@pytest.fixture
async def client(aiohttp_client: Any, config: Config, clock: FrozenClock) -> TestClient:  # type: ignore[type-arg]
    """Overrides conftest's: the tenant fixtures then use this app (loopback receivers allowed)."""
    return await aiohttp_client(make_app(config, clock))


async def workspace_id(app: web.Application, slug: str) -> int:
    async with app[SESSIONS].begin() as session:
        found = await session.scalar(select(Workspace.id).where(Workspace.slug == slug))
    assert found is not None
    return found


async def queue(app: web.Application, slug: str, clock: FrozenClock, event_type: str) -> int:
    async with app[SESSIONS].begin() as session:
        return await enqueue(
            session, await workspace_id(app, slug), event_type, TRIGGER_DATA, clock.now()
        )


async def messages(app: web.Application) -> list[OutboxMessage]:
    async with app[SESSIONS].begin() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


# --- a real receiver ------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records every request and answers ``status``."""

    status: int = 200
    port: int = 0
    requests: list[Received] = field(default_factory=list)
    hang: asyncio.Event | None = None
    _server: TestServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def accepted_ids(self) -> list[str]:
        return [r.headers["Calserver-Event-Id"] for r in self.requests if r.path == "/hook"]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        server = TestServer(app, host="127.0.0.1", port=self.port)
        await server.start_server()
        self.port = server.port
        self._server = server

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.close()
            self._server = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(Received(request.path, dict(request.headers), await request.read()))
        if self.hang is not None:
            await self.hang.wait()
        if self.status == 302:
            raise web.HTTPFound("/elsewhere")
        return web.Response(status=self.status, text="ok")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    await receiver.start()
    yield receiver
    if receiver.hang is not None:
        receiver.hang.set()
    await receiver.stop()


async def add_hook(api: ApiClient, url: str, events: list[str] | None = None) -> dict[str, Any]:
    created = await api.post(HOOKS, {"url": url, "events": events or ["trigger.delivered"]})
    assert created.status == 201, created.text
    return dict(created.body)


def verify(secret: str, header: str, body: bytes) -> bool:
    """What a receiver does (docs/webhooks.md), written independently of calserver.webhooks."""
    parts = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), parts["v1"])


# --- signature and target checks (no store) -------------------------------------------------


def test_signature_is_hmac_sha256_over_timestamp_and_body() -> None:
    body = b'{"id":"abc"}'
    header = sign("whsec_k", 1_770_000_000, body)
    mac = hmac.new(b"whsec_k", b"1770000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1770000000,v1={mac}"
    assert verify("whsec_k", header, body)
    assert not verify("whsec_other", header, body)
    assert not verify("whsec_k", header, body + b" ")


def test_retry_delays_double_up_to_five_minutes() -> None:
    assert [retry_delay(n).total_seconds() for n in range(1, 9)] == [
        5, 10, 20, 40, 80, 160, 300, 300,
    ]  # fmt: skip
    assert retry_delay(10_000) == timedelta(minutes=5)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook", "http://10.0.0.1/", "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/", "http://0.0.0.0/", "http://192.168.1.10/",
        "http://172.16.0.1/", "http://100.64.0.1/", "http://224.0.0.1/", "http://[fe80::1]/",
        "http://[::ffff:127.0.0.1]/", "http://[fd00::1]/", "http://255.255.255.255/",
        "http://localhost:8080/",
    ],
)  # fmt: skip
async def test_private_targets_are_refused(url: str) -> None:
    assert await check_target(url, allow_private=False) is not None
    assert await check_target(url, allow_private=True) is None


@pytest.mark.parametrize(
    "url",
    ["ftp://8.8.8.8/", "file:///etc/passwd", "gopher://8.8.8.8/", "http://user:pw@example.com/",
     "https://token@8.8.8.8/", "/relative/path", "http:///nohost", "http://8.8.8.8/a b",
     "javascript:alert(1)"],
)  # fmt: skip
async def test_bad_urls_are_refused_even_when_private_targets_are_allowed(url: str) -> None:
    assert await check_target(url, allow_private=True) is not None


async def test_public_ip_literals_pass_without_any_lookup() -> None:
    assert await check_target("https://8.8.8.8/hook", allow_private=False) is None
    assert await check_target("http://[2001:4860:4860::8888]:8443/x", allow_private=False) is None
    assert is_public_address("1.1.1.1") and not is_public_address("not an address")


# --- endpoints through the API --------------------------------------------------------------


async def test_create_list_delete(tenant: Tenant, clock: FrozenClock) -> None:
    api = tenant.api
    created = await api.post(
        HOOKS, {"url": "http://127.0.0.1:9/hook",
                "events": ["trigger.delivered", "subscription.created", "trigger.delivered"]},
    )  # fmt: skip
    assert created.status == 201
    body = created.body
    assert set(body) == {"id", "url", "events", "active", "created_at", "secret"}
    assert body["url"] == "http://127.0.0.1:9/hook"
    assert body["events"] == ["subscription.created", "trigger.delivered"]  # canonical, once
    assert body["active"] is True
    assert body["created_at"] == clock.now().isoformat()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) >= 6 + 43

    second = await add_hook(api, "http://127.0.0.1:10/other", list(EVENT_TYPES))
    assert second["secret"] != body["secret"]

    listed = await api.get(HOOKS)
    assert listed.status == 200
    assert [item["id"] for item in listed.body["items"]] == [body["id"], second["id"]]
    # The secret is shown once, at creation.
    assert all("secret" not in item for item in listed.body["items"])
    assert "whsec_" not in listed.text
    assert listed.body["items"][0] == {k: v for k, v in body.items() if k != "secret"}

    assert (await api.delete(f"{HOOKS}/{body['id']}")).status == 204
    assert [item["id"] for item in (await api.get(HOOKS)).body["items"]] == [second["id"]]
    assert (await api.delete(f"{HOOKS}/{body['id']}")).status == 404
    assert (await api.get(f"{HOOKS}/{body['id']}/deliveries")).status == 404
    assert (await api.delete(f"{HOOKS}/nope")).status == 404


async def test_another_workspace_gets_404(tenant: Tenant, other_tenant: Tenant) -> None:
    mine = await add_hook(tenant.api, "http://127.0.0.1:9/hook")
    theirs = other_tenant.api
    assert (await theirs.get(HOOKS)).body["items"] == []
    for answer in (
        await theirs.delete(f"{HOOKS}/{mine['id']}"),
        await theirs.get(f"{HOOKS}/{mine['id']}/deliveries"),
    ):
        assert answer.status == 404
        assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert len((await tenant.api.get(HOOKS)).body["items"]) == 1


async def test_without_a_key_nothing_is_answered(client: TestClient) -> None:  # type: ignore[type-arg]
    anonymous = ApiClient(client, None)
    assert (await anonymous.get(HOOKS)).status == 401
    assert (await anonymous.post(HOOKS, {"url": "http://127.0.0.1/", "events": []})).status == 401


BAD_INPUT: list[tuple[str, Any, str]] = [
    ("url missing", {"events": ["trigger.delivered"]}, "#/url"),
    ("url not a string", {"url": 5, "events": ["trigger.delivered"]}, "#/url"),
    ("url empty", {"url": "", "events": ["trigger.delivered"]}, "#/url"),
    ("url too long", {"url": "https://8.8.8.8/" + "a" * 1990, "events": ["trigger.delivered"]}, "#/url"),
    ("ftp", {"url": "ftp://8.8.8.8/", "events": ["trigger.delivered"]}, "#/url"),
    ("user info", {"url": "http://user:pw@example.com/", "events": ["trigger.delivered"]}, "#/url"),
    ("not a URL", {"url": "hooks please", "events": ["trigger.delivered"]}, "#/url"),
    ("events missing", {"url": "https://8.8.8.8/"}, "#/events"),
    ("events empty", {"url": "https://8.8.8.8/", "events": []}, "#/events"),
    ("events a string", {"url": "https://8.8.8.8/", "events": "trigger.delivered"}, "#/events"),
    ("unknown event", {"url": "https://8.8.8.8/", "events": ["trigger.delivered", "trigger.exploded"]}, "#/events/1"),
    ("event not a string", {"url": "https://8.8.8.8/", "events": [{"type": "x"}]}, "#/events/0"),
    ("unknown field", {"url": "https://8.8.8.8/", "events": ["trigger.delivered"], "secret": "mine"}, "#/secret"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "body", "pointer"), BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
async def test_bad_input_names_the_field(
    api: ApiClient, case: str, body: Any, pointer: str
) -> None:
    answer = await api.post(HOOKS, body)
    assert answer.status == 422, (case, answer.text)
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert pointer in [error["pointer"] for error in answer.body["errors"]]
    assert (await api.get(HOOKS)).body["items"] == []


async def test_a_body_that_is_not_an_object_is_400(api: ApiClient) -> None:
    assert (await api.request("POST", HOOKS, data=b"[1, 2]")).status == 400
    assert (await api.request("POST", HOOKS, data=b"{nope")).status == 400


async def test_private_targets_are_refused_by_default(
    aiohttp_client: Any, config: Config, clock: FrozenClock, tenant: Tenant
) -> None:
    strict = ApiClient(
        await aiohttp_client(make_app(config, clock, allow_private=False, sender=False)),
        tenant.key,
    )
    refused = [
        "http://127.0.0.1:8080/hook", "http://10.0.0.1/", "http://[::1]/",
        "http://169.254.169.254/", "ftp://8.8.8.8/", "http://user:pw@example.com/",
    ]  # fmt: skip
    for url in refused:
        answer = await strict.post(HOOKS, {"url": url, "events": ["trigger.delivered"]})
        assert answer.status == 422, url
        assert [e["pointer"] for e in answer.body["errors"]] == ["#/url"], url
    assert (await strict.get(HOOKS)).body["items"] == []
    # A public address literal is fine (nothing is resolved or contacted).
    assert (
        await strict.post(HOOKS, {"url": "https://8.8.8.8/h", "events": ["trigger.delivered"]})
    ).status == 201


# --- deliveries -----------------------------------------------------------------------------


async def test_delivery_is_signed_and_carries_the_event_id(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    clock: FrozenClock,
    receiver: Receiver,
) -> None:
    hook = await add_hook(tenant.api, receiver.url, ["trigger.delivered", "subscription.created"])
    assert await queue(client.app, tenant.slug, clock, "trigger.delivered") == 1
    assert await queue(client.app, tenant.slug, clock, "trigger.undelivered") == 0  # not wanted

    await deliver_due(client.app)
    assert len(receiver.requests) == 1
    got = receiver.requests[0]
    payload = got.payload
    assert set(payload) == {"id", "type", "created_at", "data"}
    assert payload["type"] == "trigger.delivered" and payload["data"] == TRIGGER_DATA
    assert payload["created_at"] == clock.now().isoformat()
    assert got.headers["Calserver-Event-Id"] == payload["id"]
    assert got.headers["Calserver-Event-Type"] == "trigger.delivered"
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["User-Agent"].startswith("calserver-webhooks/")
    assert got.body == json.dumps(payload, separators=(",", ":")).encode()
    signature = got.headers["Calserver-Signature"]
    assert verify(hook["secret"], signature, got.body)
    assert signature.startswith(f"t={int(clock.now().timestamp())},v1=")
    assert not verify(hook["secret"], signature, got.body.replace(b"order-1", b"order-2"))

    [row] = await messages(client.app)
    assert row.event_id == payload["id"] and row.delivered_at == clock.now()
    deliveries = await tenant.api.get(f"{HOOKS}/{hook['id']}/deliveries")
    assert deliveries.status == 200
    assert deliveries.body["items"] == [{
        "event_id": payload["id"], "event_type": "trigger.delivered", "attempts": 0,
        "delivered_at": clock.now().isoformat(), "next_attempt_at": None, "last_error": "",
        "created_at": clock.now().isoformat(),
    }]  # fmt: skip

    clock.advance(timedelta(hours=1))
    await deliver_due(client.app)
    assert len(receiver.requests) == 1  # delivered means done


async def test_failures_are_retried_with_backoff_then_delivered_once(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    clock: FrozenClock,
    receiver: Receiver,
) -> None:
    hook = await add_hook(tenant.api, receiver.url)
    await queue(client.app, tenant.slug, clock, "trigger.delivered")
    receiver.status = 500

    await deliver_due(client.app)
    assert len(receiver.requests) == 1
    [row] = await messages(client.app)
    assert (row.attempts, row.last_error) == (1, "HTTP 500")
    assert row.next_attempt_at == clock.now() + timedelta(seconds=5)
    assert row.delivered_at is None

    await deliver_due(client.app)  # not due yet
    clock.advance(timedelta(seconds=4))
    await deliver_due(client.app)
    assert len(receiver.requests) == 1

    clock.advance(timedelta(seconds=1))
    await deliver_due(client.app)
    assert len(receiver.requests) == 2
    [row] = await messages(client.app)
    assert row.attempts == 2 and row.next_attempt_at == clock.now() + timedelta(seconds=10)

    receiver.status = 204
    clock.advance(timedelta(seconds=10))
    await deliver_due(client.app)
    clock.advance(timedelta(minutes=10))
    await deliver_due(client.app)

    ids = [r.headers["Calserver-Event-Id"] for r in receiver.requests]
    assert len(ids) == 3 and len(set(ids)) == 1 == len({r.payload["id"] for r in receiver.requests})
    [row] = await messages(client.app)
    assert row.delivered_at == clock.now() - timedelta(minutes=10)
    assert row.event_id == ids[0] and row.attempts == 2 and row.last_error == "HTTP 500"
    [item] = (await tenant.api.get(f"{HOOKS}/{hook['id']}/deliveries")).body["items"]
    assert item["attempts"] == 2 and item["delivered_at"] is not None
    assert item["next_attempt_at"] is None


async def test_redirects_are_not_followed(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    clock: FrozenClock,
    receiver: Receiver,
) -> None:
    await add_hook(tenant.api, receiver.url)
    await queue(client.app, tenant.slug, clock, "trigger.delivered")
    receiver.status = 302
    await deliver_due(client.app)
    assert [r.path for r in receiver.requests] == ["/hook"]
    [row] = await messages(client.app)
    assert row.delivered_at is None and row.last_error == "HTTP 302"


async def test_a_receiver_down_for_an_hour_gets_everything_once_it_is_back(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    clock: FrozenClock,
    receiver: Receiver,
) -> None:
    hook = await add_hook(tenant.api, receiver.url, list(EVENT_TYPES))
    await receiver.stop()  # connection refused from now on
    for event_type in ("trigger.delivered", "subscription.created", "trigger.undelivered"):
        await queue(client.app, tenant.slug, clock, event_type)

    down_since = clock.now()
    calls = 0
    while clock.now() < down_since + timedelta(hours=1):
        await deliver_due(client.app)
        calls += 1
        if calls == 6:  # more happens while it is down
            await queue(client.app, tenant.slug, clock, "subscription.lapsed")
        for row in await messages(client.app):
            assert row.delivered_at is None
            # Never more than five minutes away, whatever the number of failures.
            assert row.next_attempt_at - clock.now() <= timedelta(minutes=5)
        clock.advance(timedelta(minutes=4, seconds=30))
    assert calls >= 12
    rows = await messages(client.app)
    assert rows[0].attempts >= 8
    assert rows[0].last_error.startswith("connection error")
    assert all(r.last_error for r in rows)

    await receiver.start()  # the same port
    back = clock.now()
    clock.advance(timedelta(minutes=5))
    await deliver_due(client.app)

    rows = await messages(client.app)
    assert all(row.delivered_at is not None for row in rows)
    assert all(row.delivered_at - back <= timedelta(minutes=5) for row in rows if row.delivered_at)
    ids = receiver.accepted_ids()
    assert sorted(ids) == sorted(row.event_id for row in rows) and len(set(ids)) == len(ids) == 4
    assert [r.payload["id"] for r in receiver.requests] == ids

    clock.advance(timedelta(hours=1))
    await deliver_due(client.app)
    assert len(receiver.requests) == 4  # each exactly once
    items = (await tenant.api.get(f"{HOOKS}/{hook['id']}/deliveries")).body["items"]
    assert [i["event_id"] for i in items] == [r.event_id for r in reversed(rows)]  # newest first


async def test_gives_up_after_72_hours(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    clock: FrozenClock,
    receiver: Receiver,
) -> None:
    hook = await add_hook(tenant.api, receiver.url)
    await queue(client.app, tenant.slug, clock, "trigger.delivered")
    receiver.status = 503
    await deliver_due(client.app)
    clock.advance(timedelta(hours=71, minutes=59))
    await deliver_due(client.app)
    assert len(receiver.requests) == 2

    clock.advance(timedelta(minutes=6))
    receiver.status = 200
    await deliver_due(client.app)
    assert len(receiver.requests) == 2  # not tried again
    [row] = await messages(client.app)
    assert row.delivered_at is None and row.last_error == "gave up" and row.attempts == 2
    clock.advance(timedelta(days=30))
    await deliver_due(client.app)
    assert len(receiver.requests) == 2
    [item] = (await tenant.api.get(f"{HOOKS}/{hook['id']}/deliveries")).body["items"]
    assert item["last_error"] == "gave up" and item["next_attempt_at"] is None
    assert item["delivered_at"] is None


async def test_a_private_target_is_refused_again_at_send_time(
    aiohttp_client: Any,
    client: TestClient,  # type: ignore[type-arg]
    config: Config,
    tenant: Tenant,
    clock: FrozenClock,
    receiver: Receiver,
) -> None:
    # Created while private targets were allowed; sent by a process where they are not.
    await add_hook(tenant.api, receiver.url)
    await queue(client.app, tenant.slug, clock, "trigger.delivered")
    strict = await aiohttp_client(make_app(config, clock, allow_private=False, sender=False))
    await deliver_due(strict.app)
    assert receiver.requests == []
    [row] = await messages(client.app)
    assert (row.attempts, row.last_error, row.delivered_at) == (1, "target refused", None)


async def test_a_deleted_endpoint_gets_nothing_more(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    clock: FrozenClock,
    receiver: Receiver,
) -> None:
    hook = await add_hook(tenant.api, receiver.url)
    await queue(client.app, tenant.slug, clock, "trigger.delivered")
    assert (await tenant.api.delete(f"{HOOKS}/{hook['id']}")).status == 204
    await deliver_due(client.app)
    assert receiver.requests == [] and await messages(client.app) == []
    assert await queue(client.app, tenant.slug, clock, "trigger.delivered") == 0


async def _tenant_on(app: web.Application, slug: str) -> str:
    async with app[SESSIONS].begin() as session:
        workspace = await create_workspace(session, slug, f"{slug} shop", START)
        return await add_key(session, workspace, "tests", START)


async def test_messages_committed_before_a_crash_are_sent_by_the_next_process(
    aiohttp_client: Any, config: Config, clock: FrozenClock, receiver: Receiver
) -> None:
    # The first process queues and commits, then dies before its sender gets to them.
    first = await aiohttp_client(make_app(config, clock, sender=False))
    key = await _tenant_on(first.app, "acme")
    await add_hook(ApiClient(first, key), receiver.url, list(EVENT_TYPES))
    await queue(first.app, "acme", clock, "trigger.delivered")
    await queue(first.app, "acme", clock, "subscription.created")
    queued = [row.event_id for row in await messages(first.app)]
    await first.close()
    assert receiver.requests == []

    # A fresh process on the same database (its background sender may start on them at once).
    second = await aiohttp_client(make_app(config, clock))
    await deliver_due(second.app)
    assert sorted(receiver.accepted_ids()) == sorted(queued)
    assert [r.payload["id"] for r in receiver.requests] == receiver.accepted_ids()
    assert all(row.delivered_at is not None for row in await messages(second.app))
    clock.advance(timedelta(hours=1))
    await deliver_due(second.app)
    assert len(receiver.requests) == 2


async def test_a_crash_mid_send_resends_only_that_message_with_the_same_id(
    aiohttp_client: Any, config: Config, clock: FrozenClock, receiver: Receiver
) -> None:
    first = await aiohttp_client(make_app(config, clock, sender=False))
    key = await _tenant_on(first.app, "acme")
    await add_hook(ApiClient(first, key), receiver.url)
    await queue(first.app, "acme", clock, "trigger.delivered")
    await queue(first.app, "acme", clock, "trigger.delivered")
    in_flight, waiting = [row.event_id for row in await messages(first.app)]

    receiver.hang = asyncio.Event()
    sending = asyncio.create_task(deliver_due(first.app))
    for _ in range(500):
        if receiver.requests:
            break
        await asyncio.sleep(0.01)
    sending.cancel()  # the process dies with the first message in flight
    with pytest.raises(asyncio.CancelledError):
        await sending
    receiver.hang.set()
    receiver.hang = None
    await first.close()
    assert receiver.accepted_ids() == [in_flight]

    second = await aiohttp_client(make_app(config, clock))
    await deliver_due(second.app)
    # The unsent one goes at once; the one in flight waits out its lease, then goes again.
    assert receiver.accepted_ids() == [in_flight, waiting]
    clock.advance(timedelta(minutes=2))
    await deliver_due(second.app)
    assert receiver.accepted_ids() == [in_flight, waiting, in_flight]
    rows = await messages(second.app)
    assert all(row.delivered_at is not None for row in rows)
    assert [row.attempts for row in rows] == [0, 0]


async def test_the_background_sender_delivers_on_its_own(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    clock: FrozenClock,
    receiver: Receiver,
) -> None:
    await add_hook(tenant.api, receiver.url)
    await queue(client.app, tenant.slug, clock, "trigger.delivered")
    for _ in range(100):  # it polls every webhook_poll_seconds (1 s by default)
        if receiver.requests:
            break
        await asyncio.sleep(0.05)
    [row] = await messages(client.app)
    assert receiver.accepted_ids() == [row.event_id]
    for _ in range(100):
        if (await messages(client.app))[0].delivered_at is not None:
            break
        await asyncio.sleep(0.05)
    assert (await messages(client.app))[0].delivered_at == clock.now()


async def test_a_restarted_receiver_is_reached_at_once(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    clock: FrozenClock,
    receiver: Receiver,
) -> None:
    await add_hook(tenant.api, receiver.url)
    await queue(client.app, tenant.slug, clock, "trigger.delivered")
    await deliver_due(client.app)  # leaves a kept-alive connection behind
    await receiver.stop()
    await receiver.start()
    await queue(client.app, tenant.slug, clock, "trigger.delivered")
    await deliver_due(client.app)
    rows = await messages(client.app)
    assert [row.last_error for row in rows] == ["", ""]
    assert receiver.accepted_ids() == [row.event_id for row in rows]


async def test_private_targets_can_be_allowed_for_one_workspace(
    aiohttp_client: Any, config: Config, clock: FrozenClock, receiver: Receiver
) -> None:
    from tests.conftest import _tenant

    app = make_app(
        config.replace(webhook_private_workspaces=["acme"]),
        clock,
        allow_private=False,
        sender=False,
    )
    client = await aiohttp_client(app)
    acme, globex = await _tenant(client, "acme"), await _tenant(client, "globex")
    assert (
        await globex.api.post(HOOKS, {"url": receiver.url, "events": ["trigger.delivered"]})
    ).status == 422
    await add_hook(acme.api, receiver.url)
    assert await queue(app, "acme", clock, "trigger.delivered") == 1
    assert await deliver_due(app) == 1  # the connect-time check allows it for acme too
    assert len(receiver.accepted_ids()) == 1
