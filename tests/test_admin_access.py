"""Dashboard pages for API keys and users, webhooks and triggers."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import Tenant
from tests.support.admin import PASSWORD, add_user, csrf_of, post_form, sign_in
from tests.test_admin_pages import field_errors


@pytest.fixture
async def admin(client: TestClient, tenant: Tenant) -> TestClient:  # type: ignore[type-arg]
    await add_user(client, "acme")
    status, _, _ = await sign_in(client)
    assert status == 200
    return client


async def test_a_key_made_on_the_page_works_once_shown_and_can_be_revoked(
    admin: TestClient,  # type: ignore[type-arg]
) -> None:
    status, _, page = await post_form(admin, "/admin/access/keys", {"label": "CRM"},
                                      token_from="/admin/access")  # fmt: skip
    assert status == 200
    key = re.search(r'id="new-key" class="snippet" readonly value="(csk_[^"]+)"', page)
    assert key
    headers = {"Authorization": f"Bearer {key.group(1)}"}
    async with admin.get("/api/v1/workspace", headers=headers) as answer:
        assert answer.status == 200
    async with admin.get("/admin/access") as again:
        listed = await again.text()
    assert key.group(1) not in listed and key.group(1)[:12] in listed and "CRM" in listed
    status, _, page = await post_form(admin, "/admin/access/keys/revoke",
                                      {"prefix": key.group(1)[:12]}, token_from="/admin/access")  # fmt: skip
    assert "The key is revoked." in page
    async with admin.get("/api/v1/workspace", headers=headers) as answer:
        assert answer.status == 401


async def test_a_user_added_on_the_page_can_sign_in(admin: TestClient) -> None:  # type: ignore[type-arg]
    status, _, page = await post_form(admin, "/admin/access/users",
                                      {"email": "not an address", "password": "short"},
                                      token_from="/admin/access")  # fmt: skip
    assert status == 422
    assert field_errors(page, "email") == ["give an e-mail address such as ana@example.com"]
    assert field_errors(page, "password") == ["use at least 10 characters"]
    assert 'value="not an address"' in page and 'value="short"' not in page  # never echo a password
    status, _, page = await post_form(admin, "/admin/access/users",
                                      {"email": "Ana@acme.test", "password": PASSWORD + "2"},
                                      token_from="/admin/access")  # fmt: skip
    assert "The user can sign in now." in page and "ana@acme.test" in page
    await post_form(admin, "/admin/sign-out", {}, token_from="/admin/access")
    status, path, page = await sign_in(admin, email="ana@acme.test", password=PASSWORD + "2")
    assert (status, path) == (200, "/admin/segments") and "ana@acme.test" in page


async def test_webhooks_page_adds_shows_the_secret_once_and_deletes(
    admin: TestClient,  # type: ignore[type-arg]
    api: Any,
) -> None:
    status, _, page = await post_form(admin, "/admin/webhooks", {"url": "http://127.0.0.1/hook"})
    assert status == 422
    assert "private" in field_errors(page, "url")[0]
    assert field_errors(page, "events") == ["must name at least one event type"]
    assert 'value="http://127.0.0.1/hook"' in page
    token = csrf_of(page)
    fields = [("csrf", token), ("url", "https://8.8.8.8/hook"),
              ("events", "subscription.created"), ("events", "trigger.delivered")]  # fmt: skip
    async with admin.post("/admin/webhooks", data=fields) as created:
        page = await created.text()
    secret = re.search(r'id="new-secret" class="snippet" readonly value="(whsec_[^"]+)"', page)
    assert secret
    items = (await api.get("/api/v1/webhooks")).body["items"]
    assert [(i["url"], i["events"]) for i in items] == [
        ("https://8.8.8.8/hook", ["subscription.created", "trigger.delivered"])]  # fmt: skip
    async with admin.get("/admin/webhooks") as listed:
        assert secret.group(1) not in await listed.text()
    await post_form(admin, f"/admin/webhooks/{items[0]['id']}/delete", {},
                    token_from="/admin/webhooks")  # fmt: skip
    assert (await api.get("/api/v1/webhooks")).body["items"] == []


async def test_triggers_page_lists_and_shows_a_timeline(admin: TestClient, api: Any) -> None:  # type: ignore[type-arg]
    answer = await api.post("/api/v1/triggers", {
        "external_id": "client-7", "idempotency_key": "visit-1", "create_contact": True,
        "event": {"title": "Dentist visit", "start": "2026-03-05T10:00:00", "timezone": "Europe/Moscow",
                  "alarms": [{"before": "PT2H"}]},
    })  # fmt: skip
    assert answer.status == 202, answer.text
    trigger_id = answer.body["id"]
    async with admin.get("/admin/triggers?status=pending") as listed:
        page = await listed.text()
    assert f'<a href="/admin/triggers/{trigger_id}">' in page and "client-7" in page
    async with admin.get("/admin/triggers?status=delivered") as none:
        assert "Dentist visit" not in await none.text()
    async with admin.get(f"/admin/triggers/{trigger_id}") as detail:
        page = await detail.text()
    steps = re.findall(r"<strong>(\w+)</strong>", page.split('id="timeline"')[1])
    timeline = (await api.get(f"/api/v1/triggers/{trigger_id}")).body["timeline"]
    assert steps == [step["type"] for step in timeline] and steps[0] == "created"
    assert "pending" in page
    async with admin.get("/admin/triggers/999999") as missing:
        assert missing.status == 404
