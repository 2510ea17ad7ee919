"""Raw WebDAV requests for what real clients rarely send: writes, bad tokens, traversal,
XML bombs, oversized bodies, unsupported reports, and sync tokens on the wire."""

from __future__ import annotations

import asyncio
import base64
import logging
import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from calserver.appkeys import CONFIG, SESSIONS, SIGNER
from calserver.clock import FrozenClock
from calserver.config import Config
from storage.models import DeletedEvent, Event, Segment
from tests.conftest import Tenant
from tests.support.dav import SYNC_REPORT, basic, calendar_path, dav
from tests.support.feeds import add_event, make_segment, path_of, subscribe
from web.app import create_app
from web.dav.bridge import DAV

PROPFIND = """<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/">
  <D:prop><D:getetag/><CS:getctag/><D:sync-token/><D:displayname/></D:prop>
</D:propfind>"""

ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:x@y\r\n"
    "DTSTAMP:20260301T000000Z\r\nDTSTART:20260310T100000Z\r\nSUMMARY:Mine\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


async def _setup(tenant: Tenant) -> tuple[dict[str, str], dict[str, object]]:
    await make_segment(tenant.api, timezone="Europe/Berlin")
    event = await add_event(tenant.api, "news", title="Opening", start="2026-03-10T10:00:00")
    links = await subscribe(tenant.api, tenant.slug, "news", "Europe/Berlin")
    return links, event


async def _counts(client: TestClient) -> tuple[int, int, int]:  # type: ignore[type-arg]
    async with client.app[SESSIONS]() as session:
        events = await session.scalar(select(func.count()).select_from(Event))
        segments = await session.scalar(select(func.count()).select_from(Segment))
        version = await session.scalar(select(func.sum(Segment.version)))
    return int(events or 0), int(segments or 0), int(version or 0)


async def test_writes_are_refused_and_nothing_changes(
    client: TestClient,
    tenant: Tenant,  # type: ignore[type-arg]
) -> None:
    links, event = await _setup(tenant)
    before = await _counts(client)
    path = calendar_path(links)
    auth = basic(links)
    put = await dav(client, "PUT", path + "new.ics", ICS, {**auth, "Content-Type": "text/calendar"})
    delete = await dav(client, "DELETE", path + f"e{event['id']}.ics", headers=auth)
    delete_all = await dav(client, "DELETE", path, headers=auth)
    mkcalendar = await dav(
        client, "MKCALENDAR", f"/dav/{links['caldav_password']}/more/", headers=auth
    )
    proppatch = await dav(client, "PROPPATCH", path, (
        '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
        "<D:displayname>Mine</D:displayname></D:prop></D:set></D:propertyupdate>"
    ), auth)  # fmt: skip
    assert [put[0], delete[0], delete_all[0], mkcalendar[0], proppatch[0]] == [403] * 5
    assert await _counts(client) == before
    status, body, _ = await dav(client, "GET", path + f"e{event['id']}.ics", headers=auth)
    assert status == 200 and "SUMMARY:Opening" in body


async def test_a_tampered_token_gets_401_at_once(client: TestClient, tenant: Tenant) -> None:  # type: ignore[type-arg]
    links, _ = await _setup(tenant)
    token = links["caldav_password"]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for headers, path in (
        (basic(links, tampered), "/dav/"),
        ({}, f"/dav/{tampered}/calendar/"),
        (basic(links, "not-a-token"), "/dav/"),
        ({"Authorization": "Basic %%%"}, "/dav/"),
        ({}, "/dav/"),
    ):
        status, body, answer = await dav(
            client, "PROPFIND", path, PROPFIND, {"Depth": "0", **headers}
        )
        assert status == 401, (path, headers)
        assert answer["WWW-Authenticate"].startswith("Basic ")
        assert "token" in body


