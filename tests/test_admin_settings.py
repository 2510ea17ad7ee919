"""Dashboard settings: the workspace PATCH rules behind a form; errors next to the fields."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import Tenant
from tests.support.admin import add_user, post_form, sign_in
from tests.test_admin_pages import field_errors, typed_value

GOOD = {"name": "Acme Shop", "timezone": "Asia/Vladivostok", "quiet_start": "21:30",
        "quiet_end": "09:00", "sms_price": "2,40", "currency": "rub"}  # fmt: skip


@pytest.fixture
async def admin(client: TestClient, tenant: Tenant) -> TestClient:  # type: ignore[type-arg]
    await add_user(client, "acme")
    status, _, _ = await sign_in(client)
    assert status == 200
    return client


async def test_settings_save_what_the_api_reads(admin: TestClient, api: Any) -> None:  # type: ignore[type-arg]
    status, path, page = await post_form(admin, "/admin/settings", GOOD)
    assert (status, path) == (200, "/admin/settings") and "Saved." in page
    stored = (await api.get("/api/v1/workspace")).body
    assert stored["name"] == "Acme Shop" and stored["timezone"] == "Asia/Vladivostok"
    assert stored["quiet_hours"] == {"start": "21:30", "end": "09:00"}
    assert stored["sms_price"] == 2.4 and stored["currency"] == "RUB"
    assert typed_value(page, "sms_price") == "2.4"
    # An empty price clears it: the report then uses the SMS channel's price.
    await post_form(admin, "/admin/settings", {**GOOD, "sms_price": ""})
    assert (await api.get("/api/v1/workspace")).body["sms_price"] is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "must not be empty"),
        ("timezone", "Mars/Olympus", "unknown time zone"),
        ("quiet_start", "25:00", "24-hour time"),
        ("quiet_end", "8am", "24-hour time"),
        ("sms_price", "cheap", "must be a number"),
        ("sms_price", "-1", "between 0"),
        ("currency", "RU", "ISO 4217"),
    ],
)
async def test_settings_errors_show_next_to_the_field_and_nothing_is_stored(
    admin: TestClient,  # type: ignore[type-arg]
    api: Any,
    field: str,
    value: str,
    message: str,
) -> None:
    before = (await api.get("/api/v1/workspace")).body
    status, _, page = await post_form(admin, "/admin/settings", {**GOOD, field: value})
    assert status == 422
    assert any(message in error for error in field_errors(page, field)), field_errors(page, field)
    if field != "timezone":  # a select: an unknown zone is shown as typed, too
        assert typed_value(page, field) == value
    assert (await api.get("/api/v1/workspace")).body == before
