"""Every refused input gets a problem+json naming the field, and writes nothing."""

from __future__ import annotations

import io
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import Tenant
from tests.support.db import snapshot
from tests.support.openapi import ApiClient

EVENTS = "/api/v1/segments/news/events"
GOOD = {"title": "Sale", "start": "2026-06-01T10:00:00"}

# (case, method, path, body, status, pointer or None)
CASES: list[tuple[str, str, str, Any, int, str | None]] = [
    ("unknown event zone", "POST", EVENTS, {**GOOD, "timezone": "Europe/Atlantis"}, 422, "#/timezone"),
    ("zone as a path", "POST", EVENTS, {**GOOD, "timezone": "../../etc/passwd"}, 422, "#/timezone"),
    ("unknown segment zone", "POST", "/api/v1/segments", {"slug": "x", "name": "X", "timezone": "Moon/Base"}, 422, "#/timezone"),
    ("end before start", "POST", EVENTS, {**GOOD, "end": "2026-06-01T09:00:00"}, 422, "#/end"),
    ("end equals start", "POST", EVENTS, {**GOOD, "end": "2026-06-01T10:00:00"}, 422, "#/end"),
    ("end and duration", "POST", EVENTS, {**GOOD, "end": "2026-06-01T11:00:00", "duration": "PT1H"}, 422, "#/duration"),
    ("local_time with offset", "POST", EVENTS, {**GOOD, "start": "2026-06-01T10:00:00+03:00", "local_time": True}, 422, "#/start"),
    ("rrule does not parse", "POST", EVENTS, {**GOOD, "rrule": "FREQ=SOMETIMES"}, 422, "#/rrule"),
    ("rrule garbage", "POST", EVENTS, {**GOOD, "rrule": "hello world"}, 422, "#/rrule"),
    ("rrule minutely", "POST", EVENTS, {**GOOD, "rrule": "FREQ=MINUTELY;COUNT=5"}, 422, "#/rrule"),
    ("rrule secondly", "POST", EVENTS, {**GOOD, "rrule": "FREQ=SECONDLY;COUNT=5"}, 422, "#/rrule"),
    ("rrule half-hourly by minute", "POST", EVENTS, {**GOOD, "rrule": "FREQ=DAILY;BYMINUTE=0,30;COUNT=4"}, 422, "#/rrule"),
    ("rrule endless daily", "POST", EVENTS, {**GOOD, "rrule": "FREQ=DAILY"}, 422, "#/rrule"),
    ("rrule endless hourly", "POST", EVENTS, {**GOOD, "rrule": "FREQ=HOURLY"}, 422, "#/rrule"),
    ("rrule huge count", "POST", EVENTS, {**GOOD, "rrule": "FREQ=HOURLY;COUNT=1000000"}, 422, "#/rrule"),
    ("rrule 30 February", "POST", EVENTS, {**GOOD, "rrule": "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30"}, 422, "#/rrule"),
    ("rrule count and until", "POST", EVENTS, {**GOOD, "rrule": "FREQ=WEEKLY;COUNT=2;UNTIL=20270101T000000"}, 422, "#/rrule"),
    ("eleven alarms", "POST", EVENTS, {**GOOD, "alarms": [{"before": f"PT{n + 1}M"} for n in range(11)]}, 422, "#/alarms"),
    ("alarm after start", "POST", EVENTS, {**GOOD, "alarms": [{"before": "-PT5M"}]}, 422, "#/alarms/0/before"),
    ("alarm not a duration", "POST", EVENTS, {**GOOD, "alarms": [{"before": "soon"}]}, 422, "#/alarms/0/before"),
    ("start missing", "POST", EVENTS, {"title": "No start"}, 422, "#/start"),
    ("title missing", "POST", EVENTS, {"start": "2026-06-01T10:00:00"}, 422, "#/title"),
    ("start in the DST gap", "POST", EVENTS, {**GOOD, "start": "2026-03-08T02:30:00", "timezone": "America/New_York"}, 422, "#/start"),
    ("all-day with a time", "POST", EVENTS, {**GOOD, "all_day": True}, 422, "#/start"),
    ("unknown field", "POST", EVENTS, {**GOOD, "colour": "red"}, 422, "#/colour"),
    ("duplicate slug", "POST", "/api/v1/segments", {"slug": "news", "name": "Again"}, 409, None),
    ("bad slug", "POST", "/api/v1/segments", {"slug": "News!", "name": "X"}, 422, "#/slug"),
    ("unknown segment", "POST", "/api/v1/segments/nope/events", GOOD, 404, None),
    ("unknown segment patch", "PATCH", "/api/v1/segments/nope", {"name": "x"}, 404, None),
]  # fmt: skip


