"""What a visitor of the landing page will receive: the next events and how often."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from feeds.alarms import to_utc, to_wall
from feeds.i18n import Texts
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


def _when(event: Event, start: datetime, zone: str, t: Texts) -> str:
    if event.kind == "all_day":
        return t.date(to_wall(start, zone).date())
    if event.kind == "local":
        return t.gettext("%(when)s, your time", when=t.datetime(start, zone))
    when = t.datetime(start, event.timezone)
    return t.gettext("%(when)s (%(zone)s)", when=when, zone=t.zone(event.timezone))


def span(seconds: int, t: Texts) -> str:
    """A duration in words: "1 day 2 hours", "1 день 2 часа"."""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, rest = divmod(rest, 60)
    words = []
    if days:
        words.append(t.ngettext("%(num)d day", "%(num)d days", days))
    if hours:
        words.append(t.ngettext("%(num)d hour", "%(num)d hours", hours))
    if minutes:
        words.append(t.ngettext("%(num)d minute", "%(num)d minutes", minutes))
    if rest:
        words.append(t.ngettext("%(num)d second", "%(num)d seconds", rest))
    return " ".join(words)


def _reminder_text(seconds: int, t: Texts) -> str:
    if seconds == 0:
        return t.gettext("when it starts")
    return t.gettext("%(span)s before", span=span(seconds, t))


def summarize(events: list[Event], zone: str, now: datetime, t: Texts) -> Summary:
    until = now + timedelta(days=LOOKAHEAD_DAYS)

    def upcoming(event: Event) -> list[Upcoming]:
        return [
            Upcoming(
                event.title, _when(event, start, zone, t), start,
                event.kind == "timed", event.kind == "all_day",
            )
            for start in _occurrences(event, zone, now, until)
        ]  # fmt: skip

    shown = each_rendered("page", events, upcoming)
    found = [item for _, items in shown for item in items]
    found.sort(key=lambda item: item.starts_at)
    month = sum(1 for item in found if item.starts_at <= now + timedelta(days=30))
    offsets = sorted({o for e, _ in shown for o in e.alarms}, reverse=True)
    return Summary(found[:SHOWN], month, [_reminder_text(o, t) for o in offsets])
