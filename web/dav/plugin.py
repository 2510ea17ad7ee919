"""Radicale's Storage, Auth and Rights over our database: read-only, one calendar per token.

Layout under /dav/: ``/`` (root), ``/TOKEN/`` (the principal and its calendar home) and
``/TOKEN/calendar/`` (every event the subscription's ICS feed holds, one item each).
The token is the principal; the bridge has verified it before Radicale runs, and
Radicale's threads read it from ``current()`` (the signer's cache is not thread-safe).
Nothing is ever written: Rights grant reading only, and the write methods refuse.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from radicale import auth, pathutils, rights, storage
from radicale import item as radicale_item
from radicale.item import filter as radicale_filter
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from calserver.clock import Clock
from feeds.feed import FeedSettings, calendar_name, ended_name
from storage.davsync import DavState, changes_since, dav_state, in_range
from storage.errors import unavailable
from storage.lifecycle import ENDED
from storage.lookup import PollView
from storage.segments import TOMBSTONE_DAYS
from web.dav.calendar import (
    REWARD_PREFIX,
    CalendarCache,
    DavCalendar,
    DavItem,
    build_calendar,
    lineage,
    render_key,
    reward_href,
    reward_item,
    with_link,
)

CALENDAR = "calendar"
SYNC_PREFIX = "urn:calserver:sync:"
# Changes are found by their updated_at; a writer in another process may commit a little
# after the instant it stamped, so deltas look back this far (extra items are harmless).
SYNC_MARGIN = timedelta(minutes=2)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass
class DavContext:
    """The application's parts Radicale's threads use."""

    engine: Engine
    settings: FeedSettings
    clock: Clock
    cache: CalendarCache


@dataclass
class DavRequest:
    """One request, as the bridge verified it; the plugin fills in what it served."""

    context: DavContext
    token: str
    username: str
    link: str
    poll: PollView  # versions and settings, read on the event loop by the poll lookup
    now: datetime
    details: DavState | None = None
    served_items: int = 0
    personal: set[tuple[int, int]] = field(default_factory=set)
    manage_url: str = ""  # the subscriber's manage page, named in their reward
    database_down: bool = False  # Radicale turns any error into a 500; the bridge says 503


_local = threading.local()


def current() -> DavRequest | None:
    request: DavRequest | None = getattr(_local, "request", None)
    return request


@contextlib.contextmanager
def serving(request: DavRequest) -> Iterator[DavRequest]:
    _local.request = request
    try:
        yield request
    finally:
        _local.request = None


@contextlib.contextmanager
def _session(request: DavRequest) -> Iterator[Session]:
    """A database session for this request that notes an outage (not a bug) if it fails."""
    try:
        with Session(request.context.engine) as session:
            yield session
    except Exception as error:
        request.database_down = request.database_down or unavailable(error)
        raise


def _versions(request: DavRequest) -> str:
    key = (render_key(request.poll, request.now.date()), request.poll.reward)
    return hashlib.blake2b(repr(key).encode(), digest_size=8).hexdigest()


def sync_token(request: DavRequest) -> str:
    """``urn:calserver:sync:LINEAGE:VERSIONS:TIME`` for the calendar as this request sees it."""
    return (
        f"{SYNC_PREFIX}{lineage(request.poll)}:{_versions(request)}:{int(request.now.timestamp())}"
    )


def read_sync_token(request: DavRequest, old_token: str) -> tuple[datetime, bool]:
    """When a client's token was issued, and whether nothing changed since; ValueError when
    the client must start over (another lineage, a time ahead of every clock, or older than
    the tombstones kept)."""
    now = request.now
    try:
        prefix, old_lineage, old_versions, stamp = old_token.rsplit(":", 3)
        since = datetime.fromtimestamp(int(stamp), UTC)
    except (ValueError, OverflowError, OSError):
        raise ValueError("not a calserver sync token") from None
    ahead = since > now + SYNC_MARGIN
    stale = since < now - timedelta(days=TOMBSTONE_DAYS) + SYNC_MARGIN
    if prefix + ":" != SYNC_PREFIX or old_lineage != lineage(request.poll) or ahead or stale:
        raise ValueError("sync token from another calendar state")
    return since, old_versions == _versions(request)


def _details(request: DavRequest) -> DavState:
    """Names and change times, read once per request and only when asked for."""
    if request.details is None:
        with _session(request) as session:
            request.details = dav_state(session, request.poll.subscription_id)
        if request.details is None:
            raise ValueError("the subscription was deleted during the request")
    return request.details


def _http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


class _Plain(storage.BaseCollection):
    """The root and the principal: no items, no properties of their own."""

    def __init__(self, path: str) -> None:
        self._path = path

    @property
    def path(self) -> str:
        return self._path

    @property
    def etag(self) -> str:
        return '"' + hashlib.blake2b(self._path.encode(), digest_size=8).hexdigest() + '"'

    def get_all(self) -> Iterable[radicale_item.Item]:
        return ()

    def get_multi(self, hrefs: Iterable[str]) -> Iterable[tuple[str, radicale_item.Item | None]]:
        return ((href, None) for href in hrefs)

    def get_meta(self, key: str | None = None) -> Any:
        return {} if key is None else None

    @property
    def last_modified(self) -> str:
        return _http_date(EPOCH)


class _Item(radicale_item.Item):
    """An item whose copies parse their own text: Radicale expands a shallow copy of the
    item once per property asked for, and the expansion rewrites the components it shares
    with the original (a calendar-query with <C:expand> and <D:getetag/> answered 400)."""

    def __copy__(self) -> _Item:
        return _Item(
            collection=self.collection, href=self.href, text=self.serialize(), etag=self.etag,
            uid=self.uid, name=self.name, component_name=self.component_name,
            last_modified=self.last_modified,
        )  # fmt: skip


class Calendar(storage.BaseCollection):
    """The subscription's calendar: the ICS feed's events, one item each."""

    def __init__(self, request: DavRequest) -> None:
        self._request = request
        self._poll = request.poll
        self._segment_ids = [s for s, _ in request.poll.segments]
        self._path = f"{request.token}/{CALENDAR}"
        self._calendar: DavCalendar | None = None
        self._key = render_key(request.poll, request.now.date())
        self._link_tag = hashlib.blake2b(request.link.encode(), digest_size=4).hexdigest()

    @property
    def path(self) -> str:
        return self._path

    @property
    def etag(self) -> str:
        """The CTag: from versions only, O(1)."""
        # The workspace's name is the calendar's name when several segments are followed.
        state = (self._key, self._poll.workspace_name, self._link_tag, self._poll.reward)
        digest = hashlib.blake2b(repr(state).encode(), digest_size=12)
        return '"' + digest.hexdigest() + '"'

    def _items(self) -> DavCalendar:
        if self._calendar is None:
            request = self._request
            context, poll, now = request.context, request.poll, request.now

            def build() -> DavCalendar:
                details = _details(request)
                with _session(request) as session:
                    return build_calendar(session, poll, details, context.settings, now)

            calendar = context.cache.get(self._key, build)
            # The reward this subscription unlocked is its own, like the feed's: not cached.
            if (reward := reward_item(poll, request.manage_url)) is not None:
                calendar = DavCalendar({**calendar.items, reward.href: reward})
            self._calendar = calendar
        return self._calendar

    def _item(self, item: DavItem) -> radicale_item.Item:
        request = self._request
        request.served_items += 1
        if item.personal is not None:
            request.personal.add(item.personal)
        return _Item(
            collection=self, href=item.href, text=with_link(item, request.link),
            etag=f'"{item.etag_base}-{self._link_tag}"', uid=item.uid, name="VCALENDAR",
            component_name="VEVENT", last_modified=self.last_modified,
        )  # fmt: skip

    def get_all(self) -> Iterable[radicale_item.Item]:
        return [self._item(item) for item in self._items().items.values()]

    def get_multi(self, hrefs: Iterable[str]) -> Iterable[tuple[str, radicale_item.Item | None]]:
        items = self._items().items
        found = []
        for href in dict.fromkeys(hrefs):
            item = items.get(href)
            found.append((href, self._item(item) if item is not None else None))
        return found

    def get_filtered(
        self, filters: Iterable[ET.Element]
    ) -> Iterable[tuple[radicale_item.Item, bool]]:
        """Time ranges go to SQL and are decided from each item's timing (bounded, see
        Timing.overlaps); Radicale applies the rest of the filter, never the time range,
        whose evaluation walks every occurrence of a rule."""
        filters = list(filters)
        tag, start, end, simple = radicale_filter.simplify_prefilters(filters, "VCALENDAR")
        if tag not in (None, "VEVENT"):
            return []
        items = self._items().items
        if start <= radicale_filter.TIMESTAMP_MIN and end >= radicale_filter.TIMESTAMP_MAX:
            return [(self._item(item), False) for item in items.values()]
        low = datetime.fromtimestamp(max(start, 0), UTC)
        high = datetime.fromtimestamp(min(end, 2**33), UTC)
        with _session(self._request) as session:
            events, triggers = in_range(
                session, self._segment_ids, self._poll.contact_id, low, high
            )
        wanted = {f"e{i}.ics" for i in events} | {f"p{i}.ics" for i in triggers}
        wanted |= {href for href in items if href.startswith(REWARD_PREFIX)}
        rest = None if simple or tag is None else _without_time_range(filters)
        found = []
        for href, item in items.items():
            if href not in wanted or not item.timing.overlaps(low, high):
                continue
            if simple:
                found.append((self._item(item), True))
            elif rest is None:
                found.append((self._item(item), False))  # Radicale decides all of it
            elif _matches(self._item(item), rest):
                found.append((self._item(item), True))
        return found

    def has_uid(self, uid: str) -> bool:
        return any(item.uid == uid for item in self._items().items.values())

    def sync(self, old_token: str = "") -> tuple[str, Iterable[str]]:
        token = sync_token(self._request)
        if not old_token:
            return token, (href for href in self._items().items)
        since, unchanged = read_sync_token(self._request, old_token)
        if unchanged:
            return old_token, ()
        poll, now = self._poll, self._request.now
        retention = timedelta(days=self._request.context.settings.retention_days)
        with _session(self._request) as session:
            delta = changes_since(
                session, self._segment_ids, poll.contact_id, since - SYNC_MARGIN,
                since - SYNC_MARGIN - retention, now - retention,
            )  # fmt: skip
        hrefs = [f"e{i}.ics" for i in sorted(delta.events)]
        hrefs += [f"p{i}.ics" for i in sorted(delta.triggers)]
        if poll.reward is not None and poll.reward[2] >= since - SYNC_MARGIN:
            hrefs.append(reward_href(poll))
        return token, hrefs

    def get_meta(self, key: str | None = None) -> Any:
        if key == "tag":
            return "VCALENDAR"  # asked on every request: no need to read names for it
        view = _details(self._request).view
        name = calendar_name(view) if view.segments else view.workspace_name
        meta = {
            "tag": "VCALENDAR",
            "D:displayname": ended_name(view) if view.status in ENDED else name,
            "C:supported-calendar-component-set": "VEVENT",
        }
        description = " ".join(s.description for s in view.segments if s.description)
        if description:
            meta["C:calendar-description"] = description
        if len(view.segments) == 1 and view.segments[0].color:
            meta["ICAL:calendar-color"] = view.segments[0].color
        return meta if key is None else meta.get(key)

    @property
    def last_modified(self) -> str:
        state = _details(self._request)
        moments = [state.view.subscription_updated_at, *(s.updated_at for s in state.view.segments)]
        if state.contact_updated_at is not None:
            moments.append(state.contact_updated_at)
        return _http_date(max(moments))

    def upload(self, href: str, item: radicale_item.Item) -> Any:
        raise ValueError("calendars are read-only")

    def delete(self, href: str | None = None) -> None:
        raise ValueError("calendars are read-only")

    def set_meta(self, props: Mapping[str, str]) -> None:
        raise ValueError("calendars are read-only")


_TIME_RANGE = "{urn:ietf:params:xml:ns:caldav}time-range"
_COMP_FILTER = "{urn:ietf:params:xml:ns:caldav}comp-filter"


def _without_time_range(filters: list[ET.Element]) -> list[ET.Element] | None:
    """The filters without the one time range of their VEVENT comp-filter (decided from the
    item's timing), or None when the time range is not exactly that."""
    rest = [copy.deepcopy(f) for f in filters]
    removed = 0
    for calendar in (c for f in rest for c in f if c.tag == _COMP_FILTER):
        for event in calendar.findall(_COMP_FILTER):
            if event.get("name", "").upper() != "VEVENT":
                continue
            for time_range in event.findall(_TIME_RANGE):
                event.remove(time_range)
                removed += 1
    return rest if removed == 1 else None


def _matches(item: radicale_item.Item, filters: list[ET.Element]) -> bool:
    """Radicale's own test of the other filters (report.test_filter's VCALENDAR case)."""
    for filter_ in filters:
        if len(filter_) == 0:
            continue
        if len(filter_) > 1 or filter_[0].tag != _COMP_FILTER:
            raise ValueError("unexpected calendar-query filter")
        if not radicale_filter.comp_match(item, filter_[0]):
            return False
    return True


class Storage(storage.BaseStorage):
    def __init__(self, configuration: Any) -> None:
        super().__init__(configuration)

    def discover(
        self, path: str, depth: str = "0",
        child_context_manager: Callable[[str, str | None], contextlib.AbstractContextManager[None]] | None = None,
        user_groups: set[str] | None = None,
    ) -> Iterable[Any]:  # fmt: skip
        request = current()
        sane = pathutils.strip_path(path)
        parts = sane.split("/") if sane else []
        if not parts:
            yield _Plain("")
            if depth != "0" and request is not None:
                yield _Plain(request.token)
            return
        if request is None or parts[0] != request.token or len(parts) > 3:
            return
        if len(parts) == 1:
            yield _Plain(request.token)
            if depth == "0":
                return
        elif parts[1] != CALENDAR:
            return
        calendar = Calendar(request)
        if len(parts) == 3:
            yield from (item for _, item in calendar.get_multi([parts[2]]) if item is not None)
            return
        yield calendar
        if len(parts) == 2 and depth != "0":
            yield from calendar.get_all()

    @contextlib.contextmanager
    def acquire_lock(self, mode: str, user: str = "", *args: Any, **kwargs: Any) -> Iterator[None]:
        yield  # read-only: nothing to lock

    def move(self, item: Any, to_collection: Any, to_href: str) -> None:
        raise ValueError("calendars are read-only")

    def create_collection(self, href: str, items: Any = None, props: Any = None) -> Any:
        raise ValueError("collections are never created")

    def verify(self) -> bool:
        return True


class Auth(auth.BaseAuth):
    """Accepts exactly the token the bridge verified, as the password (user name: the one
    shown on the landing page, or the token itself)."""

    def _login(self, login: str, password: str) -> str:
        request = current()
        if request is None or password != request.token:
            return ""
        return request.token if login in (request.token, request.username) else ""


class Rights(rights.BaseRights):
    """Read-only access to one's own principal and calendar; nothing else."""

    def authorization(self, user: str, user_groups: set[str], path: str) -> str:
        if not user:
            return ""
        sane = pathutils.strip_path(path)
        if not sane:
            return "R"
        parts = sane.split("/")
        if parts[0] != user:
            return ""
        if len(parts) == 1:
            return "R"
        # Read rights on everything under one's own principal: a collection that does not
        # exist is then 404 (Storage.discover finds nothing), never 403.
        return "r"
