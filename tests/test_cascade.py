"""The cascade against real peers on 127.0.0.1: an SMS gateway, Telegram, a messaging
platform and an SMTP server, with a controllable clock. Every case runs on both stores."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from calserver.appkeys import CASCADE, CLOCK, CONFIG, SESSIONS
from calserver.cascade.worker import Worker, WorkerSettings
from calserver.clock import FrozenClock
from calserver.config import Config
from storage.models import Trigger
from tests.conftest import Tenant
from tests.support.agents import AGENTS
from tests.support.cascade import push, report_url, states, steps, tick, write_channels
from tests.support.feeds import add_event, make_segment, poll
from tests.support.openapi import ApiClient
from tests.support.peers import Mailbox, Platform, SmsGateway, Telegram, post_report
from tests.support.processes import run
from tests.support.telemetry import settle
from tests.test_triggers import bound_subscription
from web.app import create_app

# ORDER's alarm (1 h before 15:00 Berlin = 13:00Z) minus the default 15-minute margin.
DELIVER_BY = datetime(2026, 3, 6, 12, 45, tzinfo=UTC)
FULL = [{"channel": "calendar"}, {"channel": "telegram", "wait_seconds": 600},
        {"channel": "sms", "wait_seconds": 900}, {"channel": "email", "wait_seconds": 0}]  # fmt: skip


@pytest.fixture
async def peers(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    gateway, telegram, platform, mailbox = SmsGateway(), Telegram(), Platform(), Mailbox()
    for peer in (gateway, telegram, platform):
        await peer.start()
    mailbox.controller.start()
    yield {"sms": gateway, "telegram": telegram, "platform": platform, "email": mailbox}
    mailbox.controller.stop()
    for peer in (gateway, telegram, platform):
        await peer.stop()


@pytest.fixture
async def client(
    aiohttp_client: Any, config: Config, clock: FrozenClock, peers: dict[str, Any], tmp_path: Path
) -> TestClient:  # type: ignore[type-arg]
    path = write_channels(tmp_path / "channels.toml", {
        "sms": peers["sms"].settings(), "telegram": peers["telegram"].settings(),
        "bridge": peers["platform"].settings(), "email": peers["email"].settings(),
    })  # fmt: skip
    # Many subscriptions come from one test address: no per-address limit here.
    settings = config.replace(channels_file=str(path), cascade_worker=False, subscribe_rate_limit=0)
    app = create_app(settings, clock=clock)
    return await aiohttp_client(app)


async def _crm(api: ApiClient, steps_: list[dict[str, Any]], **contact: Any) -> None:
    await make_segment(api, timezone="Europe/Berlin")
    await add_event(api, "news", title="Newsletter", start="2026-03-10T10:00:00")
    fields = {"phone": "+4915112345678", "email": "anna@example.com", "telegram_chat_id": "4242",
              "timezone": "Europe/Berlin", **contact}  # fmt: skip
    assert (await api.request("PUT", "/api/v1/contacts/c-1", json_body=fields)).status == 201
    answer = await api.request("PUT", "/api/v1/cascade/policy", json_body={"steps": steps_})
    assert answer.status == 200, answer.text


async def test_subscriber_who_polls_in_time_gets_no_other_message(
    client: TestClient, tenant: Tenant, peers: dict[str, Any]
) -> None:  # type: ignore[type-arg]
    api = tenant.api
    await _crm(api, [{"channel": "calendar"}, {"channel": "sms"}])
    mine = await bound_subscription(client, api)
    trigger = await push(api, "o-1")
    await tick(client)
    assert await states(api, trigger) == {"calendar": "pending:", "sms": "pending:"}
    await poll(client, mine["feed_url"], headers={"User-Agent": AGENTS["apple-ios"][0]})
    await settle(client)  # the receipt nudges the cascade
    assert await tick(client) == 1
    assert await states(api, trigger) == {
        "calendar": "delivered:receipt", "sms": "skipped:delivered_by_calendar"}  # fmt: skip
    client.app[CLOCK].set(DELIVER_BY + timedelta(hours=1))
    assert await tick(client) == 0  # the cascade is over: nothing due
    assert sum(peers["sms"].submissions.values()) == 0
    report = (await api.get("/api/v1/reports/cascade?from=2026-03-01&to=2026-03-31")).body
    assert report["delivered_by_calendar"] == 1 and report["cost_total"] == 0
    assert report["all_sms_cost"] == 2.4 and report["saving"] == 2.4


async def test_silent_calendar_falls_to_sms_and_a_report_confirms(
    client: TestClient, tenant: Tenant, peers: dict[str, Any], clock: FrozenClock
) -> None:  # type: ignore[type-arg]
    api = tenant.api
    await _crm(api, [{"channel": "calendar"}, {"channel": "sms", "wait_seconds": 900},
                     {"channel": "email", "wait_seconds": 0}])  # fmt: skip
    await bound_subscription(client, api)  # subscribed, but the calendar never polls
    trigger = await push(api, "o-1")
    await tick(client)
    clock.set(DELIVER_BY - timedelta(seconds=1))
    assert await tick(client) == 0  # still waiting for the calendar
    clock.set(DELIVER_BY + timedelta(seconds=1))
    assert await tick(client) == 1
    now = await steps(api, trigger)
    assert now["calendar"]["state"] == "expired" and now["sms"]["state"] == "sent"
    gateway: SmsGateway = peers["sms"]
    key = "acme:o-1:sms"
    assert gateway.sent == {key: 1} and gateway.bodies[key]["to"] == "+4915112345678"
    assert "Order 42 ready for pickup: Fri, 6 March, 15:00" in gateway.bodies[key]["text"]
    url = await report_url(client, api, "sms")
    status, body = await post_report(url, {"id": gateway.ids[key], "status": "DELIVRD"})
    assert status == 200 and body == {"recorded": "delivered", "late": False}
    await tick(client)
    assert await states(api, trigger) == {"calendar": "expired:not_polled_in_time",
        "sms": "delivered:report", "email": "skipped:delivered_earlier"}  # fmt: skip
    report = (await api.get("/api/v1/reports/cascade?from=2026-03-01&to=2026-03-31")).body
    assert report["channels"] == [{"channel": "sms", "messages": 1, "delivered": 1, "failed": 0,
                                   "late_reports": 0, "cost": 2.4}]  # fmt: skip
    assert report["reached_by_channel"] == 1 and report["saving"] == 0


async def test_non_subscriber_starts_at_the_first_real_channel(
    client: TestClient, tenant: Tenant, peers: dict[str, Any]
) -> None:  # type: ignore[type-arg]
    api = tenant.api
    await _crm(api, FULL)
    trigger = await push(api, "o-1")
    assert await tick(client) == 1  # at once: no subscription to wait for
    assert await states(api, trigger) == {
        "calendar": "skipped:no_subscription",
        "telegram": "delivered:",
        "sms": "skipped:delivered_earlier",
        "email": "skipped:delivered_earlier",
    }
    assert [m["chat_id"] for m in peers["telegram"].messages] == ["4242"]
    assert sum(peers["sms"].submissions.values()) == 0
    # Without a Telegram chat id the contact starts at SMS.
    await api.request("PUT", "/api/v1/contacts/c-2", json_body={"phone": "+4915100000002"})
    second = await push(api, "o-2", external_id="c-2")
    await tick(client)
    assert await states(api, second) == {"calendar": "skipped:no_subscription",
        "telegram": "skipped:no_address", "sms": "sent:", "email": "pending:"}  # fmt: skip


async def test_gateway_5xx_is_retried_with_backoff_then_falls_back_to_email(
    client: TestClient, tenant: Tenant, peers: dict[str, Any], clock: FrozenClock
) -> None:  # type: ignore[type-arg]
    api = tenant.api
    gateway: SmsGateway = peers["sms"]
    await _crm(api, [{"channel": "sms"}, {"channel": "email", "wait_seconds": 0}])
    gateway.behaviour.failures_left = 2
    trigger = await push(api, "o-1")
    await tick(client)
    first = (await steps(api, trigger))["sms"]
    assert first["state"] == "pending" and first["reason"].startswith("HTTP 503")
    assert datetime.fromisoformat(first["due_at"]) == clock.now() + timedelta(seconds=5)
    assert await tick(client) == 0  # not due yet
    clock.advance(timedelta(seconds=5))
    await tick(client)
    second = (await steps(api, trigger))["sms"]
    assert datetime.fromisoformat(second["due_at"]) == clock.now() + timedelta(seconds=10)
    clock.advance(timedelta(seconds=10))
    await tick(client)
    assert (await steps(api, trigger))["sms"]["state"] == "sent"
    assert gateway.submissions == {"acme:o-1:sms": 3} and gateway.sent == {"acme:o-1:sms": 1}
    # A gateway down for good: five attempts, then e-mail with the event attached.
    gateway.behaviour.mode = "5xx"
    other = await push(api, "o-2")
    for _ in range(5):
        await tick(client)
        clock.advance(timedelta(minutes=5))
    await tick(client)
    assert await states(api, other) == {"sms": "failed:HTTP 503: {\"error\": \"down\"}",
                                        "email": "sent:"}  # fmt: skip
    assert gateway.submissions["acme:o-2:sms"] == 5
    mail = email.message_from_bytes(
        peers["email"].messages[-1].content, policy=email.policy.default
    )
    attached = next(part for part in mail.walk() if part.get_content_type() == "text/calendar")
    event = icalendar.Calendar.from_ical(attached.get_content()).walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == "Order 42 ready for pickup"
    assert event.decoded("DTSTART").astimezone(UTC) == datetime(2026, 3, 6, 14, 0, tzinfo=UTC)


async def test_late_report_after_fallback_sends_nothing_twice(
    client: TestClient, tenant: Tenant, peers: dict[str, Any], clock: FrozenClock
) -> None:  # type: ignore[type-arg]
    api = tenant.api
    await _crm(api, [{"channel": "sms", "wait_seconds": 600}, {"channel": "bridge"}])
    trigger = await push(api, "o-1")
    await tick(client)
    clock.advance(timedelta(seconds=601))
    await tick(client)  # no report in 10 minutes: the platform takes over
    assert len(peers["platform"].messages) == 1
    data = peers["platform"].messages[0]["data"]  # the trigger as JSON: the bridge's alone
    assert data["idempotency_key"] == "o-1" and data["external_id"] == "c-1"
    assert data["event"]["title"] == "Order 42 ready for pickup"
    assert (data["event"]["local_time"], data["event"]["timezone"]) == ("2026-03-06 15:00",
                                                                        "Europe/Berlin")  # fmt: skip
    gateway: SmsGateway = peers["sms"]
    url = await report_url(client, api, "sms")
    status, body = await post_report(
        url, {"id": gateway.ids["acme:o-1:sms"], "status": "delivered"}
    )
    assert status == 200 and body == {"recorded": "delivered", "late": True}
    for _ in range(3):
        clock.advance(timedelta(minutes=20))
        await tick(client)
    now = await steps(api, trigger)
    assert now["sms"]["state"] == "delivered" and now["sms"]["late_report"] == "delivered"
    assert gateway.submissions == {"acme:o-1:sms": 1} and len(peers["platform"].messages) == 1
    report = (await api.get("/api/v1/reports/cascade?from=2026-03-01&to=2026-03-31")).body
    assert {c["channel"]: c["late_reports"] for c in report["channels"]} == {"bridge": 0, "sms": 1}
    # The platform reports an hour later, through its own report URL: past the step's
    # 15-minute wait, so late, but the bridge step is delivered.
    bridge_url = await report_url(client, api, "bridge")
    status, body = await post_report(bridge_url, {"id": "p-1", "status": "delivered"})
    assert status == 200 and body == {"recorded": "delivered", "late": True}
    assert (await steps(api, trigger))["bridge"]["state"] == "delivered"


async def test_quiet_hours_defer_and_a_late_receipt_cancels_the_unsent_step(
    client: TestClient, tenant: Tenant, peers: dict[str, Any], clock: FrozenClock
) -> None:  # type: ignore[type-arg]
    api = tenant.api
    await _crm(api, [{"channel": "calendar"}, {"channel": "sms"}], timezone="Asia/Vladivostok")
    mine = await bound_subscription(client, api)
    event = {"title": "Webinar", "start": "2026-03-07T10:00:00", "alarms": [{"before": "PT12H"}]}
    answer = await api.post("/api/v1/triggers",
                            {"external_id": "c-1", "idempotency_key": "w-1", "event": event})  # fmt: skip
    trigger = answer.body["id"]
    # The alarm: 22:00 Vladivostok on the 6th = 12:00Z; deliver_by 15 minutes earlier. By
    # 12:00:01Z the calendar has not polled, and it is night there (quiet 22:00-08:00).
    clock.set(datetime(2026, 3, 6, 12, 0, 1, tzinfo=UTC))
    await tick(client)
    sms = (await steps(api, trigger))["sms"]
    morning = datetime(2026, 3, 6, 22, 0, tzinfo=UTC)  # 08:00 on the 7th in Vladivostok
    assert sms["state"] == "pending" and sms["reason"] == "quiet_hours"
    assert datetime.fromisoformat(sms["due_at"]) == morning
    clock.set(morning - timedelta(minutes=30))
    assert await tick(client) == 0
    await poll(client, mine["feed_url"])  # the phone wakes up and polls, late
    await settle(client)
    await tick(client)
    assert await states(api, trigger) == {"calendar": "delivered:late_receipt",
                                          "sms": "skipped:delivered_by_calendar"}  # fmt: skip
    clock.set(morning + timedelta(minutes=1))
    await tick(client)
    assert sum(peers["sms"].submissions.values()) == 0


@pytest.mark.parametrize("action", ["defer", "drop"])
async def test_frequency_cap_defers_or_drops(
    client: TestClient, tenant: Tenant, peers: dict[str, Any], clock: FrozenClock, action: str
) -> None:  # type: ignore[type-arg]
    api = tenant.api
    await _crm(api, [{"channel": "sms"}])
    cap = {"max": 2, "period_seconds": 86400, "action": action}
    await api.request("PUT", "/api/v1/cascade/policy",
                      json_body={"steps": [{"channel": "sms"}], "frequency_cap": cap})  # fmt: skip
    ids = []
    for n in range(3):
        ids.append(await push(api, f"o-{n}"))
        await tick(client)
        clock.advance(timedelta(hours=1))
    third = (await steps(api, ids[2]))["sms"]
    assert sum(peers["sms"].sent.values()) == 2
    if action == "drop":
        assert (third["state"], third["reason"]) == ("skipped", "frequency_cap")
        return
    assert (third["state"], third["reason"]) == ("pending", "frequency_cap")
    release = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)  # the first message's time + 1 day
    assert datetime.fromisoformat(third["due_at"]) == release
    clock.set(release)
    await tick(client)
    assert (await steps(api, ids[2]))["sms"]["state"] == "sent"


async def test_opt_outs_unsubscribed_and_google_only_critical(
    client: TestClient, tenant: Tenant, peers: dict[str, Any]
) -> None:  # type: ignore[type-arg]
    api = tenant.api
    await _crm(api, [{"channel": "calendar"}, {"channel": "sms"}, {"channel": "email", "wait_seconds": 0}],
               opt_out=["sms"])  # fmt: skip
    trigger = await push(api, "o-1")
    await tick(client)
    assert await states(api, trigger) == {"calendar": "skipped:no_subscription",
        "sms": "skipped:opted_out", "email": "sent:"}  # fmt: skip
    # A subscriber whose only calendar is Google (which drops alarms): a critical trigger
    # skips the calendar, an ordinary one waits for it.
    await api.request("PUT", "/api/v1/contacts/c-2", json_body={"phone": "+4915100000002"})
    google = await bound_subscription(client, api, "c-2")
    await poll(client, google["feed_url"], headers={"User-Agent": AGENTS["google"][0]})
    await settle(client)
    critical = await push(api, "o-2", external_id="c-2", critical=True)
    ordinary = await push(api, "o-3", external_id="c-2")
    await tick(client)
    assert (await states(api, critical))["calendar"] == "skipped:alarms_dropped"
    assert (await states(api, critical))["sms"] == "sent:"
    assert (await states(api, ordinary))["calendar"] == "pending:"
    # Unsubscribed: the calendar step is skipped, the transactional SMS still goes.
    async with client.post(f"/u/{google['token']}") as answer:
        assert answer.status in (200, 303)
    later = await push(api, "o-4", external_id="c-2")
    await tick(client)
    assert await states(api, later) == {"calendar": "skipped:no_subscription", "sms": "sent:",
                                        "email": "pending:"}  # fmt: skip


async def test_cancel_stops_the_cascade_and_trigger_override(
    client: TestClient, tenant: Tenant, peers: dict[str, Any], clock: FrozenClock
) -> None:  # type: ignore[type-arg]
    api = tenant.api
    await _crm(api, [{"channel": "calendar"}, {"channel": "sms"}])
    await bound_subscription(client, api)
    trigger = await push(api, "o-1")
    await tick(client)
    assert (await api.request("DELETE", f"/api/v1/triggers/{trigger}")).status == 200
    clock.set(DELIVER_BY + timedelta(minutes=1))
    await tick(client)
    assert await states(api, trigger) == {"calendar": "skipped:trigger_cancelled",
                                          "sms": "skipped:trigger_cancelled"}  # fmt: skip
    # This trigger's own steps: straight to Telegram; and one with no cascade at all.
    own = await push(api, "o-2", cascade={"steps": [{"channel": "telegram"}]})
    none = await push(api, "o-3", cascade=False)
    await tick(client)
    assert await states(api, own) == {"telegram": "delivered:"}
    assert await states(api, none) == {}
    assert sum(peers["sms"].submissions.values()) == 0


async def test_policy_and_trigger_bad_input_names_each_field(
    client: TestClient, tenant: Tenant
) -> None:  # type: ignore[type-arg]
    api = tenant.api
    bad = {"steps": [{"channel": "calendar"}, {"channel": "pigeon"}, {"channel": "sms", "price": -1},
                     {"channel": "calendar"}, {"channel": "email", "wait_seconds": 10**9}],
           "frequency_cap": {"max": 0, "period_seconds": 86400, "action": "shout"}, "extra": 1}  # fmt: skip
    answer = await api.request("PUT", "/api/v1/cascade/policy", json_body=bad)
    assert answer.status == 422
    pointers = {error["pointer"] for error in answer.body["errors"]}
    assert pointers == {"#/steps/1/channel", "#/steps/2/price", "#/steps/3/channel",
                        "#/steps/4/wait_seconds", "#/frequency_cap/max", "#/frequency_cap/action",
                        "#/extra"}  # fmt: skip
    assert (await api.get("/api/v1/cascade")).body["policy"] is None  # nothing stored
    await api.request("PUT", "/api/v1/contacts/c-1", json_body={"phone": "+4915100000001"})
    body = {"external_id": "c-1", "idempotency_key": "k", "event": {"title": "x"},
            "cascade": {"steps": [{"channel": "fax"}]}}  # fmt: skip
    answer = await api.post("/api/v1/triggers", body)
    assert answer.status == 422
    assert "#/cascade/steps/0/channel" in {e["pointer"] for e in answer.body["errors"]}
    assert (await api.request("PUT", "/api/v1/contacts/c-1",
                              json_body={"opt_out": ["SMS!"]})).status == 422  # fmt: skip
    channels = (await api.get("/api/v1/cascade")).body["channels"]
    assert {c["name"] for c in channels} == {"sms", "telegram", "bridge", "email"}
    assert "secret" not in str(channels) and "123:abc" not in str(channels)


async def test_delivery_report_endpoint_refuses_what_it_cannot_match(
    client: TestClient, tenant: Tenant
) -> None:  # type: ignore[type-arg]
    local = await report_url(client, tenant.api, "sms")
    assert (await post_report(local, {"id": "m-unknown", "status": "delivered"}))[0] == 404
    assert (await post_report(local, {"status": "delivered"}))[0] == 422
    forged = local.rsplit("/", 1)[0] + "/not-a-token"
    assert (await post_report(forged, {"id": "m-1", "status": "delivered"}))[0] == 404
    telegram_url = local.replace("/dlr/sms/", "/dlr/telegram/")  # a token is per channel
    assert (await post_report(telegram_url, {"id": "m-1", "status": "delivered"}))[0] == 404


async def test_two_workers_send_each_step_once(
    client: TestClient,
    tenant: Tenant,
    peers: dict[str, Any],
    clock: FrozenClock,
) -> None:  # type: ignore[type-arg]
    """Two servers (each its own engine and worker) on one database, racing over 120
    triggers: every message goes out once. On PostgreSQL the claim skips rows the other
    worker has locked; on SQLite writes take turns."""
    api = tenant.api
    await _crm(api, [{"channel": "sms", "wait_seconds": 0}])
    gateway: SmsGateway = peers["sms"]
    gateway.behaviour.delay = 0.01
    for n in range(120):
        await push(api, f"o-{n}")
    settings = client.app[CONFIG].replace(cascade_batch_size=10)
    second = create_app(settings, clock=clock)
    runner = web.AppRunner(second)
    await runner.setup()  # runs cleanup_ctx: engine, worker
    try:
        first_worker, second_worker = client.app[CASCADE], second[CASCADE]
        first_worker.settings = second_worker.settings = WorkerSettings(
            batch_size=10, concurrency=4
        )
        handled = [0, 0]

        async def drain(index: int, worker: Worker) -> None:
            while (count := await worker.run_once()) or await _due(client):
                handled[index] += count
                await asyncio.sleep(0)

        await asyncio.gather(drain(0, first_worker), drain(1, second_worker))
    finally:
        await runner.cleanup()
    assert len(gateway.sent) == 120 and set(gateway.sent.values()) == {1}
    assert set(gateway.submissions.values()) == {1}
    assert handled[0] > 0 and handled[1] > 0, handled  # both took part


async def _due(client: TestClient) -> bool:  # type: ignore[type-arg]
    async with client.app[SESSIONS].begin() as session:
        return bool(
            await session.scalar(select(func.count()).where(Trigger.cascade_at.is_not(None)))
        )


async def test_timeouts_retry_under_the_same_key_and_a_blocked_bot_falls_through(
    client: TestClient, tenant: Tenant, peers: dict[str, Any], clock: FrozenClock
) -> None:  # type: ignore[type-arg]
    api = tenant.api
    await _crm(api, [{"channel": "telegram"}, {"channel": "sms", "wait_seconds": 0}])
    peers["telegram"].behaviour.mode = "4xx"  # the client blocked the bot
    gateway: SmsGateway = peers["sms"]
    gateway.behaviour.delay = 2.5  # longer than the channel's 2-second timeout
    trigger = await push(api, "o-1")
    await tick(client, 2)  # Telegram fails; the next round goes on to SMS
    now = await steps(api, trigger)
    assert now["telegram"]["state"] == "failed" and "403" in now["telegram"]["reason"]
    assert now["sms"]["state"] == "pending" and now["sms"]["reason"] == "timed out after 2 s"
    gateway.behaviour.delay = 0
    clock.advance(timedelta(seconds=5))
    await tick(client)
    assert (await states(api, trigger))["sms"] == "sent:"
    # The gateway got the first request too (its answer was late): the repeat carried the
    # same key, so the client got one SMS.
    assert gateway.submissions == {"acme:o-1:sms": 2} and gateway.sent == {"acme:o-1:sms": 1}


def test_a_bad_channels_file_stops_the_worker_naming_the_setting(tmp_path: Path) -> None:
    path = write_channels(
        tmp_path / "channels.toml", {"sms": {"type": "sms_http", "url": "ftp://x"}}
    )
    env = {**os.environ, "CALSERVER_DATA_DIR": str(tmp_path), "CALSERVER_CHANNELS_FILE": str(path)}
    done = run(["worker"], env)
    assert done.returncode == 2 and "sms" in done.stderr and "url must be an http" in done.stderr


async def test_without_a_policy_the_worker_never_sees_a_trigger(
    client: TestClient, tenant: Tenant, peers: dict[str, Any]
) -> None:  # type: ignore[type-arg]
    api = tenant.api
    await api.request("PUT", "/api/v1/contacts/c-1", json_body={"phone": "+4915100000001"})
    before = await push(api, "o-1")
    assert await tick(client) == 0 and await states(api, before) == {}
    # A policy applies to the triggers created while it is set.
    await api.request("PUT", "/api/v1/cascade/policy", json_body={"steps": [{"channel": "sms"}]})
    after = await push(api, "o-2")
    assert await tick(client) == 1
    assert await states(api, before) == {} and await states(api, after) == {"sms": "sent:"}
    await api.request("DELETE", "/api/v1/cascade/policy")
    later = await push(api, "o-3")
    assert await tick(client) == 0  # o-2 waits for its report; o-3 has no cascade
    assert await states(api, later) == {}


@pytest.mark.parametrize("dies", ["before_the_call", "after_the_call", "then_cancelled"])
async def test_a_worker_dying_mid_send_is_reconciled_not_resent(
    client: TestClient,
    tenant: Tenant,
    peers: dict[str, Any],
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
    dies: str,
) -> None:  # type: ignore[type-arg]
    api = tenant.api
    await _crm(api, [{"channel": "sms", "wait_seconds": 0}])
    gateway: SmsGateway = peers["sms"]
    worker = client.app[CASCADE]
    trigger = await push(api, "o-1")

    async def crash(*args: Any) -> None:
        raise RuntimeError("killed")

    spot = "_send_all" if dies != "after_the_call" else "_record"
    with monkeypatch.context() as patch:
        patch.setattr(worker, spot, crash)
        with pytest.raises(RuntimeError):
            await worker.run_once()
    assert (await states(api, trigger)) == {"sms": "sending:"}
    assert sum(gateway.submissions.values()) == (1 if dies == "after_the_call" else 0)
    if dies == "then_cancelled":
        assert (await api.request("DELETE", f"/api/v1/triggers/{trigger}")).status == 200
    assert await tick(client) == 0  # the dead worker's lease still holds the trigger
    clock.advance(timedelta(seconds=61))
    await tick(client)
    expected = {"before_the_call": "sent:", "after_the_call": "sent:",
                "then_cancelled": "failed:trigger_cancelled"}  # fmt: skip
    assert await states(api, trigger) == {"sms": expected[dies]}
    assert gateway.lookups == {"acme:o-1:sms": 1}  # asked first
    assert sum(gateway.submissions.values()) == (0 if dies == "then_cancelled" else 1)


async def test_a_batch_of_sends_ends_inside_the_lease_and_what_it_cut_short_is_retried(
    client: TestClient, tenant: Tenant, peers: dict[str, Any], clock: FrozenClock
) -> None:  # type: ignore[type-arg]
    """A gateway slower than the worker's deadline (80 % of the lease), with concurrency 1 so
    that some jobs never start: the tick still ends in time, every step is left to retry,
    and the retry sends each message once (the gateway de-duplicates by key)."""
    api = tenant.api
    await _crm(api, [{"channel": "sms", "wait_seconds": 0}])
    gateway: SmsGateway = peers["sms"]
    gateway.behaviour.delay = 1.5  # under the channel's own 2 s timeout, over the deadline
    ids = [await push(api, f"o-{n}") for n in range(3)]
    worker = client.app[CASCADE]
    worker.settings = WorkerSettings(concurrency=1, lease_seconds=0.5)
    assert await worker.run_once() == 3
    for trigger_id in ids:
        sms = (await steps(api, trigger_id))["sms"]
        assert (sms["state"], sms["reason"]) == ("pending", "no answer in 0.4 s")
    # One deadline for the batch: the two jobs behind the slow one never started (with a
    # deadline per job each would have had its own 0.4 s, and the batch 1.2 s of a 0.5 s lease).
    # At most one: on a stalled machine even the first may not have reached the gateway.
    assert sum(gateway.submissions.values()) <= 1
    gateway.behaviour.delay = 0
    worker.settings = WorkerSettings()
    clock.advance(timedelta(minutes=1))
    assert await tick(client) == 3
    assert [(await steps(api, t))["sms"]["state"] for t in ids] == ["sent"] * 3
    assert set(gateway.sent.values()) == {1} and len(gateway.sent) == 3
