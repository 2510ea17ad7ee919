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
from collections.abc import Hashable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

from aiohttp import web

from calserver.appkeys import CLOCK, CONFIG, CPU_POOL, FEED_CACHE, RECORDER, SESSIONS, SIGNER
from calserver.families import family_of
from calserver.links import FEED_PURPOSE, manage_path
from feeds.alarms import to_wall
from feeds.cache import CachedFeed, cached_feed
from feeds.feed import FeedSettings, active_body, unsubscribed_body
from feeds.ics import LINK_PLACEHOLDER, fold_link
from storage.lifecycle import ENDED
from storage.models import Event
from storage.subscriptions import FeedView, events_for_segments, feed_view
from storage.telemetry import PollRecord

_PLACEHOLDER = LINK_PLACEHOLDER.encode()
# Outlook.com showed empty calendars for gzip-encoded feeds (markuspoerschke/iCal#541).
_NO_GZIP_AGENTS = ("Microsoft", "Outlook", "Exchange")
_GZIP_MIN_BYTES = 1024


def settings_of(app: web.Application) -> FeedSettings:
    config = app[CONFIG]
    return FeedSettings(config.feed_refresh_minutes, config.feed_retention_days)


def subscription_id(app: web.Application, token: str) -> int | None:
    payload = app[SIGNER].verify(FEED_PURPOSE, token)
    return payload if isinstance(payload, int) and not isinstance(payload, bool) else None


def _cache_key(view: FeedView, day: str) -> Hashable:
    segments = tuple((s.id, s.version) for s in view.segments)
    if view.status in ENDED:
        return ("ended", view.status, segments, view.workspace_name)
    return (
        "active",
        segments,
        view.timezone,
        view.quiet_start,
        view.quiet_end,
        view.workspace_name,
        day,
    )


async def _build(app: web.Application, view: FeedView, now: datetime) -> CachedFeed:
    settings = settings_of(app)
    modified = max([view.subscription_updated_at, *(s.updated_at for s in view.segments)])
    if view.status in ENDED:
        return cached_feed(unsubscribed_body(view, settings), modified)
    events: list[Event] = []
    if view.segments:
        async with app[SESSIONS]() as session:
            retained = now - timedelta(days=settings.retention_days)
            events = await events_for_segments(session, [s.id for s in view.segments], retained)
    loop = asyncio.get_running_loop()
    text = await loop.run_in_executor(app[CPU_POOL], active_body, view, events, settings, now)
    # The body also changes when the day turns (retention), so it is at least that new.
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return cached_feed(text, max(modified, day_start))


def _not_modified(request: web.Request, etag: str, last_modified: datetime) -> bool:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        return (
            etag in [tag.strip() for tag in if_none_match.split(",")]
            or if_none_match.strip() == "*"
        )
    since = request.headers.get("If-Modified-Since")
    if since is None:
        return False
    try:
        moment = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return last_modified.replace(microsecond=0) <= moment


def _wants_gzip(request: web.Request) -> bool:
    if "gzip" not in request.headers.get("Accept-Encoding", ""):
        return False
    agent = request.headers.get("User-Agent", "")
    return not any(mark in agent for mark in _NO_GZIP_AGENTS)


async def feed(request: web.Request) -> web.StreamResponse:
    app = request.app
    token = request.match_info["token"]
    sub_id = subscription_id(app, token)
    if sub_id is None:
        raise web.HTTPNotFound(text="No such calendar.")
    async with app[SESSIONS]() as session:
        view = await feed_view(session, sub_id)
    if view is None:
        raise web.HTTPNotFound(text="No such calendar.")
    now = app[CLOCK].now()
    entry = await app[FEED_CACHE].get(
        _cache_key(view, now.date().isoformat()), lambda: _build(app, view, now)
    )
    link = fold_link(app[CONFIG].base_url + manage_path(token)).encode()
    gzipped = len(entry.body) >= _GZIP_MIN_BYTES and _wants_gzip(request)
    # Strong ETags differ per representation, so the gzip one gets its own.
    etag = (
        '"'
        + hashlib.blake2b(entry.digest + link, digest_size=16).hexdigest()
        + ('-gz"' if gzipped else '"')
    )
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(entry.last_modified.astimezone(UTC), usegmt=True),
        "Cache-Control": "private, no-cache",
        "Vary": "Accept-Encoding",
    }
    not_modified = _not_modified(request, etag, entry.last_modified)
    app[RECORDER].poll(
        PollRecord(
            view.subscription_id, view.workspace_id, to_wall(now, view.workspace_timezone).date(),
            now, 304 if not_modified else 200, family_of(request.headers.get("User-Agent", "")), etag,
        )
    )  # fmt: skip
    if not_modified:
        return web.Response(status=304, headers=headers)
    body = entry.body.replace(_PLACEHOLDER, link)
    if gzipped:
        body = gzip.compress(body, compresslevel=5)
        headers["Content-Encoding"] = "gzip"
    headers["Content-Disposition"] = 'inline; filename="calendar.ics"'
    return web.Response(body=body, headers=headers, content_type="text/calendar", charset="utf-8")
