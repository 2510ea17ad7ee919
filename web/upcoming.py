"""What a visitor of the landing page will receive: the next events and how often."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from calserver.validation import format_duration
from feeds.alarms import to_utc, to_wall
from feeds.poison import each_rendered
from feeds.recurrence import rule_for
from storage.models import Event

LOOKAHEAD_DAYS = 90
SHOWN = 5
PER_EVENT = 50


@dataclass(frozen=True)
class Upcoming:
    title: str
    when: str  # readable, in the segment's zone or "your time"
    starts_at: datetime
    # Fixed-time events: the page's script rewrites `when` in the visitor's own zone.
    convertible: bool
    all_day: bool

    @property
    def iso(self) -> str:
        return self.starts_at.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Summary:
    next_events: list[Upcoming]
    next_30_days: int
    reminders: list[str]


def _occurrences(event: Event, zone: str, now: datetime, until: datetime) -> list[datetime]:
    """UTC starts of the event between now and ``until`` (wall times read in ``zone``)."""
    if event.kind == "all_day":
        wall = datetime.combine(date.fromisoformat(event.start_local), datetime.min.time())
    else:
        wall = datetime.fromisoformat(event.start_local)
    event_zone = event.timezone if event.kind == "timed" else zone
    walls = [wall]
    if event.rrule:
        rule = rule_for(event.rrule, wall, event_zone)
        walls = list(
            rule.xafter(to_wall(now, event_zone) - timedelta(days=1), count=PER_EVENT, inc=True)
        )
    starts = [to_utc(w, event_zone) for w in walls]
    return [s for s in starts if now <= s <= until]


def _when(event: Event, start: datetime, zone: str) -> str:
    if event.kind == "all_day":
        return f"{to_wall(start, zone):%a %d %b %Y}"
    if event.kind == "local":
        return f"{to_wall(start, zone):%a %d %b %Y, %H:%M} your time"
    return f"{to_wall(start, event.timezone):%a %d %b %Y, %H:%M} ({event.timezone})"


def _reminder_text(seconds: int) -> str:
    if seconds == 0:
        return "when it starts"
    text = format_duration(seconds).removeprefix("P").replace("T", "")
    units = {"D": " days", "H": " h", "M": " min", "S": " s"}
    for unit, word in units.items():
        text = text.replace(unit, word + " ")
    return text.replace("1 days", "1 day").strip() + " before"


def summarize(events: list[Event], zone: str, now: datetime) -> Summary:
    until = now + timedelta(days=LOOKAHEAD_DAYS)

    def upcoming(event: Event) -> list[Upcoming]:
        return [
            Upcoming(
                event.title, _when(event, start, zone), start,
                event.kind == "timed", event.kind == "all_day",
            )
            for start in _occurrences(event, zone, now, until)
        ]  # fmt: skip

    shown = each_rendered("page", events, upcoming)
    found = [item for _, items in shown for item in items]
    found.sort(key=lambda item: item.starts_at)
    month = sum(1 for item in found if item.starts_at <= now + timedelta(days=30))
    offsets = sorted({o for e, _ in shown for o in e.alarms}, reverse=True)
    return Summary(found[:SHOWN], month, [_reminder_text(o) for o in offsets])