async def test_one_token_cannot_read_another_subscription(
    client: TestClient,
    tenant: Tenant,  # type: ignore[type-arg]
) -> None:
    links, event = await _setup(tenant)
    other = await subscribe(tenant.api, tenant.slug, "news", "Europe/Berlin")
    path = calendar_path(links) + f"e{event['id']}.ics"
    status, body, _ = await dav(client, "GET", path, headers=basic(other))
    assert status in (403, 404) and "Opening" not in body
    listing = await dav(client, "PROPFIND", f"/dav/{links['caldav_password']}/", PROPFIND,
                        {"Depth": "1", **basic(other)})  # fmt: skip
    assert listing[0] in (403, 404) and links["caldav_password"] not in listing[1]


async def test_path_traversal_is_refused(client: TestClient, tenant: Tenant) -> None:  # type: ignore[type-arg]
    links, _ = await _setup(tenant)
    other = await subscribe(tenant.api, tenant.slug, "news", "Europe/Berlin")
    token = links["caldav_password"]
    for path in (
        f"/dav/{token}/../{other['caldav_password']}/calendar/",
        f"/dav/{token}/%2e%2e/{other['caldav_password']}/calendar/",
        f"/dav/{token}/calendar/..%2f..%2f",
        f"/dav/{token}/calendar/%5c..%5c",
    ):
        status, body, _ = await dav(
            client, "PROPFIND", path, PROPFIND, {"Depth": "1", **basic(links)}
        )
        assert status in (400, 403, 404), path
        assert "Opening" not in body and other["caldav_password"] not in body


BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<D:propfind xmlns:D="DAV:"><D:prop><D:displayname>&lol3;</D:displayname></D:prop></D:propfind>"""


async def test_xml_bombs_and_oversized_bodies_are_refused_unparsed(
    client: TestClient,
    tenant: Tenant,  # type: ignore[type-arg]
) -> None:
    links, _ = await _setup(tenant)
    path, auth = calendar_path(links), basic(links)
    status, body, _ = await dav(client, "PROPFIND", path, BOMB, {"Depth": "0", **auth})
    assert status == 400 and "DOCTYPE" in body
    wide = BOMB.replace('encoding="utf-8"', "").encode("utf-16")  # the same bomb, in UTF-16
    headers = {"Depth": "0", "Content-Type": "application/xml; charset=utf-16", **auth}
    assert (await dav(client, "PROPFIND", path, wide, headers))[0] == 400
    limit = client.app[CONFIG].caldav_max_body_bytes
    huge = PROPFIND.replace("<D:prop>", "<D:prop>" + " " * limit)
    assert (await dav(client, "PROPFIND", path, huge, {"Depth": "0", **auth}))[0] == 413

    async def chunks():  # no Content-Length: refused while it is read
        yield PROPFIND[:40].encode()
        for _ in range(limit // 4096 + 2):
            yield b" " * 4096

    async with client.request("PROPFIND", path, data=chunks(), headers={"Depth": "0", **auth}) as r:
        assert r.status == 413


async def test_unsupported_report_is_refused_per_rfc(client: TestClient, tenant: Tenant) -> None:  # type: ignore[type-arg]
    links, _ = await _setup(tenant)
    report = """<?xml version="1.0"?><D:acl-principal-prop-set xmlns:D="DAV:">
      <D:prop><D:displayname/></D:prop></D:acl-principal-prop-set>"""
    status, body, _ = await dav(client, "REPORT", calendar_path(links), report,
                                {"Depth": "0", **basic(links)})  # fmt: skip
    assert status in (403, 501)
    if status == 403:
        assert "supported-report" in body


def _tokens(body: str) -> list[str]:
    return [str(e.text) for e in ET.fromstring(body).iter("{DAV:}sync-token")]


def _hrefs(body: str) -> dict[str, str]:
    """Each response's item name and its HTTP status (of the response or its propstat)."""
    found = {}
    for response in ET.fromstring(body).iter("{DAV:}response"):
        href = response.findtext("{DAV:}href") or ""
        status = response.findtext("{DAV:}status") or response.findtext(
            "{DAV:}propstat/{DAV:}status"
        )
        assert status, ET.tostring(response)
        found[href.rstrip("/").rsplit("/", 1)[-1]] = status.split()[1]
    return found


