"""An event's body: what the API, the dashboard's editor, imports and triggers accept."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import Field

from calserver.shapes.fields import (
    Answer,
    NoNul,
    NotBlank,
    Shape,
    Timestamp,
    Zone,
    duration_in,
    matches,
    not_blank,
    pattern,
    text,
)
from calserver.validation import DURATION_RE
from feeds.i18n import say, say_n
from feeds.limits import MAX_ALARM_OFFSET, MAX_EVENT_DURATION

MAX_ALARMS = 10
# Years 1901-2199 (feeds/limits.py), a day and an optional time, offset and fraction.
YEAR = r"(190[1-9]|19[1-9][0-9]|2[01][0-9][0-9])"
WHEN_RE = re.compile(
    rf"^{YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
    r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?)?$"
)
URL_RE = re.compile(r"^(https?://[^\s\x00]+)?$")  # empty: no link
UID_RE = re.compile(r"^[^\r\n\x00]*[^\r\n\x00\s][^\r\n\x00]*$")
RRULE_RE = re.compile(r"^(RRULE:)?[A-Za-z]+=[A-Za-z0-9,+:-]+(;[A-Za-z]+=[A-Za-z0-9,+:-]+)*$")
WHEN_TEXT = "ISO 8601 date-time (a date if all_day); with an offset, converted to `timezone`."

When = Annotated[
    str,
    pattern(WHEN_RE, 40, WHEN_TEXT),
    matches(
        WHEN_RE,
        say(
            "use an ISO 8601 date or date-time in the years 1901-2199, such as 2026-12-31T10:00:00"
        ),
    ),
]
AlarmOffset = Annotated[
    str,
    pattern(DURATION_RE, 40, "ISO 8601 duration before the start: PT15M, P1D."),
    duration_in(
        timedelta(0), MAX_ALARM_OFFSET, say("the alarm would ring after the event starts"),
        say_n("an alarm may ring at most %(num)s day before the event",
              "an alarm may ring at most %(num)s days before the event", MAX_ALARM_OFFSET.days),
    ),
]  # fmt: skip
EventDuration = Annotated[
    str,
    pattern(DURATION_RE, 40, "ISO 8601 duration, instead of end."),
    duration_in(
        timedelta(seconds=1), MAX_EVENT_DURATION, say("must be positive"),
        say_n("an event may last at most %(num)s day", "an event may last at most %(num)s days",
              MAX_EVENT_DURATION.days),
    ),
]  # fmt: skip
Uid = Annotated[str, pattern(UID_RE, 255), matches(UID_RE, say("must be a non-empty single line"))]
Url = Annotated[
    str, pattern(URL_RE, 2000), matches(URL_RE, say("must be an http or https URL (or empty)"))
]
Rule = Annotated[
    str,
    pattern(RRULE_RE, 500, "RFC 5545 RRULE; an endless rule at most 1,000 times in five years."),
    matches(RRULE_RE, say("is not an RFC 5545 RRULE such as FREQ=WEEKLY;COUNT=10")),
]
Title = Annotated[str, not_blank(500), NotBlank]


class Alarm(Shape):
    before: AlarmOffset


class EventInput(Shape):
    """A new event. Times without an offset are wall-clock times in ``timezone``."""

    uid: Uid | None = None
    title: Title
    description: Annotated[str, text(20_000), NoNul] | None = None
    location: Annotated[str, text(500), NoNul] | None = None
    url: Url | None = None
    start: When
    end: When | None = Field(None, description="Exclusive end; for all-day, the day after.")
    duration: EventDuration | None = None
    timezone: Zone | None = Field(
        None, description="Default: the segment's (for a trigger, the contact's)."
    )
    local_time: bool | None = Field(
        None, description="Same wall-clock time in every subscriber's own zone."
    )
    all_day: bool | None = None
    rrule: Rule | None = None
    alarms: Annotated[list[Alarm], Field(max_length=MAX_ALARMS)] | None = None


class EventPatch(EventInput):
    """Any event fields; they are laid over the stored event and checked whole."""

    title: Title | None = None  # type: ignore[assignment]
    start: When | None = None  # type: ignore[assignment]


class AlarmAnswer(Answer):
    before: str


class EventFields(Answer):
    """An event as the API shows it (also inside a trigger)."""

    uid: str
    title: str
    description: str
    location: str
    url: str
    start: str
    end: str
    duration: str
    timezone: str
    local_time: bool
    all_day: bool
    rrule: str | None
    alarms: list[AlarmAnswer]


class Event(EventFields):
    id: int
    sequence: int = Field(ge=0)
    created_at: Timestamp
    updated_at: Timestamp


class EventList(Answer):
    items: list[Event]
    limit: int
    offset: int
