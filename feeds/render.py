"""Rendering one stored event as VEVENT text for one subscriber zone.

Runs when a feed cache entry is built (once per segment version, zone and day), never
on a poll. Output is plain text with LINK_PLACEHOLDER where the subscriber's link goes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from feeds.alarms import QuietHours, alarm_offset, to_utc, to_wall
from feeds.i18n import DEFAULT_LANGUAGE, N_, texts
from feeds.ics import (
    date_stamp,
    datetime_prop,
    duration_text,
    linked_text_prop,
    prop,
    text_prop,
    utc_stamp,
)
from feeds.recurrence import feed_rule, rule_for


class AnyEvent(Protocol):
    """What rendering reads of an event (storage.models.EventColumns): segment events and a
    contact's personal events (triggers, as ORM objects or as the cascade worker's rows)
    render alike."""

    @property
    def id(self) -> int: ...
    @property
    def uid(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def location(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def start_local(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def duration_seconds(self) -> int: ...
    @property
    def rrule(self) -> str | None: ...
    @property
    def alarms(self) -> list[int]: ...
    @property
    def sequence(self) -> int: ...
    @property
    def updated_at(self) -> datetime: ...


# Occurrences looked at for per-occurrence alarms, and overrides written at most.
MAX_OCCURRENCES = 400
MAX_OVERRIDES = 100
# Each event's description ends with this line, then the subscriber's own link.
LINK_LABEL = N_("Unsubscribe or change settings:")


@dataclass(frozen=True)
class Window:
    """Occurrences between these instants get their alarms computed one by one."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Rendered:
    text: str
    zones: frozenset[str]
    first_wall_year: int


def _zone(event: AnyEvent, subscriber_zone: str) -> str:
    return event.timezone if event.kind == "timed" else subscriber_zone


def _start_wall(event: AnyEvent, zone: str) -> datetime:
    if event.kind == "all_day":
        return datetime.combine(date.fromisoformat(event.start_local), datetime.min.time())
    wall = datetime.fromisoformat(event.start_local)
    if event.kind == "local" and not event.rrule:
        # A single "same local time" event on a time skipped by DST moves past the gap,
        # as RFC 5545 reads it, so every client shows the same moment.
        wall = to_wall(to_utc(wall, zone), zone)
    return wall


def event_start(event: AnyEvent, subscriber_zone: str) -> tuple[str, datetime]:
    """The zone an event is written in for this subscriber, and its first wall-clock start."""
    zone = _zone(event, subscriber_zone)
    return zone, _start_wall(event, zone)


def _occurrences(
    event: AnyEvent, start_wall: datetime, zone: str, window: Window
) -> list[datetime]:
    if not event.rrule:
        return [start_wall]
    rule = rule_for(event.rrule, start_wall, zone)
    low = to_wall(window.start, zone) - timedelta(days=1)
    high = to_wall(window.end, zone)
    found: list[datetime] = []
    for occurrence in rule.xafter(max(low, start_wall), count=MAX_OCCURRENCES, inc=True):
        if occurrence > high:
            break
        found.append(occurrence)
    return found or [start_wall]


def _offsets(
    event: AnyEvent, wall: datetime, zone: str, sub_zone: str, quiet: QuietHours
) -> tuple[int, ...]:
    offsets = {alarm_offset(wall, zone, before, sub_zone, quiet) for before in event.alarms}
    return tuple(sorted(offsets, reverse=True))


def _alarms(event: AnyEvent, offsets: tuple[int, ...]) -> str:
    return "".join(
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\n"
        + text_prop("DESCRIPTION", event.title)
        + prop("TRIGGER", duration_text(-offset))
        + "END:VALARM\r\n"
        for offset in offsets
    )


def _times(event: AnyEvent, wall: datetime, zone: str) -> str:
    if event.kind == "all_day":
        end = wall.date() + timedelta(seconds=event.duration_seconds)
        return prop("DTSTART;VALUE=DATE", date_stamp(wall.date())) + prop(
            "DTEND;VALUE=DATE", date_stamp(end)
        )
    if event.kind == "timed":
        end_wall = to_wall(to_utc(wall, zone) + timedelta(seconds=event.duration_seconds), zone)
    else:
        end_wall = wall + timedelta(seconds=event.duration_seconds)
    return datetime_prop("DTSTART", wall, zone) + datetime_prop("DTEND", end_wall, zone)


def link_label(language: str) -> str:
    """The line before the subscriber's link, in the subscription's language."""
    return texts(language).gettext(LINK_LABEL) + "\n"


def _vevent(
    event: AnyEvent, wall: datetime, zone: str, offsets: tuple[int, ...], recurrence_id: bool,
    label: str,
) -> str:  # fmt: skip
    lines = [
        "BEGIN:VEVENT\r\n",
        prop("UID", event.uid),
        prop("DTSTAMP", utc_stamp(event.updated_at)),
    ]
    lines.append(prop("LAST-MODIFIED", utc_stamp(event.updated_at)))
    lines.append(prop("SEQUENCE", str(event.sequence)))
    if recurrence_id:
        value = date_stamp(wall.date()) if event.kind == "all_day" else None
        lines.append(
            prop("RECURRENCE-ID;VALUE=DATE", value)
            if value
            else datetime_prop("RECURRENCE-ID", wall, zone)
        )
    lines.append(_times(event, wall, zone))
    if event.rrule and not recurrence_id:
        lines.append(prop("RRULE", feed_rule(event.rrule, event.kind, zone)))
    lines.append(text_prop("SUMMARY", event.title))
    if event.location:
        lines.append(text_prop("LOCATION", event.location))
    if event.url:
        lines.append(prop("URL", event.url))
    separator = "\n\n—\n" if event.description else ""
    lines.append(linked_text_prop("DESCRIPTION", event.description + separator + label))
    cancelled = getattr(event, "status", "") == "cancelled"
    lines.append("STATUS:CANCELLED\r\n" if cancelled else "STATUS:CONFIRMED\r\n")
    lines.append("TRANSP:TRANSPARENT\r\n")
    # VALARMs last: New Outlook drops properties that come after a VALARM.
    if not cancelled:
        lines.append(_alarms(event, offsets))
    lines.append("END:VEVENT\r\n")
    return "".join(lines)


def render_event(
    event: AnyEvent, subscriber_zone: str, quiet: QuietHours, window: Window,
    language: str = DEFAULT_LANGUAGE,
) -> Rendered:  # fmt: skip
    zone = _zone(event, subscriber_zone)
    start_wall = _start_wall(event, zone)
    occurrences = _occurrences(event, start_wall, zone, window)
    per_occurrence = [
        (wall, _offsets(event, wall, zone, subscriber_zone, quiet)) for wall in occurrences
    ]
    # The series carries the alarms most occurrences need; the others get overrides.
    series = Counter(offsets for _, offsets in per_occurrence).most_common(1)[0][0]
    label = link_label(language)
    parts = [_vevent(event, start_wall, zone, series, recurrence_id=False, label=label)]
    overrides = [(wall, offsets) for wall, offsets in per_occurrence if offsets != series]
    for wall, offsets in overrides[:MAX_OVERRIDES]:
        parts.append(_vevent(event, wall, zone, offsets, recurrence_id=True, label=label))
    zones = frozenset() if event.kind == "all_day" or zone == "UTC" else frozenset({zone})
    return Rendered("".join(parts), zones, start_wall.year)
