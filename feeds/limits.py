"""The range of instants and durations calserver stores and renders.

Every value that reaches the database must stay renderable in every subscriber zone, in every
calendar client, for the whole life of the row. So the edges (API, dashboard, import, triggers)
refuse anything outside these bounds, and the renderer can rely on them. Offsets of real zones
stay within ±26 hours, so a wall-clock time inside [EARLIEST_LOCAL, LATEST_LOCAL] is inside
[EARLIEST_UTC, LATEST_UTC] after conversion to any zone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from feeds.i18n import Sentence, say, say_n

# Wall-clock (naive, any zone) and all-day values accepted at the edge.
EARLIEST_LOCAL = datetime(1901, 1, 1)
LATEST_LOCAL = datetime(2199, 12, 31, 23, 59, 59)
EARLIEST_DATE = EARLIEST_LOCAL.date()
LATEST_DATE = LATEST_LOCAL.date()

# The same range as instants, with a day of margin on each side for any zone's offset.
EARLIEST_UTC = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_UTC = datetime(2201, 1, 1, tzinfo=UTC)

# Durations of an event and offsets of an alarm or a deadline.
MAX_EVENT_DURATION = timedelta(days=366)
MAX_ALARM_OFFSET = timedelta(days=28)


def local_in_range(value: datetime | date) -> bool:
    """True when a naive wall-clock datetime or a date lies in the accepted range."""
    if isinstance(value, datetime):
        return EARLIEST_LOCAL <= value.replace(tzinfo=None) <= LATEST_LOCAL
    return EARLIEST_DATE <= value <= LATEST_DATE


def instant_in_range(value: datetime) -> bool:
    """True when an aware datetime lies in the accepted range of instants."""
    return EARLIEST_UTC <= value <= LATEST_UTC


RANGE_TEXT = say(
    "between %(earliest)s and %(latest)s",
    earliest=EARLIEST_DATE.isoformat(),
    latest=LATEST_DATE.isoformat(),
)


def event_problems(
    start_wall: datetime, duration_seconds: int, alarms: list[int], ends_at: datetime | None
) -> list[tuple[str, str]]:
    """(field, message) for each part of an event outside the accepted range: its start
    (wall clock), its end (UTC: the last occurrence's, None for an endless rule), its
    duration and its alarm offsets."""
    problems: list[tuple[str, str]] = []
    if not local_in_range(start_wall):
        problems.append(("/start", say("must be %(range)s", range=RANGE_TEXT)))
    elif ends_at is not None and not instant_in_range(ends_at):
        problems.append(
            ("/end", say("the event (its last occurrence) must end %(range)s", range=RANGE_TEXT))
        )
    if not 0 <= duration_seconds <= MAX_EVENT_DURATION.total_seconds():
        problems.append(("/duration", _at_most_days(MAX_EVENT_DURATION.days)))
    for index, offset in enumerate(alarms):
        if not -MAX_ALARM_OFFSET.total_seconds() <= offset <= MAX_ALARM_OFFSET.total_seconds():
            problems.append(
                (f"/alarms/{index}", say_n("must be within %(num)s day", "must be within %(num)s days", MAX_ALARM_OFFSET.days))
            )  # fmt: skip
    return problems


def _at_most_days(days: int) -> Sentence:
    return say_n("must be at most %(num)s day", "must be at most %(num)s days", days)
