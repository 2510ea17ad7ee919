"""The ical.js harness (tests/support/icaljs) reads hand-written calendars as expected.

VTIMEZONEs come from python icalendar's ``Timezone.from_tzid``, the kind a server writes.
Expected UTC instants were checked against zoneinfo.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

import pytest
from icalendar import Calendar, Event, Timezone

from tests.support.icaljs import parse_ics

CRLF = "\r\n"


@cache
def vtimezone(tzid: str) -> str:
    text: str = Timezone.from_tzid(tzid).to_ical().decode()
    return text


def calendar(*events: str, zones: tuple[str, ...] = ()) -> str:
    """A VCALENDAR around ``events`` (LF-separated lines), with generated VTIMEZONEs."""
    head = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//calserver//tests//EN", "X-WR-CALNAME:T"]
    body = [vtimezone(z).rstrip(CRLF) for z in zones]
    body += [e.strip().replace("\n", CRLF) for e in events]
    return CRLF.join([*head, *body, "END:VCALENDAR"]) + CRLF


def vevent(uid: str, *lines: str) -> str:
    return "\n".join(
        ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z", *lines, "END:VEVENT"]
    )


WEEKLY_NY = vevent(
    "weekly@test",
    "DTSTART;TZID=America/New_York:20260302T100000",
    "DTEND;TZID=America/New_York:20260302T110000",
    "RRULE:FREQ=WEEKLY;COUNT=3",
    "SUMMARY:Standup",
    "BEGIN:VALARM",
    "ACTION:DISPLAY",
    "DESCRIPTION:Standup soon",
    "TRIGGER:-PT15M",
    "END:VALARM",
    "BEGIN:VALARM",
    "ACTION:DISPLAY",
    "DESCRIPTION:Standup over",
    "TRIGGER;RELATED=END:PT0S",
    "END:VALARM",
    "SEQUENCE:3",
)


def only_event(result: dict[str, Any], uid: str) -> dict[str, Any]:
    events: list[dict[str, Any]] = [
        e for e in result["events"] if e["uid"] == uid and e["recurrence_id"] is None
    ]
    assert len(events) == 1, result["events"]
    return events[0]


def starts(event: dict[str, Any]) -> list[str]:
    return [o["start_utc"] for o in event["occurrences"]]


def test_tzid_event_across_new_york_dst_change() -> None:
    result = parse_ics(calendar(WEEKLY_NY, zones=("America/New_York",)))

    assert result["errors"] == []
    assert result["timezones"] == ["America/New_York"]
    assert result["calendar"] == {
        "version": "2.0",
        "prodid": "-//calserver//tests//EN",
        "x-wr-calname": "T",
    }
    event = only_event(result, "weekly@test")
    assert event["tzid"] == "America/New_York"
    assert event["is_date"] is False
    assert event["rrule"] == "FREQ=WEEKLY;COUNT=3"
    assert event["sequence"] == 3
    assert event["dtstamp"] == "2026-01-01T00:00:00Z"
    assert (event["start_utc"], event["end_utc"]) == (
        "2026-03-02T15:00:00Z",
        "2026-03-02T16:00:00Z",
    )
    # EST (-05:00) before 2026-03-08, EDT (-04:00) after.
    assert starts(event) == ["2026-03-02T15:00:00Z", "2026-03-09T14:00:00Z", "2026-03-16T14:00:00Z"]
    assert [o["end_utc"] for o in event["occurrences"]][1] == "2026-03-09T15:00:00Z"
    assert event["property_order"] == [
        "uid",
        "dtstamp",
        "dtstart",
        "dtend",
        "rrule",
        "summary",
        "valarm",
        "valarm",
        "sequence",
    ]


def test_relative_alarms_follow_each_occurrence() -> None:
    event = only_event(parse_ics(calendar(WEEKLY_NY, zones=("America/New_York",))), "weekly@test")

    assert event["alarms"] == [
        {
            "action": "DISPLAY",
            "trigger": "-PT15M",
            "related": None,
            "value_type": "duration",
            "description": "Standup soon",
        },
        {
            "action": "DISPLAY",
            "trigger": "PT0S",
            "related": "END",
            "value_type": "duration",
            "description": "Standup over",
        },
    ]
    assert [o["alarms_utc"] for o in event["occurrences"]] == [
        ["2026-03-02T14:45:00Z", "2026-03-02T16:00:00Z"],
        ["2026-03-09T13:45:00Z", "2026-03-09T15:00:00Z"],
        ["2026-03-16T13:45:00Z", "2026-03-16T15:00:00Z"],
    ]
    assert all(o["alarms_floating"] is None for o in event["occurrences"])


def test_generated_vtimezone_needs_restating_for_plain_icaljs() -> None:
    """ical.js 2.2.1 reads only the first value of a multi-valued RDATE in a VTIMEZONE."""
    text = calendar(WEEKLY_NY, zones=("America/New_York",))

    restated = parse_ics(text)
    assert any("America/New_York" in w for w in restated["warnings"])

    raw = parse_ics(text, raw_vtimezones=True)
    assert raw["warnings"] == []
    # Plain ical.js stays on EST after 1971 with these VTIMEZONEs: one hour off in summer.
    assert starts(only_event(raw, "weekly@test"))[1] == "2026-03-09T15:00:00Z"


def test_rrule_style_vtimezone_is_read_without_restating() -> None:
    zone = "\n".join(
        [
            "BEGIN:VTIMEZONE",
            "TZID:America/New_York",
            "BEGIN:DAYLIGHT",
            "TZOFFSETFROM:-0500",
            "TZOFFSETTO:-0400",
            "TZNAME:EDT",
            "DTSTART:20070311T020000",
            "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU",
            "END:DAYLIGHT",
            "BEGIN:STANDARD",
            "TZOFFSETFROM:-0400",
            "TZOFFSETTO:-0500",
            "TZNAME:EST",
            "DTSTART:20071104T020000",
            "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU",
            "END:STANDARD",
            "END:VTIMEZONE",
        ]
    )
    for raw in (False, True):
        result = parse_ics(calendar(zone, WEEKLY_NY), raw_vtimezones=raw)
        assert result["errors"] == [] and result["warnings"] == []
        assert starts(only_event(result, "weekly@test"))[:2] == [
            "2026-03-02T15:00:00Z",
            "2026-03-09T14:00:00Z",
        ]


def test_all_day_event_and_its_floating_alarm() -> None:
    event_text = vevent(
        "allday@test",
        "DTSTART;VALUE=DATE:20260612",
        "DTEND;VALUE=DATE:20260613",
        "SUMMARY:Holiday",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        "DESCRIPTION:Tomorrow",
        "TRIGGER:-PT2H",
        "END:VALARM",
    )
    result = parse_ics(calendar(event_text))

    assert result["errors"] == []
    event = only_event(result, "allday@test")
    assert event["is_date"] is True
    assert event["tzid"] is None
    assert (event["start_date"], event["end_date"]) == ("2026-06-12", "2026-06-13")
    assert (event["start_utc"], event["end_utc"]) == (None, None)
    [occurrence] = event["occurrences"]
    assert (occurrence["start_date"], occurrence["end_date"]) == ("2026-06-12", "2026-06-13")
    assert occurrence["start_utc"] is None
    # Midnight of the day as floating time, read as UTC; the wall time is what a viewer sees.
    assert occurrence["alarms_utc"] == ["2026-06-11T22:00:00Z"]
    assert occurrence["alarms_floating"] == ["2026-06-11T22:00:00"]


def test_absolute_trigger_is_the_same_instant_for_every_occurrence() -> None:
    event_text = vevent(
        "abs@test",
        "DTSTART;TZID=America/New_York:20260302T100000",
        "DURATION:PT30M",
        "RRULE:FREQ=DAILY;COUNT=2",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        "DESCRIPTION:Heads up",
        "TRIGGER;VALUE=DATE-TIME:20260301T120000Z",
        "END:VALARM",
    )
    event = only_event(parse_ics(calendar(event_text, zones=("America/New_York",))), "abs@test")

    assert event["alarms"][0]["value_type"] == "date-time"
    assert event["alarms"][0]["trigger"] == "20260301T120000Z"
    assert event["end_utc"] == "2026-03-02T15:30:00Z"
    assert [o["alarms_utc"] for o in event["occurrences"]] == [["2026-03-01T12:00:00Z"]] * 2


def test_recurrence_id_override_moves_one_occurrence() -> None:
    override = vevent(
        "weekly@test",
        "RECURRENCE-ID;TZID=America/New_York:20260309T100000",
        "DTSTART;TZID=America/New_York:20260309T130000",
        "DTEND;TZID=America/New_York:20260309T140000",
        "SUMMARY:Standup (moved)",
        "SEQUENCE:4",
    )
    result = parse_ics(calendar(WEEKLY_NY, override, zones=("America/New_York",)))

    assert result["errors"] == []
    master = only_event(result, "weekly@test")
    assert starts(master) == [
        "2026-03-02T15:00:00Z",
        "2026-03-09T17:00:00Z",
        "2026-03-16T14:00:00Z",
    ]
    assert [o["overridden"] for o in master["occurrences"]] == [False, True, False]
    assert master["occurrences"][1]["recurrence_id"] == "2026-03-09T14:00:00Z"
    # The override replaces the whole instance: it has no VALARM, so no alarm.
    assert master["occurrences"][1]["alarms_utc"] == []
    [moved] = [e for e in result["events"] if e["recurrence_id"] is not None]
    assert moved["summary"] == "Standup (moved)"
    assert moved["recurrence_id"] == "2026-03-09T14:00:00Z"
    assert moved["occurrences"] == []  # instances are listed on the master


def test_override_matching_no_instance_is_an_error() -> None:
    stray = vevent(
        "weekly@test",
        "RECURRENCE-ID;TZID=America/New_York:20260309T110000",
        "DTSTART;TZID=America/New_York:20260309T130000",
        "DURATION:PT1H",
    )
    result = parse_ics(calendar(WEEKLY_NY, stray, zones=("America/New_York",)))

    assert any("matches no instance" in e for e in result["errors"])
    assert len(only_event(result, "weekly@test")["occurrences"]) == 3


def test_override_without_master_is_an_error() -> None:
    orphan = vevent("orphan@test", "RECURRENCE-ID:20260309T150000Z", "DTSTART:20260309T170000Z")
    result = parse_ics(calendar(orphan))

    assert any("no master" in e for e in result["errors"])
    assert result["events"][0]["occurrences"] == []  # ical.js expands it to nothing


def test_text_escaping_round_trip() -> None:
    description = (
        "Bring: pens, paper; snacks\nRoom 4 \\ back door 🎉 — "
        + "a long line that must be folded by the writer " * 3
    )
    cal = Calendar()
    cal.add("prodid", "-//calserver//tests//EN")
    cal.add("version", "2.0")
    event = Event()
    event.add("uid", "text@test")
    event.add("dtstamp", datetime(2026, 1, 1, tzinfo=UTC))
    event.add("dtstart", datetime(2026, 3, 2, 15, tzinfo=UTC))
    event.add("summary", "Café; ünïcode, 日本語")
    event.add("description", description)
    event.add("location", "Room 4\\5")
    cal.add_component(event)
    text = cal.to_ical().decode()
    assert "\\," in text and "\\;" in text and "\\n" in text and "\r\n " in text

    result = parse_ics(text)

    parsed = only_event(result, "text@test")
    assert parsed["description"] == description
    assert parsed["summary"] == "Café; ünïcode, 日本語"
    assert parsed["location"] == "Room 4\\5"
    assert parsed["start_utc"] == "2026-03-02T15:00:00Z"


def test_hand_folded_line_inside_a_multibyte_text() -> None:
    event_text = vevent(
        "fold@test",
        "DTSTART:20260302T150000Z",
        "DESCRIPTION:one\\, two\\; three\\nfour 🎉",
        " five",
    )
    parsed = only_event(parse_ics(calendar(event_text)), "fold@test")

    assert parsed["description"] == "one, two; three\nfour 🎉five"


def test_tzid_without_vtimezone_is_reported() -> None:
    event_text = vevent("berlin@test", "DTSTART;TZID=Europe/Berlin:20260302T100000")
    result = parse_ics(calendar(event_text, zones=("America/New_York",)))

    assert len(result["errors"]) == 1
    assert "Europe/Berlin" in result["errors"][0]
    # ical.js falls back to floating time, which reads as UTC: 10:00 becomes 10:00Z.
    assert only_event(result, "berlin@test")["start_utc"] == "2026-03-02T10:00:00Z"


@pytest.mark.parametrize(
    ("tzid", "local_starts", "utc_starts"),
    [
        # +11:00 (DST) until 2026-04-05 02:00, then +10:30; back to +11:00 on 2026-10-04.
        (
            "Australia/Lord_Howe",
            ["20260404T090000", "20260405T090000", "20261003T090000", "20261004T090000"],
            [
                "2026-04-03T22:00:00Z",
                "2026-04-04T22:30:00Z",
                "2026-10-02T22:30:00Z",
                "2026-10-03T22:00:00Z",
            ],
        ),
        ("Asia/Kathmandu", ["20260601T090000"], ["2026-06-01T03:15:00Z"]),
    ],
)
def test_unusual_offsets(tzid: str, local_starts: list[str], utc_starts: list[str]) -> None:
    events = [
        vevent(f"{n}@test", f"DTSTART;TZID={tzid}:{start}", "DURATION:PT1H")
        for n, start in enumerate(local_starts)
    ]
    result = parse_ics(calendar(*events, zones=(tzid,)))

    assert result["errors"] == []
    assert [e["start_utc"] for e in result["events"]] == utc_starts
    assert [e["occurrences"][0]["start_utc"] for e in result["events"]] == utc_starts


def test_expansion_bounds() -> None:
    endless = vevent("daily@test", "DTSTART:20260101T090000Z", "RRULE:FREQ=DAILY")

    window = only_event(
        parse_ics(calendar(endless), start="2026-02-01T00:00:00Z", until="2026-02-04T00:00:00Z"),
        "daily@test",
    )
    assert starts(window) == [f"2026-02-0{d}T09:00:00Z" for d in (1, 2, 3)]
    assert window["occurrences_truncated"] is False

    capped = only_event(parse_ics(calendar(endless), max_occurrences=5), "daily@test")
    assert len(capped["occurrences"]) == 5
    assert capped["occurrences_truncated"] is True


def test_unreadable_text_fails() -> None:
    with pytest.raises(AssertionError, match="could not read"):
        parse_ics("this is not a calendar")
    with pytest.raises(AssertionError, match="no VCALENDAR"):
        parse_ics(b"")
