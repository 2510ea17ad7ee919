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

from calserver.shapes.events import EventInput
from calserver.shapes.fields import check_body
from calserver.validation import FieldErrors, format_duration, parse_duration
from feeds.i18n import Sentence, say, say_n
from feeds.limits import MAX_EVENT_DURATION as MAX_DURATION
from feeds.limits import RANGE_TEXT, event_problems, local_in_range
from feeds.recurrence import RecurrenceError, check_rrule
from storage.models import EventColumns

DEFAULT_TIMED_DURATION = timedelta(hours=1)


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


class _Errors(list[tuple[str, str]]):
    def fail(self, field: str, message: Sentence) -> None:
        self.append((f"/{field}", message))


def _parse_time(errors: _Errors, name: str, raw: str, all_day: bool, local: bool, zone: str) -> Any:
    """A date (all-day) or a naive wall-clock datetime in ``zone``; None after an error.
    The shape (EventInput) already checked the form and the years."""
    if all_day:
        if len(raw) > 10:
            errors.fail(name, say("all-day events take a date such as 2026-12-31"))
            return None
        value: Any = _calendar(errors, name, raw, date.fromisoformat)
        return value
    if len(raw) <= 10:
        errors.fail(name, say("give a time of day, or set all_day"))
        return None
    value = _calendar(errors, name, raw.replace(" ", "T", 1), datetime.fromisoformat)
    if value is None:
        return None
    if value.tzinfo is not None:
        if local:
            errors.fail(name, say("local_time events take a wall-clock time without an offset"))
            return None
        value = value.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    value = value.replace(microsecond=0)
    if not local_in_range(value):
        errors.fail(name, say("must be %(range)s", range=RANGE_TEXT))
        return None
    return value


def _calendar(errors: _Errors, name: str, raw: str, parse: Any) -> Any:
    try:
        return parse(raw)
    except ValueError:
        errors.fail(name, say("%(day)s is not a day of the calendar", day=raw[:10]))
        return None


def _duration(
    errors: _Errors, shape: EventInput, start: Any, zone: str, all_day: bool, local: bool
) -> int | None:
    has_end, has_duration = shape.end is not None, shape.duration is not None
    if has_end and has_duration:
        errors.fail("duration", say("give end or duration, not both"))
        return None
    if shape.duration is not None:
        delta = parse_duration(shape.duration)  # the shape checked it is positive and bounded
    elif shape.end is not None:
        end = _parse_time(errors, "end", shape.end, all_day, local, zone)
        if end is None or start is None:
            return None
        if all_day or local:
            delta = end - start
        else:
            delta = wall_to_utc(end, zone) - wall_to_utc(start, zone)
        if delta <= timedelta(0):
            errors.fail("end", say("must be after start"))
            return None
    else:
        delta = timedelta(days=1) if all_day else DEFAULT_TIMED_DURATION
    if all_day and delta % timedelta(days=1):
        errors.fail("duration" if has_duration else "end", say("all-day events last whole days"))
        return None
    if delta > MAX_DURATION:
        errors.fail(
            "duration" if has_duration else "end",
            say_n(
                "an event may last at most %(num)s day",
                "an event may last at most %(num)s days",
                MAX_DURATION.days,
            ),
        )
        return None
    return int(delta.total_seconds())


def parse_event(body: Any, default_timezone: str) -> EventSpec:
    """Validate a full event body (POST, or a PATCH merged onto the stored event): its
    shape (EventInput), then the rules between its fields."""
    shape = body if isinstance(body, EventInput) else check_body(EventInput, body)
    errors = _Errors()
    local, all_day = bool(shape.local_time), bool(shape.all_day)
    if local and all_day:
        errors.fail("local_time", say("all-day events are always in the subscriber's own dates"))
    zone = shape.timezone or default_timezone
    start = _parse_time(errors, "start", shape.start, all_day, local, zone)
    if start is not None and not all_day and not local and _is_nonexistent(start, zone):
        errors.fail(
            "start",
            say(
                "%(start)s does not exist in %(zone)s (clocks move forward)",
                start=start.strftime("%Y-%m-%d %H:%M"),
                zone=zone,
            ),
        )
    duration = _duration(errors, shape, start, zone, all_day, local)
    if errors:
        raise FieldErrors(list(errors))
    start, duration = cast(Any, start), cast(int, duration)
    wall = start if isinstance(start, datetime) else datetime.combine(start, datetime.min.time())
    last_start = None
    kind = "all_day" if all_day else ("local" if local else "timed")
    rule = shape.rrule
    if rule:
        try:
            recurrence = check_rrule(rule, wall, kind, zone)
        except RecurrenceError as error:
            raise FieldErrors([("/rrule", error.args[0])]) from None
        rule, last_start = recurrence.text, recurrence.last_start
    if not local_in_range(wall + timedelta(seconds=duration)):
        raise FieldErrors(
            [
                (
                    "/end" if shape.end else "/duration",
                    say("the event must end %(range)s", range=RANGE_TEXT),
                )
            ]
        )
    starts_at = wall_to_utc(wall, zone)
    if rule and last_start is None:
        ends_at = None
    else:
        ends_at = wall_to_utc(last_start or wall, zone) + timedelta(seconds=duration)
    alarms = sorted(
        {int(parse_duration(a.before).total_seconds()) for a in shape.alarms or []}, reverse=True
    )
    if problems := event_problems(wall, duration, alarms, ends_at):  # the last guard of the range
        raise FieldErrors(problems)
    return EventSpec(
        title=shape.title,
        description=shape.description or "",
        location=shape.location or "",
        url=shape.url or "",
        kind=kind,
        start_local=start.isoformat(),
        timezone=zone,
        duration_seconds=duration,
        rrule=rule or None,
        alarms=alarms,
        starts_at=starts_at,
        ends_at=ends_at,
        uid=shape.uid,
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
