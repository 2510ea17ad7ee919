"""Hostile CalDAV requests: deep or numerous filters are refused at the edge, far-out time
ranges are answered from each event's stored first and last occurrence, and nothing a
client sends changes the database or gets a 5xx."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient
from sqlalchemy import create_engine

from tests.conftest import Tenant
from tests.support.dav import basic, calendar_path, dav
from tests.support.db import snapshot
from tests.support.feeds import add_event, make_segment, subscribe
from web.dav.bridge import DAV

CALDAV = 'xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"'
ETAGS = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>'


def _query(filters: str) -> str:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><C:calendar-query {CALDAV}>'
        "<D:prop><D:getetag/></D:prop>"
        f'<C:filter><C:comp-filter name="VCALENDAR">{filters}</C:comp-filter></C:filter>'
        "</C:calendar-query>"
    )


def _range(start: str, end: str) -> str:
    return (
        f'<C:comp-filter name="VEVENT"><C:time-range start="{start}" end="{end}"/></C:comp-filter>'
    )


NESTED = _query('<C:comp-filter name="VEVENT">' * 3000 + "</C:comp-filter>" * 3000)
MANY = _query(
    '<C:comp-filter name="VEVENT">'
    + '<C:prop-filter name="SUMMARY"><C:text-match>a</C:text-match></C:prop-filter>' * 2000
    + "</C:comp-filter>"
)
DEEP_PROPFIND = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>'
    + "<D:x>" * 500 + "</D:x>" * 500 + "</D:prop></D:propfind>"
)  # fmt: skip


async def _setup(tenant: Tenant) -> tuple[dict[str, str], dict[str, str], dict[str, object]]:
    await make_segment(tenant.api, timezone="Europe/Berlin")
    weekly = await add_event(
        tenant.api, "news", title="Weekly", start="2026-03-10T10:00:00", rrule="FREQ=WEEKLY"
    )
    await add_event(tenant.api, "news", title="Once", start="2026-03-12T10:00:00")
    links = await subscribe(tenant.api, tenant.slug, "news", "Europe/Berlin")
    headers = {**basic(links), "Depth": "1", "Content-Type": "application/xml"}
    return links, headers, weekly


async def test_deep_or_numerous_filters_are_refused(client: TestClient, tenant: Tenant) -> None:  # type: ignore[type-arg]
    links, headers, _ = await _setup(tenant)
    before = await snapshot(client)
    path = calendar_path(links)
    for body in (NESTED, MANY):
        status, text, _ = await dav(client, "REPORT", path, body, headers)
        assert status == 400, (status, text[:200])
    status, _, _ = await dav(client, "PROPFIND", path, DEEP_PROPFIND, headers)
    assert status == 400
    assert await snapshot(client) == before


async def test_a_far_out_range_is_answered_from_stored_bounds(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
) -> None:
    links, headers, weekly = await _setup(tenant)
    path = calendar_path(links)
    # Year 9999 used to expand the weekly rule for 20 s; the one-off event ended long ago.
    for start, end in (("99990101T000000Z", "99991231T000000Z"), ("21990101T000000Z", "21990201T000000Z")):  # fmt: skip
        status, text, _ = await dav(client, "REPORT", path, _query(_range(start, end)), headers)
        assert status == 207, text
        assert f"e{weekly['id']}.ics" in text and text.count("<D:href>") + text.count("<href>") == 1
    # Near ranges are still decided exactly.
    status, text, _ = await dav(
        client, "REPORT", path, _query(_range("20260311T000000Z", "20260313T000000Z")), headers
    )
    assert status == 207 and f"e{weekly['id']}.ics" not in text and "Once" not in text
    assert text.count(".ics") == 1


def _with_text(start: str, end: str, text: str) -> str:
    return _query(
        f'<C:comp-filter name="VEVENT"><C:time-range start="{start}" end="{end}"/>'
        f'<C:prop-filter name="SUMMARY"><C:text-match>{text}</C:text-match></C:prop-filter>'
        "</C:comp-filter>"
    )


async def test_a_time_range_with_other_filters_is_still_exact(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
) -> None:
    # The time range is decided from the stored timing, the text by Radicale: both must hold.
    links, headers, weekly = await _setup(tenant)
    fair = await add_event(tenant.api, "news", title="Fair", start="2026-03-20", all_day=True,
                           rrule="FREQ=YEARLY")  # fmt: skip
    path = calendar_path(links)
    cases = [
        ("20260316T000000Z", "20260318T000000Z", "Week", {f"e{weekly['id']}.ics"}),
        ("20260316T000000Z", "20260318T000000Z", "zzz", set()),
        ("20260311T000000Z", "20260313T000000Z", "Week", set()),
        ("20260319T000000Z", "20260321T000000Z", "Fair", {f"e{fair['id']}.ics"}),
        ("20260321T000000Z", "20260322T000000Z", "Fair", set()),
        ("99990101T000000Z", "99991231T000000Z", "Fair", {f"e{fair['id']}.ics"}),
    ]
    for start, end, text, expected in cases:
        status, body, _ = await dav(client, "REPORT", path, _with_text(start, end, text), headers)
        assert status == 207, body
        hrefs = {part.split("<", 1)[0].rsplit("/", 1)[-1] for part in body.split("href>")[1::2]}
        assert hrefs == expected, (start, text, body)


async def test_others_are_served_while_hostile_requests_run(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
) -> None:
    # Latency under attack is measured by bench/hostile.py; here: every answer is right.
    import asyncio

    from tests.support.dav import SYNC_REPORT
    from tests.support.feeds import path_of

    victim, headers, _ = await _setup(tenant)
    await make_segment(tenant.api, slug="trap", timezone="Europe/London")
    for day in range(1, 6):
        await add_event(tenant.api, "trap", title="Trap", start=f"2026-04-0{day}T10:00:00",
                        rrule="FREQ=WEEKLY")  # fmt: skip
    attackers = [await subscribe(tenant.api, tenant.slug, "trap") for _ in range(4)]
    before = await snapshot(client)
    far = _with_text("99980101T000000Z", "99991231T000000Z", "zzz")
    rule = {"title": "h", "start": "2026-04-01T10:00:00",
            "rrule": "FREQ=HOURLY;BYYEARDAY=366;BYDAY=SU;BYHOUR=1;COUNT=5000"}  # fmt: skip

    async def hostile_query(links: dict[str, str]) -> int:
        auth = {**basic(links), "Depth": "1", "Content-Type": "application/xml"}
        return (await dav(client, "REPORT", calendar_path(links), far, auth))[0]

    async def hostile_rule() -> int:
        return (await tenant.api.post("/api/v1/segments/trap/events", rule)).status

    async def victim_round() -> list[int]:
        async with client.get(path_of(victim["feed_url"])) as feed:
            polled = feed.status
        sync = await dav(client, "REPORT", calendar_path(victim),
                         SYNC_REPORT.format(token=""), headers)  # fmt: skip
        return [polled, sync[0]]

    hostile = asyncio.gather(*(hostile_query(a) for a in attackers),
                             *(hostile_rule() for _ in range(4)))  # fmt: skip
    victims = await asyncio.gather(*(victim_round() for _ in range(5)))
    assert await hostile == [207] * 4 + [422] * 4
    assert victims == [[200, 207]] * 5
    assert await snapshot(client) == before


async def test_a_database_lost_in_the_middle_of_a_request_is_a_503_not_a_500(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    tmp_path: Path,
) -> None:
    """The poll lookup (on the event loop) answers, then the calendar's own reads in
    Radicale's thread cannot reach the database: Radicale would say 500; the client is told
    to come back (503, Retry-After), as every other surface says during an outage."""
    await make_segment(tenant.api)
    await add_event(tenant.api, "news", title="Opening", start="2026-03-10T10:00:00")
    links = await subscribe(tenant.api, tenant.slug, "news", "Europe/Berlin")
    auth = {"Depth": "1", **basic(links)}
    assert (await dav(client, "PROPFIND", calendar_path(links), ETAGS, auth))[0] == 207
    context = client.app[DAV].context
    working = context.engine
    # A real engine whose database file cannot be opened: what SQLite says when it is gone.
    context.engine = create_engine(f"sqlite:///{tmp_path}/missing/calserver.db")
    try:
        status, _, headers = await dav(client, "PROPFIND", calendar_path(links), ETAGS, auth)
    finally:
        context.engine.dispose()
        context.engine = working
    assert status == 503 and headers["Retry-After"]
    assert (await dav(client, "PROPFIND", calendar_path(links), ETAGS, auth))[0] == 207
