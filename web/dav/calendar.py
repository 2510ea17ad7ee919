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
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from feeds.feed import PRODID, FeedSettings, render_calendar
from feeds.ics import CRLF, LINK_PLACEHOLDER, prop
from storage.davsync import DavState, calendar_events
from storage.lifecycle import ENDED
from storage.models import Trigger


@dataclass(frozen=True)
class DavItem:
    href: str
    uid: str
    etag_base: str  # from UID, SEQUENCE and last change; the subscriber's link is added
    text: str  # a whole VCALENDAR with LINK_PLACEHOLDER where the link goes
    starts_at: datetime
    personal: tuple[int, int] | None  # (trigger id, SEQUENCE) of a live personal event


@dataclass(frozen=True)
class DavCalendar:
    items: dict[str, DavItem]  # by href, in the feed's order


def href_of(event: object) -> str:
    kind = "p" if isinstance(event, Trigger) else "e"
    return f"{kind}{getattr(event, 'id', 0)}.ics"


def render_key(state: DavState, day: object) -> Hashable:
    view = state.view
    if view.status in ENDED:
        return ("ended", view.status)
    segments = tuple((s.id, s.version) for s in view.segments)
    return (
        "active", state.contact_id, state.contact_version, segments, view.timezone,
        view.quiet_start, view.quiet_end, day,
    )  # fmt: skip


def lineage(state: DavState) -> str:
    """What every item's rendering depends on besides the events themselves: a sync token
    from another lineage cannot be continued (the client resynchronises in full)."""
    view = state.view
    parts = (
        view.status in ENDED, tuple(s.id for s in view.segments), state.contact_id,
        view.timezone, view.quiet_start, view.quiet_end,
    )  # fmt: skip
    return hashlib.blake2b(repr(parts).encode(), digest_size=8).hexdigest()


_ITEM_HEADER = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + prop("PRODID", PRODID) + "CALSCALE:GREGORIAN\r\n"
)


def build_calendar(
    session: Session, state: DavState, settings: FeedSettings, now: datetime
) -> DavCalendar:
    if state.view.status in ENDED:
        return DavCalendar({})
    retained = now - timedelta(days=settings.retention_days)
    events, personal = calendar_events(session, state, retained)
    calendar = render_calendar(state.view, [*events, *personal], settings, now)
    fingerprint = lineage(state)
    items: dict[str, DavItem] = {}
    for event, rendered in calendar.events:
        zones = "".join(calendar.timezones[zone] for zone in sorted(rendered.zones))
        text = _ITEM_HEADER + zones + rendered.text + "END:VCALENDAR" + CRLF
        stamp = f"{event.uid}\0{event.sequence}\0{event.updated_at.isoformat()}\0{fingerprint}"
        etag = hashlib.blake2b(stamp.encode(), digest_size=12).hexdigest()
        live = isinstance(event, Trigger) and event.status != "cancelled"
        href = href_of(event)
        items[href] = DavItem(
            href, event.uid, etag, text, event.starts_at,
            (event.id, event.sequence) if live else None,
        )  # fmt: skip
    return DavCalendar(items)


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
