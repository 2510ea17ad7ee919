"""Hostile input on the dashboard: forms with dates at the edges of Python's range, report
ranges, ids made of non-ASCII digits, CSRF tokens that are not UTF-8 (also on the sign-in
form, without a session). Every answer is a 4xx (or the page itself), never a 5xx, and the
database is unchanged."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import Tenant
from tests.support.admin import add_user, form_token, sign_in
from tests.support.db import snapshot
from tests.support.feeds import add_event, make_segment

EVENT_FORMS: list[dict[str, str]] = [
    {"start": "9999-12-31 23:30", "timezone": "Asia/Tokyo"},
    {"start": "9999-12-31", "all_day": "on"},
    {"start": "9999-12-31 23:30", "local_time": "on"},
    {"start": "0001-01-01 00:00", "timezone": "America/New_York"},
    {"start": "2199-12-31 23:00", "duration": "P400D"},
    {"start": "2199-12-31 23:00", "rrule": "FREQ=YEARLY;COUNT=3"},
    {"start": "2026-03-10 10:00", "duration": "PT99999999999999999999H"},
    {"start": "2026-03-10 10:00", "alarms": "P99999999D"},
    {"start": "2026-03-10 10:00", "rrule": "FREQ=WEEKLY;UNTIL=00000101"},
    {"start": "2026-03-10 10:00", "rrule": "FREQ=YEARLY;COUNT=10000"},
    {"start": "2026-03-10 10:00", "rrule": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO"},
    {"start": "1900-01-01 00:00", "timezone": "Pacific/Kiritimati"},
]
RANGES = [
    "from=0001-01-01&to=0001-01-02", "from=9999-12-30&to=9999-12-31", "to=0001-01-01",
    "from=9999-12-31", "from=2026-01-01&to=99999-01-01", "from=%C2%B2",
]  # fmt: skip
IDS = ["%C2%B2", "%D9%A1%D9%A2", "%EF%BC%91", "9223372036854775808", "00000000000000000001"]


async def _post_raw(client: TestClient, path: str, body: bytes, content_type: str) -> int:  # type: ignore[type-arg]
    headers = {"Content-Type": content_type, "Accept": "text/html"}
    async with client.post(path, data=body, headers=headers, allow_redirects=False) as answer:
        await answer.read()
        return answer.status


async def test_no_dashboard_input_gets_a_5xx_or_changes_anything(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
) -> None:
    await make_segment(tenant.api, timezone="Europe/Berlin")
    event = await add_event(tenant.api, "news", title="Kept", start="2026-03-10T10:00:00")
    # The sign-in form without a session, with a token that is not UTF-8.
    for body in (b"csrf=\xff\xfe&workspace=acme", b"csrf=%FF%FE", b"\xff=\xfe"):
        status = await _post_raw(
            client, "/admin/sign-in", body, "application/x-www-form-urlencoded"
        )
        assert 400 <= status < 500, (body, status)
    await add_user(client, tenant.slug)
    assert (await sign_in(client))[0] == 200
    before = await snapshot(client)

    new_event = "/admin/segments/news/events/new"
    for fields in EVENT_FORMS:
        token = await form_token(client, new_event)
        form = {"csrf": token, "title": "Hostile", **fields}
        async with client.post(new_event, data=form, allow_redirects=False) as answer:
            text = await answer.text()
            assert answer.status == 422, (fields, answer.status, text[-500:])
    for query in RANGES:
        for path in ("/admin/stats", "/admin/cascade"):
            async with client.get(f"{path}?{query}") as answer:
                assert 400 <= answer.status < 500, (path, query, answer.status)
    for raw in IDS:
        for method, path in (
            ("GET", f"/admin/segments/news/events/{raw}"), ("GET", f"/admin/triggers/{raw}"),
            ("POST", f"/admin/segments/news/events/{raw}/delete"),
            ("POST", f"/admin/webhooks/{raw}/delete"), ("GET", f"/admin/subscribers?page={raw}"),
            ("GET", f"/admin/segments/{raw}%00"), ("GET", f"/admin/segments/%00/events/{raw}"),
        ):  # fmt: skip
            token = await form_token(client, "/admin/webhooks")
            data: Any = {"csrf": token} if method == "POST" else None
            async with client.request(method, path, data=data, allow_redirects=False) as answer:
                assert answer.status < 500, (method, path, answer.status)
    # A signed-in form whose token is not UTF-8, in the body or the header.
    edit = f"/admin/segments/news/events/{event['id']}"
    for body, expected in ((b"csrf=\xff\xfe&title=x", 400), (b"csrf=%FF%FE&title=x", 403)):
        status = await _post_raw(client, edit, body, "application/x-www-form-urlencoded")
        assert status == expected, (body, status)
    status = await _post_raw(
        client, edit, b"--b\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n\xff\xfe\r\n--b--\r\n",
        "multipart/form-data; boundary=b",
    )  # fmt: skip
    assert 400 <= status < 500
    async with client.post(edit, data={"title": "x"}, headers={"X-CSRF-Token": "\xff"}) as answer:
        assert answer.status == 403
    assert await snapshot(client) == before
