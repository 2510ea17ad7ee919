"""The cascade speaks each contact's language: its locale, else the workspace's."""

from __future__ import annotations

import email
import email.policy
from typing import Any

from aiohttp.test_utils import TestClient

from tests import test_cascade
from tests.conftest import Tenant
from tests.support.cascade import push, tick
from tests.support.peers import SmsGateway
from tests.test_cascade import _crm

# The same fixtures as the cascade's tests: real peers on 127.0.0.1 and an app using them.
client, peers = test_cascade.client, test_cascade.peers

CHANNELS = [{"channel": "telegram"}, {"channel": "sms", "wait_seconds": 0},
            {"channel": "email", "wait_seconds": 0}]  # fmt: skip


async def _send_everywhere(app: TestClient, api: Any, key: str, external_id: str) -> None:  # type: ignore[type-arg]
    """One trigger per channel: the policy names one channel at a time."""
    for channel in CHANNELS:
        answer = await api.request("PUT", "/api/v1/cascade/policy", json_body={"steps": [channel]})
        assert answer.status == 200, answer.text
        await push(api, f"{key}-{channel['channel']}", external_id=external_id)
        assert await tick(app) == 1


async def test_a_russian_contact_gets_russian_sms_email_and_telegram(
    client: TestClient,
    tenant: Tenant,
    peers: dict[str, Any],
) -> None:  # type: ignore[type-arg]
    api = tenant.api
    await _crm(api, CHANNELS, locale="ru")
    assert (await api.get("/api/v1/contacts/c-1")).body["locale"] == "ru"
    await _send_everywhere(client, api, "ru", "c-1")
    gateway: SmsGateway = peers["sms"]
    # 15:00 in Berlin on Friday 6 March 2026, as a Russian reader writes it.
    assert (
        "Order 42 ready for pickup: пт, 6 марта, 15:00" in gateway.bodies["acme:ru-sms:sms"]["text"]
    )
    assert (
        peers["telegram"].messages[-1]["text"].startswith("Order 42 ready for pickup: пт, 6 марта")
    )
    mail = email.message_from_bytes(
        peers["email"].messages[-1].content, policy=email.policy.default
    )
    assert mail["Subject"] == "Напоминание: Order 42 ready for pickup"
    html = mail.get_body(("html",)).get_content()
    assert "пт, 6 марта, 15:00" in html and "Событие во вложении" in html
    assert "attached" not in html and "Reminder" not in mail["Subject"]


async def test_without_a_locale_the_workspace_language_speaks(
    client: TestClient,
    tenant: Tenant,
    peers: dict[str, Any],
) -> None:  # type: ignore[type-arg]
    api = tenant.api
    await _crm(api, CHANNELS)
    await _send_everywhere(client, api, "en", "c-1")
    assert (
        "Order 42 ready for pickup: Fri, 6 March, 15:00"
        in peers["sms"].bodies["acme:en-sms:sms"]["text"]
    )
    mail = email.message_from_bytes(
        peers["email"].messages[-1].content, policy=email.policy.default
    )
    assert mail["Subject"] == "Reminder: Order 42 ready for pickup"
    assert (
        await api.request("PATCH", "/api/v1/workspace", json_body={"language": "ru"})
    ).status == 200
    await _send_everywhere(client, api, "ws", "c-1")
    assert "пт, 6 марта, 15:00" in peers["sms"].bodies["acme:ws-sms:sms"]["text"]
    mail = email.message_from_bytes(
        peers["email"].messages[-1].content, policy=email.policy.default
    )
    assert mail["Subject"] == "Напоминание: Order 42 ready for pickup"
