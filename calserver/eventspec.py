"""Turning an event's JSON body into what is stored, and back.

An event is stored as a wall-clock start, a zone, a duration and a kind:
- ``timed``: a fixed instant, written in its own zone;
- ``local``: the same wall-clock time in every subscriber's own zone;
- ``all_day``: dates.
That is enough to render it for any subscriber zone later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from calserver.validation import Checker, format_duration, parse_duration
from feeds.recurrence import RecurrenceError, check_rrule
from storage.models import EventColumns

MAX_ALARMS = 10
MAX_ALARM_BEFORE = timedelta(days=28)
MAX_DURATION = timedelta(days=366)
DEFAULT_TIMED_DURATION = timedelta(hours=1)
EVENT_FIELDS = {
    "uid", "title", "description", "location", "url", "start", "end", "duration",
    "timezone", "local_time", "all_day", "rrule", "alarms",
}  # fmt: skip


@dataclass
class EventSpec:
    title: str
    description: str
    location: str
    url: str
    kind: str
    start_local: str
    timezone: str
    duration_seconds: int
    rrule: str | None
    alarms: list[int]
    starts_at: datetime
    ends_at: datetime | None
    uid: str | None = None


# The columns of an Event row that come straight from a validated spec.
SPEC_COLUMNS = (
    "title", "description", "location", "url", "kind", "start_local", "timezone",
    "duration_seconds", "rrule", "alarms", "starts_at", "ends_at",
)  # fmt: skip


def apply_spec(event: EventColumns, spec: EventSpec) -> None:
    for column in SPEC_COLUMNS:
        setattr(event, column, getattr(spec, column))


def wall_to_utc(wall: datetime, zone: str) -> datetime:
    return wall.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _is_nonexistent(wall: datetime, zone: str) -> bool:
    """True for a wall time skipped by a spring-forward change (02:30 in New York in March)."""
    return wall_to_utc(wall, zone).astimezone(ZoneInfo(zone)).replace(tzinfo=None) != wall


def _parse_start(c: Checker, name: str, all_day: bool, local: bool, zone: str) -> Any:
    """A date (all-day) or a naive wall-clock datetime in ``zone``; None after an error."""
    raw = c.body.get(name)
    if not isinstance(raw, str) or len(raw) > 40:
        c.fail(name, "must be an ISO 8601 date or date-time string")
        return None
    if all_day:
        try:
            return date.fromisoformat(raw)
        except ValueError:
            c.fail(name, "all-day events take a date such as 2026-12-31")
            return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        c.fail(name, "must be an ISO 8601 date-time such as 2026-12-31T10:00:00")
        return None
    if len(raw) <= 10:
        c.fail(name, "give a time of day, or set all_day")
        return None
    if value.tzinfo is not None:
        if local:
            c.fail(name, "local_time events take a wall-clock time without an offset")
            return None
        value = value.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    return value.replace(microsecond=0)


def _parse_alarms(c: Checker) -> list[int]:
    raw = c.body.get("alarms")
    if raw is None:
        return []
    if not isinstance(raw, list):
        c.fail("alarms", 'must be a list such as [{"before": "PT15M"}]')
        return []
    if len(raw) > MAX_ALARMS:
        c.fail("alarms", f"at most {MAX_ALARMS} alarms per event")
        return []
    seconds: list[int] = []
    for index, alarm in enumerate(raw):
        pointer = f"alarms/{index}/before"
        if not isinstance(alarm, dict) or set(alarm) != {"before"}:
            c.fail(f"alarms/{index}", "must be an object with one field, before")
            continue
        try:
            before = parse_duration(str(alarm["before"]))
        except ValueError as error:
            c.fail(pointer, str(error))
            continue
        if before < timedelta(0):
            c.fail(pointer, "the alarm would ring after the event starts")
        elif before > MAX_ALARM_BEFORE:
            c.fail(pointer, "an alarm may ring at most 28 days before the event")
        else:
            seconds.append(int(before.total_seconds()))
    return sorted(set(seconds), reverse=True)


def _duration(c: Checker, start: Any, zone: str, all_day: bool, local: bool) -> int | None:
    has_end, has_duration = c.body.get("end") is not None, c.body.get("duration") is not None
    if has_end and has_duration:
        c.fail("duration", "give end or duration, not both")
        return None
    if has_duration:
        try:
            delta = parse_duration(str(c.body["duration"]))
        except ValueError as error:
            c.fail("duration", str(error))
            return None
        if delta <= timedelta(0):
            c.fail("duration", "must be positive")
            return None
    elif has_end:
        end = _parse_start(c, "end", all_day, local, zone)
        if end is None or start is None:
            return None
        if all_day or local:
            delta = end - start
        else:
            delta = wall_to_utc(end, zone) - wall_to_utc(start, zone)
        if delta <= timedelta(0):
            c.fail("end", "must be after start")
            return None
    else:
        delta = timedelta(days=1) if all_day else DEFAULT_TIMED_DURATION
    if all_day and delta % timedelta(days=1):
        c.fail("duration" if has_duration else "end", "all-day events last whole days")
        return None
    if delta > MAX_DURATION:
        c.fail("duration" if has_duration else "end", "an event may last at most 366 days")
        return None
    return int(delta.total_seconds())


def parse_event(body: dict[str, Any], default_timezone: str) -> EventSpec:
    """Validate a full event body (POST, or a PATCH merged onto the stored event)."""
    c = Checker(body)
    c.unknown_fields(EVENT_FIELDS)
    title = c.text("title", max_length=500, required=True)
    description = c.text("description", max_length=20_000) or ""
    location = c.text("location", max_length=500) or ""
    url = c.text("url", max_length=2000) or ""
    if url and not url.startswith(("https://", "http://")):
        c.fail("url", "must be an http or https URL")
    uid = c.text("uid", max_length=255)
    if uid is not None and (not uid.strip() or any(ch in uid for ch in "\r\n")):
        c.fail("uid", "must be a non-empty single line")
    local = bool(c.boolean("local_time"))
    all_day = bool(c.boolean("all_day"))
    if local and all_day:
        c.fail("local_time", "all-day events are always in the subscriber's own dates")
    zone = c.timezone("timezone") or default_timezone
    start = _parse_start(c, "start", all_day, local, zone) if "start" in body else None
    if "start" not in body:
        c.fail("start", "is required")
    if start is not None and not all_day and not local and _is_nonexistent(start, zone):
        c.fail("start", f"{start:%Y-%m-%d %H:%M} does not exist in {zone} (clocks move forward)")
    duration = _duration(c, start, zone, all_day, local)
    alarms = _parse_alarms(c)
    rule = c.text("rrule", max_length=500)
    c.done()  # raises unless start and duration were parsed
    start, duration = cast(Any, start), cast(int, duration)
    wall = start if isinstance(start, datetime) else datetime.combine(start, datetime.min.time())
    last_start = None
    kind = "all_day" if all_day else ("local" if local else "timed")
    if rule:
        try:
            recurrence = check_rrule(rule, wall, kind, zone)
        except RecurrenceError as error:
            c.fail("rrule", str(error))
            c.done()
        rule, last_start = recurrence.text, recurrence.last_start
    starts_at = wall_to_utc(wall, zone)
    if rule and last_start is None:
        ends_at = None
    else:
        ends_at = wall_to_utc(last_start or wall, zone) + timedelta(seconds=duration)
    return EventSpec(
        title=title or "",
        description=description,
        location=location,
        url=url,
        kind=kind,
        start_local=start.isoformat(),
        timezone=zone,
        duration_seconds=duration,
        rrule=rule or None,
        alarms=alarms,
        starts_at=starts_at,
        ends_at=ends_at,
        uid=uid,
    )


def event_fields(
    kind: str, start_local: str, timezone: str, duration_seconds: int
) -> dict[str, Any]:
    """The API's view of a stored event's time fields (also the base a PATCH merges onto)."""
    all_day = kind == "all_day"
    if all_day:
        start = date.fromisoformat(start_local)
        end: str = (start + timedelta(seconds=duration_seconds)).isoformat()
        start_text = start.isoformat()
    else:
        wall = datetime.fromisoformat(start_local)
        end_wall = wall + timedelta(seconds=duration_seconds)
        if kind == "timed":
            start_text = wall.replace(tzinfo=ZoneInfo(timezone)).isoformat()
            end_utc = wall_to_utc(wall, timezone) + timedelta(seconds=duration_seconds)
            end = end_utc.astimezone(ZoneInfo(timezone)).isoformat()
        else:
            start_text, end = wall.isoformat(), end_wall.isoformat()
    return {
        "start": start_text,
        "end": end,
        "duration": format_duration(duration_seconds),
        "timezone": timezone,
        "local_time": kind == "local",
        "all_day": all_day,
    }