async def test_sync_tokens_on_the_wire(
    client: TestClient,
    tenant: Tenant,
    clock: FrozenClock,  # type: ignore[type-arg]
) -> None:
    links, event = await _setup(tenant)
    other = await add_event(tenant.api, "news", title="Second", start="2026-03-11T10:00:00")
    clock.advance(timedelta(hours=1))
    path, auth = calendar_path(links), {"Depth": "1", **basic(links)}
    status, body, _ = await dav(client, "REPORT", path, SYNC_REPORT.format(token=""), auth)
    assert status == 207
    [token] = _tokens(body)
    assert _hrefs(body) == {f"e{event['id']}.ics": "200", f"e{other['id']}.ics": "200"}
    # No change: the same token back and no response at all (the ctag did not move either).
    status, body, _ = await dav(client, "REPORT", path, SYNC_REPORT.format(token=token), auth)
    assert status == 207 and _tokens(body) == [token] and _hrefs(body) == {}
    deleted = await tenant.api.delete(f"/api/v1/segments/news/events/{event['id']}")
    assert deleted.status == 204
    status, body, _ = await dav(client, "REPORT", path, SYNC_REPORT.format(token=token), auth)
    assert _hrefs(body) == {f"e{event['id']}.ics": "404"}  # only the deletion, not "Second"
    # A token from nowhere: the client is told to start over (RFC 6578 valid-sync-token).
    lineage = token.rsplit(":", 3)[0]
    for bad in ("urn:x:1", f"{lineage}:abc:99999999999999999999", f"{lineage}:abc:x", "a:b:c:d:e"):
        status, body, _ = await dav(client, "REPORT", path, SYNC_REPORT.format(token=bad), auth)
        assert status == 403 and "valid-sync-token" in body, bad


async def test_ctag_moves_only_when_the_calendar_changes(
    client: TestClient,
    tenant: Tenant,  # type: ignore[type-arg]
) -> None:
    links, event = await _setup(tenant)
    path, auth = calendar_path(links), {"Depth": "0", **basic(links)}

    async def ctag() -> str:
        status, body, _ = await dav(client, "PROPFIND", path, PROPFIND, auth)
        assert status == 207
        found = ET.fromstring(body).findtext(".//{http://calendarserver.org/ns/}getctag")
        assert found, body
        return found

    first = await ctag()
    assert await ctag() == first
    await tenant.api.patch(f"/api/v1/segments/news/events/{event['id']}", {"title": "Moved"})
    assert await ctag() != first


async def test_well_known_redirects_to_the_dav_root(client: TestClient) -> None:  # type: ignore[type-arg]
    async with client.get("/.well-known/caldav", allow_redirects=False) as answer:
        assert answer.status == 301 and answer.headers["Location"] == "/dav/"


async def test_tokens_never_reach_the_logs(
    client: TestClient,
    tenant: Tenant,
    caplog: pytest.LogCaptureFixture,  # type: ignore[type-arg]
) -> None:
    links, _ = await _setup(tenant)
    caplog.set_level(logging.DEBUG)
    token = links["caldav_password"]
    await dav(client, "PROPFIND", calendar_path(links), PROPFIND, {"Depth": "1", **basic(links)})
    await dav(client, "REPORT", calendar_path(links), SYNC_REPORT.format(token="urn:bad:1"),
              {"Depth": "1", **basic(links)})  # fmt: skip
    await dav(client, "PROPFIND", f"/dav/{token[:-3]}xyz/calendar/", PROPFIND, {"Depth": "1"})
    assert [r for r in caplog.records if r.name == "radicale" and "[token]" in r.getMessage()]
    assert not [r for r in caplog.records if token[-20:] in r.getMessage()]


QUERY = """<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR">
<C:comp-filter name="VEVENT"><C:time-range start="{start}" end="{end}"/>{extra}
</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"""
# A second condition makes the filter "not simple": Radicale then parses every candidate and
# decides itself, which is what the server's own time-range answer must agree with.
ANY_UID = '<C:prop-filter name="UID"/>'


