"""GET /f/{token}.ics — the hot path.

A poll verifies the token, makes one query (subscription, workspace, segment versions),
takes the rendered body from the cache, puts the subscriber's link in with one
bytes.replace, and answers 200 or 304. It never builds icalendar objects and makes no
query per event; a cache miss renders in the CPU pool, once per key.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
from collections.abc import Hashable
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import NamedTuple

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy, istr

from calserver.appkeys import (
    CLOCK,
    CONFIG,
    CPU_POOL,
    FEED_CACHE,
    LOOKUP,
    RECORDER,
    SESSIONS,
    SIGNER,
)
from calserver.links import FEED_PURPOSE, manage_path
from feeds.alarms import to_wall
from feeds.cache import CachedFeed, cached_feed
from feeds.feed import FeedSettings, active_body, unsubscribed_body
from feeds.i18n import N_
from feeds.ics import fold_link
from feeds.render import AnyEvent
from feeds.reward import reward_event
from storage.contacts import personal_events
from storage.errors import unavailable
from storage.families import family_of, is_calendar_app, last_poll_resolution
from storage.lifecycle import ENDED
from storage.lookup import BaseLookup, PollView
from storage.rewards import unlock
from storage.subscriptions import events_for_segments, feed_view
from web.headers import EVERY_ANSWER
from web.problems import OUTAGE, RETRY_AFTER
from web.rawanswer import RawAnswer, header_bytes

log = logging.getLogger(__name__)
# Outlook.com showed empty calendars for gzip-encoded feeds (markuspoerschke/iCal#541).
_NO_GZIP_AGENTS = ("Microsoft", "Outlook", "Exchange")
_GZIP_MIN_BYTES = 1024
NO_SUCH_CALENDAR = N_("No such calendar.")
RECENT_VIEWS = 100_000
# What every feed answer carries besides its ETag (and, for a 200, Last-Modified), built
# once. The security headers of every answer are in them, so the response signal that adds
# them finds them already present.
# Copying a ready CIMultiDict is cheaper than building one from a dict on every poll.
_NOT_MODIFIED = CIMultiDict(
    {"Cache-Control": "private, no-cache", "Vary": "Accept-Encoding", **EVERY_ANSWER}
)
_PLAIN = CIMultiDict({**_NOT_MODIFIED, "Content-Type": "text/calendar; charset=utf-8"})
_GZIPPED = CIMultiDict({**_PLAIN, "Content-Encoding": "gzip"})
_ETAG, _LAST_MODIFIED = istr("ETag"), istr("Last-Modified")
_RAW_NOT_MODIFIED, _RAW_PLAIN, _RAW_GZIPPED = map(header_bytes, (_NOT_MODIFIED, _PLAIN, _GZIPPED))


class _Outcome(NamedTuple):
    status: int  # 200 or 304
    etag: str
    body: bytes  # empty for a 304, and for a 200 left to link.join(parts)
    gzipped: bool
    last_modified: str  # HTTP-date, for a 200
    # A 200 whose body is the cached one with the link filled in, not joined yet: the fast
    # path joins it behind its headers in one copy (web/rawanswer.py).
    parts: tuple[bytes, ...] = ()
    link: bytes = b""
    length: int = 0  # of link.join(parts)


def settings_of(app: web.Application) -> FeedSettings:
    config = app[CONFIG]
    return FeedSettings(config.feed_refresh_minutes, config.feed_retention_days)


def subscription_id(app: web.Application, token: str) -> int | None:
    payload = app[SIGNER].verify(FEED_PURPOSE, token)
    return payload if isinstance(payload, int) and not isinstance(payload, bool) else None


# PollView's fields from here on say how the subscription was polled, not what its feed holds.
_BODY_FIELDS = PollView._fields.index("last_poll_at")


def _cache_key(view: PollView, day: date) -> Hashable:
    if view.status in ENDED:
        return ("ended", view.status, view.segments, view.workspace_name, view.language)
    # The view without its subscription id and its last poll: all a body depends on
    # (contact and segment versions, zones, quiet hours, names), taken as one slice on
    # every poll.
    return (view[1:_BODY_FIELDS], day)


async def _build(app: web.Application, poll: PollView, now: datetime) -> CachedFeed:
    """A cache miss: read names and events through the ORM and render in the CPU pool."""
    settings = settings_of(app)
    async with app[SESSIONS]() as session:
        view = await feed_view(session, poll.subscription_id)
        if view is None:
            raise web.HTTPNotFound(text=NO_SUCH_CALENDAR)
        modified = max([view.subscription_updated_at, *(s.updated_at for s in view.segments)])
        if view.status in ENDED:
            return cached_feed(unsubscribed_body(view, settings), modified)
        retained = now - timedelta(days=settings.retention_days)
        events: list[AnyEvent] = list(
            await events_for_segments(session, [s.id for s in view.segments], retained)
        )
        personal = (
            await personal_events(session, poll.contact_id, retained) if poll.contact_id else []
        )
    loop = asyncio.get_running_loop()
    text = await loop.run_in_executor(
        app[CPU_POOL], active_body, view, [*events, *personal], settings, now
    )
    # The body also changes when the day turns (retention), so it is at least that new.
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    modified = max([modified, day_start, *(t.updated_at for t in personal)])
    served = tuple((t.id, t.sequence) for t in personal if t.status != "cancelled")
    return cached_feed(text, modified, served)


@lru_cache(maxsize=1024)  # "now" has a one-second resolution: most polls hit
def local_day(now: datetime, zone: str) -> date:
    return to_wall(now, zone).date()


@lru_cache(maxsize=65536)
def _link(base_url: str, token: str) -> bytes:
    return fold_link(base_url + manage_path(token)).encode()


def _not_modified(asked: CIMultiDictProxy[str], etag: str, last_modified: datetime) -> bool:
    if_none_match = asked.get("If-None-Match")
    if if_none_match is not None:
        if if_none_match == etag:  # what clients send: the one ETag they were given
            return True
        tags = [tag.strip() for tag in if_none_match.split(",")]
        return etag in tags or "*" in tags
    since = asked.get("If-Modified-Since")
    if since is None:
        return False
    try:
        moment = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return last_modified.replace(microsecond=0) <= moment


def _wants_gzip(asked: CIMultiDictProxy[str]) -> bool:
    if "gzip" not in asked.get("Accept-Encoding", ""):
        return False
    agent = asked.get("User-Agent", "")
    return not any(mark in agent for mark in _NO_GZIP_AGENTS)


class FeedHandler:
    """The feed endpoint, holding the application's parts it needs so that a poll does not
    look them up again (``bind`` runs at start-up, after the database context)."""

    async def bind(self, app: web.Application) -> None:
        self.app = app
        self.base_url = app[CONFIG].base_url
        self.signer, self.lookup, self.cache = app[SIGNER], app[LOOKUP], app[FEED_CACHE]
        self.clock, self.recorder = app[CLOCK], app[RECORDER]
        self.fresh_for = timedelta(seconds=last_poll_resolution(app[CONFIG].thresholds))
        # The last view of each subscription polled: while the database is away, a feed
        # whose body is still cached is served from memory (polls are recorded meanwhile).
        self.recent: dict[int, PollView] = {}

    def _remembered(self, sub_id: object, error: Exception) -> PollView:
        if not unavailable(error):
            raise error
        view = self.recent.get(sub_id) if type(sub_id) is int else None
        if view is None or self.cache.peek(_cache_key(view, self.clock.now().date())) is None:
            raise web.HTTPServiceUnavailable(text=OUTAGE, headers={"Retry-After": RETRY_AFTER})
        return view

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Every poll the fast path (``fast``) leaves to the router and middlewares: bad
        tokens, unknown subscriptions, outages, bodies still to render, rewards to unlock."""
        token = request.match_info["token"]
        sub_id = self.signer.verify(FEED_PURPOSE, token)
        try:
            view = await self.lookup.view(sub_id) if type(sub_id) is int else None
        except Exception as error:
            view = self._remembered(sub_id, error)
        if view is None:
            raise web.HTTPNotFound(text=NO_SUCH_CALENDAR)
        self._keep(view)
        now = self.clock.now()
        if self._unlocks(view, request.headers):
            view = await self._unlock(view, now)
        key = _cache_key(view, now.date())
        entry = self.cache.peek(key) or await self.cache.get(
            key, lambda: _build(self.app, view, now)
        )
        return self._answer(request.headers, token, view, entry, now)

    async def fast(self, request: web.BaseRequest, token: str) -> RawAnswer | None:
        """The common poll, answered before aiohttp's router and calserver's middlewares
        (web/dispatch.py): a good token, its subscription read, its body cached. Anything
        else returns None before anything is recorded, and the regular path (``handle``)
        answers it as it answers every other case."""
        sub_id = self.signer.verify(FEED_PURPOSE, token)
        if type(sub_id) is not int:
            return None
        try:
            view = await self.lookup.view(sub_id)
        except Exception:  # an outage: the regular path reads again and answers it
            return None
        if view is None or self._unlocks(view, request.headers):
            return None
        now = self.clock.now()
        entry = self.cache.peek(_cache_key(view, now.date()))
        if entry is None:
            return None
        self._keep(view)
        return self._raw_answer(request, token, view, entry, now)

    def _current(self, view: PollView, family: str, now: datetime) -> bool:
        """The stored last poll is recent enough to stand for this one: at a million
        subscriptions, rewriting each one's row at every poll was most of what a poll cost
        the database beyond its lookup (docs/benchmarks.md). Never for a subscription a poll
        wakes or activates, nor when the client family changed."""
        return (
            view.status == "active"
            and view.family == family
            and view.last_poll_at is not None
            and now - view.last_poll_at < self.fresh_for
        )

    def _keep(self, view: PollView) -> None:
        if len(self.recent) >= RECENT_VIEWS:
            self.recent.clear()
        self.recent[view.subscription_id] = view

    @staticmethod
    def _unlocks(view: PollView, asked: CIMultiDictProxy[str]) -> bool:
        return (
            view.reward_pending
            and view.status not in ENDED
            and is_calendar_app(asked.get("User-Agent", ""))
        )

    def _answer(self, asked: CIMultiDictProxy[str], token: str, view: PollView,
                entry: CachedFeed, now: datetime) -> web.Response:  # fmt: skip
        """The regular path's answer: 200 or 304, with the headers the fast one has too."""
        answer = self._outcome(asked, token, view, entry, now)
        if answer.status == 304:
            # RFC 9110: a 304 repeats ETag, Cache-Control and Vary; Last-Modified is not needed.
            headers = _NOT_MODIFIED.copy()
            headers.add(_ETAG, answer.etag)
            return web.Response(status=304, headers=headers)
        headers = (_GZIPPED if answer.gzipped else _PLAIN).copy()
        headers.add(_ETAG, answer.etag)
        headers.add(_LAST_MODIFIED, answer.last_modified)
        body = answer.link.join(answer.parts) if answer.parts else answer.body
        return web.Response(body=body, headers=headers)

    def _raw_answer(self, request: web.BaseRequest, token: str, view: PollView,
                    entry: CachedFeed, now: datetime) -> RawAnswer:  # fmt: skip
        """The fast path's answer: the same status, headers and body, as one buffer."""
        answer = self._outcome(request.headers, token, view, entry, now)
        if answer.status == 304:
            return RawAnswer(
                request, 304, _RAW_NOT_MODIFIED, b"ETag: %s\r\n" % answer.etag.encode()
            )
        varying = b"ETag: %s\r\nLast-Modified: %s\r\n" % (
            answer.etag.encode(),
            answer.last_modified.encode(),
        )
        fixed = _RAW_GZIPPED if answer.gzipped else _RAW_PLAIN
        if answer.parts:
            link = answer.link
            return RawAnswer(request, 200, fixed, varying,
                             behind=lambda head: entry.behind(head, link), length=answer.length)  # fmt: skip
        return RawAnswer(request, 200, fixed, varying, answer.body)

    def _outcome(self, asked: CIMultiDictProxy[str], token: str, view: PollView,
                 entry: CachedFeed, now: datetime) -> _Outcome:  # fmt: skip
        """200 or 304 and what goes in it; the poll and its receipts are recorded here."""
        link = _link(self.base_url, token)
        reward = self._reward(view, token)
        gzipped = len(entry.body) >= _GZIP_MIN_BYTES and _wants_gzip(asked)
        # Strong ETags differ per representation, so the gzip one gets its own.
        digest = hashlib.blake2b(entry.digest + link + reward, digest_size=16).hexdigest()
        etag = f'"{digest}-gz"' if gzipped else f'"{digest}"'
        status = 304 if _not_modified(asked, etag, entry.last_modified) else 200
        family = family_of(asked.get("User-Agent", ""))
        day = local_day(now, view.workspace_timezone)
        self.recorder.poll(view.subscription_id, view.workspace_id, day, now, status, family, etag,
                           latest=not self._current(view, family, now))  # fmt: skip
        if entry.personal and not entry.receipts_recorded:
            # A 200, or a 304 for this very body: the client has these events.
            self.recorder.receipts(entry.personal, now, family)
            entry.receipts_recorded = True
        if status == 304:
            return _Outcome(304, etag, b"", False, "")
        if not reward and not gzipped:
            return _Outcome(200, etag, b"", False, entry.last_modified_http, entry.parts, link,
                            entry.length_with(link))  # fmt: skip
        body = link.join(entry.parts)
        if reward:  # the subscriber's own reward event, before END:VCALENDAR
            head, end, tail = body.rpartition(b"END:VCALENDAR")
            body = head + reward + end + tail
        if gzipped:
            body = gzip.compress(body, compresslevel=5)
        return _Outcome(200, etag, body, gzipped, entry.last_modified_http)

    async def _unlock(self, view: PollView, now: datetime) -> PollView:
        return await unlock_reward(self.app, self.lookup, view, now)

    def _reward(self, view: PollView, token: str) -> bytes:
        if view.reward is None or view.status in ENDED:
            return b""
        manage_url = self.base_url + manage_path(token)
        return reward_event(
            view.subscription_id, view.reward, view.timezone, view.language, manage_url
        )


async def unlock_reward(
    app: web.Application, lookup: BaseLookup, view: PollView, now: datetime
) -> PollView:
    """The first poll by a calendar app (a feed fetch or a CalDAV request) of a subscription
    offered a reward: give it, once (storage/rewards.py), and read the subscription again."""
    try:
        async with app[SESSIONS].begin() as session:
            await unlock(session, view.subscription_id, now)
    except Exception:  # the poll still gets its calendar; the next one tries again
        log.exception("could not unlock the reward of subscription %s", view.subscription_id)
        return view
    return await lookup.view(view.subscription_id) or view


# The application's one feed handler, for the dispatch in front of the router (web/dispatch.py).
FEED_HANDLER = web.AppKey("feed_handler", FeedHandler)
