"""Hostile input to the API, class by class, on both stores: a 4xx naming what is wrong,
never a 5xx, nothing stored, and the server stays healthy.

Each value here once answered 500 (and some were stored first, poisoning every feed of
their segment): dates at the edges of Python's range, non-ASCII digits in ids, offsets past
64 bits, deep JSON, lone surrogates, endless durations, impossible RRULEs, objects where
names belong. The accepted range itself is declared once, in feeds/limits.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import Tenant
from tests.support.db import snapshot
from tests.support.openapi import ApiClient

EVENTS = "/api/v1/segments/news/events"
GOOD = {"title": "Sale", "start": "2026-06-01T10:00:00"}
TRIGGER = {"external_id": "c1", "idempotency_key": "k1", "create_contact": True, "event": GOOD}


def deep(levels: int) -> bytes:
    return b'{"phone": null, "attributes": ' + b'{"a": ' * levels + b"1" + b"}" * levels + b"}"


# (case, method, path, JSON body or raw bytes, status, pointer or a piece of the detail)
CASES: list[tuple[str, str, str, Any, int, str]] = [
    # Dates and instants outside 1901-2199 (feeds/limits.py), in every kind of event.
    ("timed year 9999", "POST", EVENTS, {"title": "t", "start": "9999-12-31T23:30:00"}, 422, "#/start"),
    ("all-day year 9999", "POST", EVENTS, {"title": "t", "start": "9999-12-31", "all_day": True}, 422, "#/start"),
    ("local year 9999", "POST", EVENTS, {"title": "t", "start": "9999-12-31T23:30:00", "local_time": True}, 422, "#/start"),
    ("year 1", "POST", EVENTS, {"title": "t", "start": "0001-01-01T00:00:00"}, 422, "#/start"),
    ("offset into year 1900", "POST", EVENTS, {"title": "t", "start": "1901-01-01T00:30:00+14:00", "timezone": "UTC"}, 422, "#/start"),
    ("end past 2199", "POST", EVENTS, {"title": "t", "start": "2199-12-31T23:00:00", "duration": "P2D"}, 422, "#/duration"),
    ("end year 9999", "POST", EVENTS, {**GOOD, "end": "9999-12-31T23:59:59"}, 422, "#/end"),
    ("30 February", "POST", EVENTS, {"title": "t", "start": "2026-02-30T10:00:00"}, 422, "#/start"),
    ("trigger event year 9999", "POST", "/api/v1/triggers", {**TRIGGER, "event": {"title": "t", "start": "9999-12-31T23:30:00"}}, 422, "#/event/start"),
    ("deliver_by year 9999", "POST", "/api/v1/triggers", {**TRIGGER, "deliver_by": "9999-12-31T23:59:59+00:00"}, 422, "#/deliver_by"),
    ("deliver_by year 0", "POST", "/api/v1/triggers", {**TRIGGER, "deliver_by": "0000-01-01T00:00:00Z"}, 422, "#/deliver_by"),
    ("trigger patch year 9999", "PATCH", "/api/v1/triggers/1", {"event": {"start": "9999-12-31T23:30:00"}}, 422, "#/event/start"),
    ("stats from year 1", "GET", "/api/v1/stats/summary?from=0001-01-01&to=0001-01-02", None, 400, "#/from"),
    ("stats to year 9999", "GET", "/api/v1/stats/daily?from=9999-12-30&to=9999-12-31", None, 400, "#/from"),
    ("report to year 9999", "GET", "/api/v1/reports/cascade?to=9999-12-31", None, 400, "#/to"),
    # Durations and alarm offsets.
    ("endless duration", "POST", EVENTS, {**GOOD, "duration": "PT99999999999999999999H"}, 422, "#/duration"),
    ("duration over a year", "POST", EVENTS, {**GOOD, "duration": "P400D"}, 422, "#/duration"),
    ("endless alarm", "POST", EVENTS, {**GOOD, "alarms": [{"before": "PT99999999999999999999H"}]}, 422, "#/alarms/0/before"),
    ("alarm a year before", "POST", EVENTS, {**GOOD, "alarms": [{"before": "P52W"}]}, 422, "#/alarms/0/before"),
    ("non-ASCII digits in a duration", "POST", EVENTS, {**GOOD, "duration": "PT\u0663H"}, 422, "#/duration"),
    # Recurrence rules.
    ("UNTIL year 0", "POST", EVENTS, {**GOOD, "rrule": "FREQ=DAILY;UNTIL=00000101"}, 422, "#/rrule"),
    ("UNTIL year 9999", "POST", EVENTS, {**GOOD, "rrule": "FREQ=DAILY;UNTIL=99991231"}, 422, "#/rrule"),
    ("INTERVAL=0", "POST", EVENTS, {**GOOD, "rrule": "FREQ=WEEKLY;INTERVAL=0;COUNT=3"}, 422, "#/rrule"),
    ("huge INTERVAL", "POST", EVENTS, {**GOOD, "rrule": "FREQ=YEARLY;INTERVAL=99999999999999999999;COUNT=2"}, 422, "#/rrule"),
    ("occurrences past 2199", "POST", EVENTS, {**GOOD, "rrule": "FREQ=YEARLY;COUNT=500"}, 422, "#/rrule"),
    # Ids in paths: ASCII digits within 64 bits, else simply not found.
    ("superscript two as trigger id", "GET", "/api/v1/triggers/%C2%B2", None, 404, "trigger"),
    ("Arabic-Indic digit as event id", "GET", EVENTS + "/%D9%A3", None, 404, "event"),
    ("id past 64 bits", "DELETE", EVENTS + "/9223372036854775808", None, 404, "event"),
    ("twenty-digit webhook id", "GET", "/api/v1/webhooks/99999999999999999999/deliveries", None, 404, "webhook"),
    ("fullwidth subscriber id", "DELETE", "/api/v1/subscribers/%EF%BC%91", None, 404, "subscriber"),
    ("superscript trigger cancel", "DELETE", "/api/v1/triggers/%C2%B9", None, 404, "trigger"),
    # Paging.
    ("offset past 64 bits", "GET", EVENTS + "?offset=9223372036854775808", None, 400, "#/offset"),
    ("limit in other digits", "GET", EVENTS + "?limit=%C2%B2", None, 400, "#/limit"),
    ("huge subscriber offset", "GET", "/api/v1/subscribers?offset=99999999999999999999999", None, 400, "#/offset"),
    ("negative limit", "GET", "/api/v1/subscribers?limit=-1", None, 400, "#/limit"),
    # JSON itself.
    ("JSON 33 deep", "PUT", "/api/v1/contacts/c2", deep(33), 400, "deeper than 32"),
    ("JSON 100,000 deep", "PUT", "/api/v1/contacts/c2", deep(100_000), 400, "deeper than 32"),
    ("lone surrogate", "POST", EVENTS, b'{"title": "\\ud800", "start": "2026-06-01T10:00:00"}', 400, "surrogate"),
    ("lone surrogate in a key", "POST", "/api/v1/segments", b'{"slug": "x", "name": "X", "\\udfff": 1}', 400, "surrogate"),
    ("NaN", "PATCH", "/api/v1/workspace", b'{"sms_price": NaN}', 400, "not valid JSON"),
    ("number past a float", "PATCH", "/api/v1/workspace", b'{"sms_price": 1e999}', 400, "not valid JSON"),
    ("UTF-16 body", "POST", "/api/v1/segments", '{"slug": "x", "name": "X"}'.encode("utf-16"), 400, "not valid JSON"),
    ("NUL in a title", "POST", EVENTS, {**GOOD, "title": "a\u0000b"}, 422, "#/title"),
    # Shapes where names belong.
    ("opt_out holding objects", "PUT", "/api/v1/contacts/c2", {"opt_out": [{"sms": True}]}, 422, "#/opt_out/0"),
    ("opt_out holding lists", "PUT", "/api/v1/contacts/c2", {"opt_out": [["sms"]]}, 422, "#/opt_out/0"),
    ("telegram id past 20 digits", "PUT", "/api/v1/contacts/c2", {"telegram_chat_id": 10**30}, 422, "#/telegram_chat_id"),
    ("segment list of objects", "POST", "/api/v1/links", {"external_id": "c1", "segments": [{}]}, 422, "#/segments/0"),
]  # fmt: skip


@pytest.fixture
async def seeded(api: ApiClient) -> ApiClient:
    assert (await api.post("/api/v1/segments", {"slug": "news", "name": "News"})).status == 201
    assert (await api.post(EVENTS, GOOD)).status == 201
    assert (await api.post("/api/v1/triggers", TRIGGER)).status == 202
    return api


@pytest.mark.parametrize(
    ("case", "method", "path", "body", "status", "named"), CASES, ids=[c[0] for c in CASES]
)
async def test_hostile_input_is_refused_and_changes_nothing(
    seeded: ApiClient, client: TestClient, case: str, method: str, path: str,  # type: ignore[type-arg]
    body: Any, status: int, named: str,
) -> None:  # fmt: skip
    before = await snapshot(client)
    raw = isinstance(body, bytes)
    answer = await seeded.request(
        method, path, json_body=None if raw else body, data=body if raw else None,
        headers={"Content-Type": "application/json"} if raw else None,
    )  # fmt: skip
    assert answer.status == status, answer.text[:500]
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    said = [e["pointer"] for e in answer.body.get("errors", [])] + [answer.body["detail"]]
    assert any(named in text for text in said), answer.body
    assert await snapshot(client) == before
    async with client.get("/healthz") as health:
        assert health.status == 200


async def test_a_stored_trigger_stays_readable_and_removable(
    seeded: ApiClient,
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    """What the refused far-future trigger would have broken: reading and cancelling it."""
    assert (await seeded.get("/api/v1/triggers/1")).status == 200
    assert (await seeded.delete("/api/v1/triggers/1")).status == 200
    assert (await seeded.get(EVENTS)).status == 200


async def test_every_error_is_named_at_once(seeded: ApiClient, tenant: Tenant) -> None:
    body = {"title": "", "start": "9999-12-31T23:30:00", "duration": "PT99999999999999999999H",
            "alarms": [{"before": "PT5M"}, {"before": "P99W"}], "opt": 1}  # fmt: skip
    answer = await seeded.post(EVENTS, body)
    assert answer.status == 422
    pointers = {e["pointer"] for e in answer.body["errors"]}
    assert pointers == {"#/title", "#/start", "#/duration", "#/alarms/1/before", "#/opt"}