@pytest.fixture
async def seeded(api: ApiClient) -> ApiClient:
    assert (await api.post("/api/v1/segments", {"slug": "news", "name": "News"})).status == 201
    assert (await api.post(EVENTS, GOOD)).status == 201
    return api


@pytest.mark.parametrize(
    ("case", "method", "path", "body", "status", "pointer"), CASES, ids=[c[0] for c in CASES]
)
async def test_refused_and_nothing_written(
    seeded: ApiClient, client: TestClient, case: str, method: str, path: str,  # type: ignore[type-arg]
    body: Any, status: int, pointer: str | None,
) -> None:  # fmt: skip
    before = await snapshot(client)
    answer = await seeded.request(method, path, json_body=body)
    assert answer.status == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert answer.body["status"] == status and answer.body["detail"]
    if pointer is not None:
        assert pointer in [e["pointer"] for e in answer.body["errors"]], answer.body
    assert await snapshot(client) == before


async def test_patch_with_bad_fields_keeps_the_event(seeded: ApiClient, client: TestClient) -> None:  # type: ignore[type-arg]
    event_id = (await seeded.get(EVENTS)).body["items"][0]["id"]
    before = await snapshot(client)
    answer = await seeded.patch(
        f"{EVENTS}/{event_id}", {"end": "2026-06-01T09:00:00", "timezone": "X/Y"}
    )
    assert answer.status == 422
    assert {e["pointer"] for e in answer.body["errors"]} >= {"#/timezone"}
    assert await snapshot(client) == before


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b"", "empty"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
async def test_body_that_is_not_a_json_object(
    seeded: ApiClient, client: TestClient, raw: bytes, detail: str
) -> None:  # type: ignore[type-arg]
    before = await snapshot(client)
    answer = await seeded.request(
        "POST", "/api/v1/segments", data=raw, headers={"Content-Type": "application/json"}
    )
    assert answer.status == 400 and detail in answer.body["detail"]
    assert await snapshot(client) == before


async def test_body_over_one_megabyte(seeded: ApiClient, client: TestClient) -> None:  # type: ignore[type-arg]
    before = await snapshot(client)
    huge = b'{"slug": "big", "name": "' + b"x" * 1_100_000 + b'"}'
    answer = await seeded.request(
        "POST",
        "/api/v1/segments",
        data=io.BytesIO(huge),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status == 413
    assert answer.body["status"] == 413

    async def chunks():  # no Content-Length: refused while reading
        for _ in range(12):
            yield b"x" * 100_000

    async with client.post(
        "/api/v1/segments", data=chunks(), headers={"Authorization": f"Bearer {seeded.key}"}
    ) as r:
        assert r.status == 413
        assert r.content_type == "application/problem+json"
    assert await snapshot(client) == before


@pytest.mark.parametrize("header", [None, "Bearer csk_wrong", "Basic dXNlcjpwYXNz", "Bearer "])
async def test_missing_or_wrong_key(client: TestClient, tenant: Tenant, header: str | None) -> None:  # type: ignore[type-arg]
    headers = {"Authorization": header} if header else {}
    async with client.get("/api/v1/segments", headers=headers) as answer:
        assert answer.status == 401
        assert answer.content_type == "application/problem+json"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")


async def test_revoked_key_is_refused(client: TestClient, tenant: Tenant) -> None:  # type: ignore[type-arg]
    from calserver.appkeys import SESSIONS
    from storage.workspaces import revoke_key, workspace_by_slug

    assert (await tenant.api.get("/api/v1/segments")).status == 200
    async with client.app[SESSIONS].begin() as session:
        workspace = await workspace_by_slug(session, tenant.slug)
        assert await revoke_key(session, workspace, tenant.key[:12], workspace.created_at) == 1
    assert (await tenant.api.get("/api/v1/segments")).status == 401


async def test_unsupported_method_and_unknown_path(client: TestClient, tenant: Tenant) -> None:  # type: ignore[type-arg]
    auth = {"Authorization": f"Bearer {tenant.key}"}
    async with client.put("/api/v1/segments", headers=auth) as answer:
        assert answer.status == 405
        assert answer.content_type == "application/problem+json"
        assert "POST" in answer.headers["Allow"]
    async with client.get("/api/v1/nothing-here", headers=auth) as answer:
        assert answer.status == 404 and answer.content_type == "application/problem+json"
    async with client.get("/nothing-here", headers={"Accept": "text/html"}) as answer:
        assert answer.status == 404 and answer.content_type == "text/html"
