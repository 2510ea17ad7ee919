"""The workspace settings endpoint."""

from __future__ import annotations

from tests.support.openapi import ApiClient


async def test_defaults_and_patch(api: ApiClient) -> None:
    current = await api.get("/api/v1/workspace")
    assert current.status == 200
    assert current.body["quiet_hours"] == {"start": "22:00", "end": "08:00"}
    assert current.body["slug"] == "acme"

    patched = await api.patch(
        "/api/v1/workspace",
        {
            "name": "ACME",
            "timezone": "Europe/Kaliningrad",
            "quiet_hours": {"start": "21:30", "end": "09:00"},
            "sms_price": 2.4,
            "currency": "RUB",
        },
    )
    assert patched.status == 200, patched.text
    assert patched.body["sms_price"] == 2.4
    assert patched.body["quiet_hours"] == {"start": "21:30", "end": "09:00"}
    again = await api.get("/api/v1/workspace")
    assert again.body["timezone"] == "Europe/Kaliningrad" and again.body["name"] == "ACME"


async def test_bad_workspace_fields_are_named(api: ApiClient) -> None:
    answer = await api.patch(
        "/api/v1/workspace",
        {
            "timezone": "Mars/Olympus",
            "quiet_hours": {"start": "25:00", "end": "8"},
            "sms_price": -1,
        },
    )
    assert answer.status == 422
    pointers = {error["pointer"] for error in answer.body["errors"]}
    assert pointers == {"#/timezone", "#/quiet_hours/start", "#/quiet_hours/end", "#/sms_price"}
    assert (await api.get("/api/v1/workspace")).body["timezone"] == "UTC"
