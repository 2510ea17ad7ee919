"""One calendar object resource per event, cut from the same rendering as the ICS feed.

A collection is built once per cache key (the feed's key: segment and contact versions,
zone, quiet hours, day) and shared by every subscriber with that key; the subscriber's own
link replaces LINK_PLACEHOLDER when an item is served, as the feed does on a poll.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy.orm import Session

from feeds.alarms import to_utc, to_wall
from feeds.feed import PRODID, FeedSettings, render_calendar
from feeds.ics import CRLF, LINK_PLACEHOLDER, prop
from feeds.limits import LATEST_UTC
from feeds.recurrence import bounded_after, rule_for
from feeds.render import event_start
from feeds.reward import reward_event
from storage.davsync import DavState, calendar_events
from storage.lifecycle import ENDED
from storage.lookup import PollView
from storage.models import Trigger


@dataclass(frozen=True)
class DavItem:
    href: str
    uid: str
    etag_base: str  # from UID, SEQUENCE and last change; the subscriber's link is added
    text: str  # a whole VCALENDAR with LINK_PLACEHOLDER where the link goes
    personal: tuple[int, int] | None  # (trigger id, SEQUENCE) of a live personal event
    timing: Timing


# Occurrences of a rule read to decide one item's time range (a few milliseconds).
TIME_RANGE_BUDGET = 2000


@dataclass(frozen=True)
class Timing:
    """When an item occurs, as the feed writes it: enough to answer a time-range query
    without parsing the item (vobject's VTIMEZONE handling costs ~15 ms per item)."""

    kind: str
    zone: str
    start_wall: datetime
    duration: timedelta
    rrule: str | None

    def _span(self, wall: datetime) -> tuple[datetime, datetime]:
        if self.kind == "all_day":  # floating dates, read as UTC as Radicale reads them
            return wall.replace(tzinfo=UTC), wall.replace(tzinfo=UTC) + self.duration
        start = to_utc(wall, self.zone)
        if self.kind == "timed":
            return start, start + self.duration
        return start, to_utc(wall + self.duration, self.zone)

    def overlaps(self, low: datetime, high: datetime) -> bool:
        """RFC 4791 9.9 for [low, high). The database already kept only events whose stored
        first and last occurrences bracket the range, so a rule is read for at most
        TIME_RANGE_BUDGET occurrences: past them (a range far out), the stored bounds decide."""
        if not self.rrule:
            return _hit(*self._span(self.start_wall), low, high)
        if low >= LATEST_UTC:
            return True
        rule = rule_for(self.rrule, self.start_wall, self.zone)
        first = max(to_wall(low - self.duration, self.zone) - timedelta(days=1), self.start_wall)
        for wall in bounded_after(rule, first, TIME_RANGE_BUDGET):
            start, end = self._span(wall)
            if start >= high:
                return False
            if _hit(start, end, low, high):
                return True
        return True


def _hit(start: datetime, end: datetime, low: datetime, high: datetime) -> bool:
    if end == start:
        return low <= start < high
    return start < high and end > low


@dataclass(frozen=True)
class DavCalendar:
    items: dict[str, DavItem]  # by href, in the feed's order


def href_of(event: object) -> str:
    kind = "p" if isinstance(event, Trigger) else "e"
    return f"{kind}{getattr(event, 'id', 0)}.ics"


def render_key(poll: PollView, day: object) -> Hashable:
    """The feed cache's key (web/feed.py): the versions and settings items depend on."""
    if poll.status in ENDED:
        return ("ended", poll.status)
    return (
        "active", poll.contact_id, poll.contact_version, poll.segments, poll.timezone,
        poll.quiet_start, poll.quiet_end, day, poll.language,
    )  # fmt: skip


def lineage(poll: PollView) -> str:
    """What every item's rendering depends on besides the events themselves: a sync token
    from another lineage cannot be continued (the client resynchronises in full)."""
    parts = (
        poll.status in ENDED, tuple(s for s, _ in poll.segments), poll.contact_id,
        poll.timezone, poll.quiet_start, poll.quiet_end,
    )  # fmt: skip
    return hashlib.blake2b(repr(parts).encode(), digest_size=8).hexdigest()


_ITEM_HEADER = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + prop("PRODID", PRODID) + "CALSCALE:GREGORIAN\r\n"
)


def build_calendar(
    session: Session, poll: PollView, details: DavState, settings: FeedSettings, now: datetime
) -> DavCalendar:
    if poll.status in ENDED:
        return DavCalendar({})
    retained = now - timedelta(days=settings.retention_days)
    segment_ids = [s for s, _ in poll.segments]
    events, personal = calendar_events(session, segment_ids, poll.contact_id, retained)
    calendar = render_calendar(details.view, [*events, *personal], settings, now, "caldav")
    fingerprint = lineage(poll)
    items: dict[str, DavItem] = {}
    for event, rendered in calendar.events:
        zones = "".join(calendar.timezones[zone] for zone in sorted(rendered.zones))
        text = _ITEM_HEADER + zones + rendered.text + "END:VCALENDAR" + CRLF
        stamp = f"{event.uid}\0{event.sequence}\0{event.updated_at.isoformat()}\0{fingerprint}"
        etag = hashlib.blake2b(stamp.encode(), digest_size=12).hexdigest()
        live = isinstance(event, Trigger) and event.status != "cancelled"
        href = href_of(event)
        zone, start_wall = event_start(event, poll.timezone)
        timing = Timing(
            event.kind, zone, start_wall, timedelta(seconds=event.duration_seconds), event.rrule
        )
        items[href] = DavItem(
            href, event.uid, etag, text, (event.id, event.sequence) if live else None, timing
        )
    return DavCalendar(items)


REWARD_PREFIX = "r"


def reward_href(poll: PollView) -> str:
    return f"{REWARD_PREFIX}{poll.subscription_id}.ics"


def reward_item(poll: PollView, manage_url: str) -> DavItem | None:
    """The reward the subscription unlocked, the same all-day event as in its feed."""
    if poll.reward is None or poll.status in ENDED:
        return None
    event = reward_event(poll.subscription_id, poll.reward, poll.timezone, poll.language,
                         manage_url).decode()  # fmt: skip
    unlocked = poll.reward[2]
    stamp = f"{poll.reward}\0{poll.timezone}\0{poll.language}\0{manage_url}"
    day = datetime.combine(to_wall(unlocked, poll.timezone).date(), time())
    return DavItem(
        reward_href(poll), f"reward-{poll.subscription_id}@calserver",
        hashlib.blake2b(stamp.encode(), digest_size=12).hexdigest(),
        _ITEM_HEADER + event + "END:VCALENDAR" + CRLF, None,
        Timing("all_day", poll.timezone, day, timedelta(days=1), None),
    )  # fmt: skip


def with_link(item: DavItem, link: str) -> str:
    return item.text.replace(LINK_PLACEHOLDER, link)


class CalendarCache:
    """A small LRU shared by Radicale's worker threads; a key is built by one thread while
    the others wait for it."""

    def __init__(self, max_entries: int) -> None:
        self._entries: OrderedDict[Hashable, DavCalendar] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[Hashable, threading.Lock] = {}
        self._max = max_entries
        self.misses = 0

    def get(self, key: Hashable, build: Callable[[], DavCalendar]) -> DavCalendar:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry
            key_lock = self._building.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                entry = self._entries.get(key)
            if entry is not None:
                return entry
            entry = build()
            with self._lock:
                self.misses += 1
                self._entries[key] = entry
                self._building.pop(key, None)
                if len(self._entries) > self._max:
                    self._entries.popitem(last=False)
            return entry