async def test_time_range_answers_agree_with_radicales_own_filter(
    client: TestClient,
    tenant: Tenant,  # type: ignore[type-arg]
) -> None:
    await make_segment(tenant.api, timezone="Europe/Berlin")
    await add_event(tenant.api, "news", title="Weekly", start="2026-03-19T10:00:00",
                    rrule="FREQ=WEEKLY;COUNT=6")  # fmt: skip
    await add_event(tenant.api, "news", title="Local", start="2026-03-28T23:30:00",
                    local_time=True, duration="PT2H")  # fmt: skip
    await add_event(tenant.api, "news", title="NY", start="2026-03-29T01:00:00",
                    timezone="America/New_York")  # fmt: skip
    await add_event(tenant.api, "news", title="Day", start="2026-03-30", all_day=True)
    links = await subscribe(tenant.api, tenant.slug, "news", "Asia/Tokyo")
    path, auth = calendar_path(links), {"Depth": "1", **basic(links)}
    windows = [
        ("20260326T090000Z", "20260326T100000Z"),  # exactly the first CET occurrence
        ("20260326T100000Z", "20260402T080000Z"),  # from its end to the next one's start
        ("20260402T075959Z", "20260402T080001Z"),
        ("20260328T140000Z", "20260328T143000Z"),  # the local event: 23:30 in Tokyo
        ("20260329T040000Z", "20260329T060000Z"),  # 01:00 in New York (EDT) is 05:00Z
        ("20260329T000000Z", "20260331T000000Z"),
        ("20270101T000000Z", "20270201T000000Z"),  # nothing
    ]
    for start, end in windows:
        ours = await dav(client, "REPORT", path, QUERY.format(start=start, end=end, extra=""), auth)
        radicale = await dav(
            client, "REPORT", path, QUERY.format(start=start, end=end, extra=ANY_UID), auth
        )
        assert ours[0] == radicale[0] == 207
        assert _hrefs(ours[1]) == _hrefs(radicale[1]), (start, end)
    found = _hrefs((await dav(client, "REPORT", path, QUERY.format(
        start="20260326T090000Z", end="20260326T100000Z", extra=""), auth))[1])  # fmt: skip
    assert len(found) == 1


async def test_bad_tokens_never_reach_radicales_pool(
    aiohttp_client: Any, config: Config, clock: FrozenClock
) -> None:
    client = await aiohttp_client(create_app(config, clock=clock))
    other = create_app(config.replace(secrets=["another-secret-0123456789"]), clock=clock)
    forged = other[SIGNER].sign("feed", 1)  # well formed, signed with a foreign secret
    for attempt in range(30):
        headers = {
            "Authorization": "Basic " + base64.b64encode(f"u:{forged}{attempt}".encode()).decode()
        }
        assert (await dav(client, "PROPFIND", "/dav/", PROPFIND, headers))[0] == 401
        assert (await dav(client, "PROPFIND", f"/dav/{forged}/calendar/", PROPFIND))[0] == 401
    assert client.app[DAV].pool._threads == set()  # no worker was ever started


async def test_rate_limit_per_address(
    aiohttp_client: Any, config: Config, clock: FrozenClock
) -> None:
    client = await aiohttp_client(create_app(config.replace(caldav_rate_limit=5), clock=clock))
    statuses = [(await dav(client, "PROPFIND", "/dav/", PROPFIND))[0] for _ in range(8)]
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429] * 3


async def test_an_unsubscribed_calendar_empties_and_says_so(
    client: TestClient,
    tenant: Tenant,  # type: ignore[type-arg]
) -> None:
    links, _ = await _setup(tenant)
    path, auth = calendar_path(links), {"Depth": "1", **basic(links)}
    status, body, _ = await dav(client, "REPORT", path, SYNC_REPORT.format(token=""), auth)
    [token] = _tokens(body)
    async with client.post(path_of(links["unsubscribe_url"])) as answer:
        assert answer.status == 200
    status, body, _ = await dav(client, "REPORT", path, SYNC_REPORT.format(token=token), auth)
    assert status == 403 and "valid-sync-token" in body  # start over...
    status, body, _ = await dav(client, "REPORT", path, SYNC_REPORT.format(token=""), auth)
    assert status == 207 and _hrefs(body) == {}  # ...with an empty calendar
    status, body, _ = await dav(client, "PROPFIND", path, PROPFIND, {**auth, "Depth": "0"})
    assert "Shop news (unsubscribed)" in body


