"""What clients see in a feed, read by ical.js: zones, DST, quiet hours, escaping, retention.

Expected instants are worked out by hand (and with zoneinfo) in the tests, not by the
code under test.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient
from icalendar import Calendar

from calserver.clock import FrozenClock
from tests.conftest import Tenant
from tests.support.feeds import add_event, make_segment, poll, read, subscribe

ZONES = [
    "America/New_York",
    "Europe/London",
    "Europe/Moscow",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
]


def utc(text: str) -> str:
    return datetime.fromisoformat(text).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def wall_utc(wall: str, zone: str) -> str:
    return utc(datetime.fromisoformat(wall).replace(tzinfo=ZoneInfo(zone)).isoformat())


def local(instant: str, zone: str) -> str:
    moment = datetime.fromisoformat(instant.replace("Z", "+00:00")).astimezone(ZoneInfo(zone))
    return moment.strftime("%Y-%m-%d %H:%M")


async def feed_for(client: TestClient, tenant: Tenant, zone: str) -> dict[str, Any]:  # type: ignore[type-arg]
    links = await subscribe(tenant.api, tenant.slug, "news", zone)
    feed = read(await poll(client, links["feed_url"]))
    for event in feed["events"]:
        assert not event["is_floating"], event
        for occurrence in event["occurrences"]:
            start = occurrence["start_utc"] or occurrence["start_date"] + "T00:00:00Z"
            assert all(alarm <= start for alarm in occurrence["alarms_utc"]), (
                event
            )  # never after start
    return feed


def by_title(feed: dict[str, Any], title: str) -> dict[str, Any]:
    [event] = [e for e in feed["events"] if e["summary"] == title and e["recurrence_id"] is None]
    return event


@pytest.fixture
async def segment(tenant: Tenant) -> Tenant:
    await make_segment(tenant.api, timezone="Europe/Moscow")
    await tenant.api.patch("/api/v1/workspace", {"quiet_hours": {"start": "22:00", "end": "08:00"}})
    return tenant


@pytest.mark.parametrize("zone", ZONES)
async def test_local_time_is_the_same_wall_time_in_every_zone_across_dst(
    client: TestClient,
    segment: Tenant,
    zone: str,  # type: ignore[type-arg]
) -> None:
    # Weekly from Thursday 5 March: crosses the US change (8 March), the EU change
    # (29 March) and Lord Howe's half-hour change back (5 April).
    await add_event(segment.api, "news", title="Tip", start="2026-03-05T10:00:00", local_time=True,
                    rrule="FREQ=WEEKLY;COUNT=6", alarms=[{"before": "PT15M"}])  # fmt: skip
    await add_event(
        segment.api, "news", title="Fixed", start="2026-03-12T12:00:00", timezone="Europe/Moscow"
    )
    await add_event(segment.api, "news", title="Holiday", start="2026-03-20", all_day=True)
    feed = await feed_for(client, segment, zone)
    tip = by_title(feed, "Tip")
    assert tip["tzid"] == zone
    starts = [o["start_utc"] for o in tip["occurrences"]]
    days = ["2026-03-05", "2026-03-12", "2026-03-19", "2026-03-26", "2026-04-02", "2026-04-09"]
    assert starts == [wall_utc(f"{day}T10:00:00", zone) for day in days]
    assert [local(s, zone) for s in starts] == [f"{day} 10:00" for day in days]
    for occurrence in tip["occurrences"]:
        assert [local(a, zone)[-5:] for a in occurrence["alarms_utc"]] == ["09:45"]
    assert (
        by_title(feed, "Fixed")["start_utc"] == "2026-03-12T09:00:00Z"
    )  # a fixed instant everywhere
    holiday = by_title(feed, "Holiday")
    assert (holiday["start_date"], holiday["end_date"], holiday["is_date"]) == (
        "2026-03-20",
        "2026-03-21",
        True,
    )


async def test_hand_checked_instants(client: TestClient, segment: Tenant) -> None:  # type: ignore[type-arg]
    await add_event(segment.api, "news", title="Tip", start="2026-03-05T10:00:00", local_time=True,
                    rrule="FREQ=WEEKLY;COUNT=6")  # fmt: skip
    new_york = [
        o["start_utc"]
        for o in by_title(await feed_for(client, segment, "America/New_York"), "Tip")["occurrences"]
    ]
    assert new_york[:2] == ["2026-03-05T15:00:00Z", "2026-03-12T14:00:00Z"]  # EST, then EDT
    kathmandu = by_title(await feed_for(client, segment, "Asia/Kathmandu"), "Tip")["occurrences"]
    assert kathmandu[0]["start_utc"] == "2026-03-05T04:15:00Z"  # +05:45
    lord_howe = [
        o["start_utc"]
        for o in by_title(await feed_for(client, segment, "Australia/Lord_Howe"), "Tip")[
            "occurrences"
        ]
    ]
    assert lord_howe[4:] == ["2026-04-01T23:00:00Z", "2026-04-08T23:30:00Z"]  # +11, then +10:30
    london = [
        o["start_utc"]
        for o in by_title(await feed_for(client, segment, "Europe/London"), "Tip")["occurrences"]
    ]
    assert london[3:5] == ["2026-03-26T10:00:00Z", "2026-04-02T09:00:00Z"]  # GMT, then BST


async def test_a_weekly_zoned_event_keeps_its_own_wall_time_across_dst(
    client: TestClient, segment: Tenant
) -> None:  # type: ignore[type-arg]
    await add_event(segment.api, "news", title="NY call", start="2026-03-02T10:00:00",
                    timezone="America/New_York", rrule="FREQ=WEEKLY;COUNT=3", duration="PT1H")  # fmt: skip
    event = by_title(await feed_for(client, segment, "Europe/London"), "NY call")
    assert event["tzid"] == "America/New_York"
    assert [o["start_utc"] for o in event["occurrences"]] == [
        "2026-03-02T15:00:00Z", "2026-03-09T14:00:00Z", "2026-03-16T14:00:00Z",
    ]  # fmt: skip
    assert event["occurrences"][1]["end_utc"] == "2026-03-09T15:00:00Z"


async def test_local_time_in_the_spring_forward_gap(client: TestClient, segment: Tenant) -> None:  # type: ignore[type-arg]
    # 02:30 does not exist in New York on 8 March 2026: it is read as 03:30 EDT (RFC 5545).
    await add_event(segment.api, "news", title="Gap", start="2026-03-08T02:30:00", local_time=True)
    event = by_title(await feed_for(client, segment, "America/New_York"), "Gap")
    assert event["start_utc"] == "2026-03-08T07:30:00Z"
    assert local(event["start_utc"], "America/New_York") == "2026-03-08 03:30"
    moscow = by_title(await feed_for(client, segment, "Europe/Moscow"), "Gap")
    assert moscow["start_utc"] == "2026-03-07T23:30:00Z"  # 02:30 exists in Moscow


async def test_alarms_in_quiet_hours_move_to_their_start(
    client: TestClient, segment: Tenant
) -> None:  # type: ignore[type-arg]
    await add_event(segment.api, "news", title="Early", start="2026-03-10T07:00:00", local_time=True,
                    alarms=[{"before": "PT15M"}, {"before": "PT12H"}])  # fmt: skip
    event = by_title(await feed_for(client, segment, "Asia/Kathmandu"), "Early")
    # 06:45 is quiet -> 22:00 the evening before; 19:00 the evening before is allowed.
    alarms = [local(a, "Asia/Kathmandu") for a in event["occurrences"][0]["alarms_utc"]]
    assert sorted(alarms) == ["2026-03-09 19:00", "2026-03-09 22:00"]


async def test_quiet_hours_follow_the_subscriber_not_the_event(
    client: TestClient, segment: Tenant
) -> None:  # type: ignore[type-arg]
    await add_event(segment.api, "news", title="Moscow noon", start="2026-03-10T12:00:00",
                    timezone="Europe/Moscow", alarms=[{"before": "PT1H"}])  # fmt: skip
    # 11:00 Moscow is 19:00 in Vladivostok (fine) and 03:00 in New York (quiet: 22:00 before).
    vladivostok = by_title(await feed_for(client, segment, "Asia/Vladivostok"), "Moscow noon")
    assert vladivostok["occurrences"][0]["alarms_utc"] == ["2026-03-10T08:00:00Z"]
    new_york = by_title(await feed_for(client, segment, "America/New_York"), "Moscow noon")
    assert [local(a, "America/New_York") for a in new_york["occurrences"][0]["alarms_utc"]] == [
        "2026-03-09 22:00"
    ]


async def test_recurring_alarms_stay_right_across_dst_with_overrides(
    client: TestClient, segment: Tenant
) -> None:  # type: ignore[type-arg]
    # Sunday 09:00 in New York, alarm 10 h before: 23:00 Saturday is quiet -> 22:00. On
    # 8 March (spring forward) 10 h before is already 22:00 EST, so that occurrence differs
    # in exact offset and gets its own RECURRENCE-ID; every alarm still rings at 22:00.
    await add_event(segment.api, "news", title="Brunch", start="2026-03-01T09:00:00", local_time=True,
                    rrule="FREQ=WEEKLY;COUNT=3", alarms=[{"before": "PT10H"}])  # fmt: skip
    feed = await feed_for(client, segment, "America/New_York")
    brunch = by_title(feed, "Brunch")
    alarms = [local(o["alarms_utc"][0], "America/New_York") for o in brunch["occurrences"]]
    assert alarms == ["2026-02-28 22:00", "2026-03-07 22:00", "2026-03-14 22:00"]
    assert [o["overridden"] for o in brunch["occurrences"]] == [False, True, False]


async def test_nominal_days_keep_the_wall_time_across_dst(
    client: TestClient, segment: Tenant
) -> None:  # type: ignore[type-arg]
    await add_event(segment.api, "news", title="Monday", start="2026-03-02T10:00:00", timezone="America/New_York",
                    rrule="FREQ=WEEKLY;COUNT=3", alarms=[{"before": "P1D"}])  # fmt: skip
    event = by_title(await feed_for(client, segment, "America/New_York"), "Monday")
    alarms = [local(o["alarms_utc"][0], "America/New_York") for o in event["occurrences"]]
    assert alarms == ["2026-03-01 10:00", "2026-03-08 10:00", "2026-03-15 10:00"]


async def test_all_day_alarm_respects_quiet_hours(client: TestClient, segment: Tenant) -> None:  # type: ignore[type-arg]
    await add_event(segment.api, "news", title="Sale day", start="2026-03-20", all_day=True,
                    alarms=[{"before": "PT0S"}, {"before": "PT12H"}])  # fmt: skip
    event = by_title(await feed_for(client, segment, "Europe/London"), "Sale day")
    # Midnight is quiet -> 22:00 the day before; 12:00 the day before is fine.
    assert sorted(event["occurrences"][0]["alarms_floating"]) == [
        "2026-03-19T12:00:00",
        "2026-03-19T22:00:00",
    ]


TRICKY = 'He said "hi", then; <script>alert(1)</script>\nnew line, emoji 🎉 and \\ backslash'


async def test_business_text_is_escaped(client: TestClient, segment: Tenant) -> None:  # type: ignore[type-arg]
    long_text = ("Ünïcödé, semicolons; and commas, " * 160)[:5000]
    await segment.api.patch("/api/v1/segments/news", {"name": TRICKY[:60], "description": TRICKY})
    await add_event(segment.api, "news", title=TRICKY, description=long_text + TRICKY, location=TRICKY,
                    start="2026-03-10T12:00:00", alarms=[{"before": "PT1H"}])  # fmt: skip
    links = await subscribe(segment.api, segment.slug, "news", "Europe/London")
    polled = await poll(client, links["feed_url"])
    assert all(len(line.encode()) <= 75 for line in polled.body.decode().split("\r\n"))
    feed = read(polled)
    [event] = feed["events"]
    assert event["summary"] == TRICKY and event["location"] == TRICKY
    assert event["description"].startswith(long_text + TRICKY + "\n\n—\n")
    assert event["description"].endswith(links["manage_url"])
    # Both parsers keep NAME and X-WR-CALNAME raw (their type is not known to them): they
    # must be RFC 5545 TEXT, which unescapes back to the name.
    calendar = Calendar.from_ical(polled.body)
    assert (
        unescape(feed["calendar"]["name"])
        == unescape(feed["calendar"]["x-wr-calname"])
        == TRICKY[:60]
    )
    assert str(calendar.walk("VEVENT")[0]["SUMMARY"]) == TRICKY


def unescape(raw: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), raw)


async def test_past_events_are_dropped_after_retention(
    client: TestClient, segment: Tenant, clock: FrozenClock
) -> None:  # type: ignore[type-arg]
    # Now is 2 March 2026 09:00 UTC; retention is 30 days after the end.
    await add_event(segment.api, "news", title="Long gone", start="2026-01-20T10:00:00")
    await add_event(segment.api, "news", title="Recent", start="2026-02-10T10:00:00")
    await add_event(
        segment.api,
        "news",
        title="Old series",
        start="2025-12-01T10:00:00",
        rrule="FREQ=WEEKLY;COUNT=4",
    )
    await add_event(
        segment.api, "news", title="Endless", start="2025-01-06T10:00:00", rrule="FREQ=WEEKLY"
    )
    titles = {e["summary"] for e in (await feed_for(client, segment, "Europe/Moscow"))["events"]}
    assert titles == {"Recent", "Endless"}
    clock.advance(timedelta(days=20))  # "Recent" ended 40 days ago now
    titles = {e["summary"] for e in (await feed_for(client, segment, "Europe/Moscow"))["events"]}
    assert titles == {"Endless"}