async def test_a_body_sent_in_many_chunks_arrives_whole(client: TestClient, tenant: Tenant) -> None:  # type: ignore[type-arg]
    links, event = await _setup(tenant)
    hrefs = "".join(f"<D:href>{calendar_path(links)}e{i}.ics</D:href>" for i in range(1, 400))
    multiget = (
        '<?xml version="1.0" encoding="utf-8"?><C:calendar-multiget xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop>'
        f"{hrefs}</C:calendar-multiget>"
    ).encode()

    async def chunks():  # slowly: the server sees the body arrive piece by piece
        for start in range(0, len(multiget), 4000):
            yield multiget[start : start + 4000]
            await asyncio.sleep(0.02)

    async with client.request("REPORT", calendar_path(links), data=chunks(),
                              headers={"Depth": "1", **basic(links)}) as answer:  # fmt: skip
        assert answer.status == 207
        found = _hrefs(await answer.text())
    assert found[f"e{event['id']}.ics"] == "200" and len(found) == 399


async def test_old_tokens_are_refused_and_old_tombstones_dropped(
    client: TestClient,
    tenant: Tenant,
    clock: FrozenClock,  # type: ignore[type-arg]
) -> None:
    links, event = await _setup(tenant)
    second = await add_event(tenant.api, "news", title="Second", start="2027-03-11T10:00:00")
    third = await add_event(tenant.api, "news", title="Third", start="2027-03-12T10:00:00")
    path, auth = calendar_path(links), {"Depth": "1", **basic(links)}
    await tenant.api.delete(f"/api/v1/segments/news/events/{event['id']}")
    clock.advance(timedelta(hours=1))
    [token] = _tokens((await dav(client, "REPORT", path, SYNC_REPORT.format(token=""), auth))[1])
    clock.advance(timedelta(days=59))
    await tenant.api.delete(f"/api/v1/segments/news/events/{second['id']}")
    status, body, _ = await dav(client, "REPORT", path, SYNC_REPORT.format(token=token), auth)
    assert status == 207 and _hrefs(body) == {f"e{second['id']}.ics": "404"}
    clock.advance(timedelta(days=2))
    await tenant.api.delete(f"/api/v1/segments/news/events/{third['id']}")
    status, body, _ = await dav(client, "REPORT", path, SYNC_REPORT.format(token=token), auth)
    assert status == 403 and "valid-sync-token" in body  # 61 days old: start over
    async with client.app[SESSIONS]() as session:
        kept = (await session.scalars(select(DeletedEvent.event_id))).all()
    assert sorted(kept) == [second["id"], third["id"]]  # the first one's tombstone is gone


async def test_an_unchanged_sync_is_answered_on_the_loop_exactly_as_radicale_would(
    client: TestClient,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[type-arg]
) -> None:
    from web.dav import bridge

    links, _ = await _setup(tenant)
    path, auth = calendar_path(links), {"Depth": "1", **basic(links)}
    _, body, _ = await dav(client, "REPORT", path, SYNC_REPORT.format(token=""), auth)
    [token] = _tokens(body)
    runs: list[int] = []
    real_run = bridge._run

    def counted(*args: Any) -> Any:
        runs.append(1)
        return real_run(*args)

    monkeypatch.setattr(bridge, "_run", counted)
    fast = await dav(client, "REPORT", path, SYNC_REPORT.format(token=token), auth)
    assert runs == []  # no pool thread, no Radicale
    monkeypatch.setattr(bridge, "_unchanged_sync", lambda *args: None)
    radicale = await dav(client, "REPORT", path, SYNC_REPORT.format(token=token), auth)
    assert runs == [1]
    assert fast[0] == radicale[0] == 207 and fast[1] == radicale[1]
    assert fast[2]["Content-Type"] == radicale[2]["Content-Type"]
