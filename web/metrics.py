"""GET /metrics in the Prometheus text format (this process's counters, database gauges)."""

from __future__ import annotations

import hmac
import ipaddress
import os
import time

from aiohttp import web
from sqlalchemy import func, select

from calserver.appkeys import CONFIG, RECORDER, SESSIONS
from feeds import poison
from storage.lifecycle import COUNTED
from storage.models import Segment, Subscription, SubscriptionSegment, Workspace

GAUGE_TTL = 15.0  # seconds between database reads for the gauges
_gauge_cache: dict[int, tuple[float, list[tuple[str, str, int]]]] = {}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


async def _active_by_segment(app: web.Application) -> list[tuple[str, str, int]]:
    cached = _gauge_cache.get(id(app))
    if cached and time.monotonic() - cached[0] < GAUGE_TTL:
        return cached[1]
    query = (
        select(Workspace.slug, Segment.slug, func.count(Subscription.id))
        .join(Segment, Segment.workspace_id == Workspace.id)
        .join(SubscriptionSegment, SubscriptionSegment.segment_id == Segment.id)
        .join(Subscription, Subscription.id == SubscriptionSegment.subscription_id)
        .where(Subscription.status.in_(COUNTED))
        .group_by(Workspace.slug, Segment.slug)
        .order_by(Workspace.slug, Segment.slug)
    )
    async with app[SESSIONS]() as session:
        rows = [(w, s, int(n)) for w, s, n in (await session.execute(query)).all()]
    _gauge_cache[id(app)] = (time.monotonic(), rows)
    return rows


def _authorized(request: web.Request) -> bool:
    """With a token: the token. Without one: only scrapers on this machine (loopback), so a
    server published on 0.0.0.0 does not show its customers' names to the internet."""
    token = request.app[CONFIG].metrics_token
    if not token:
        try:
            return ipaddress.ip_address(request.remote or "").is_loopback
        except ValueError:
            return False
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return hmac.compare_digest(given.encode(), token.encode())


async def metrics(request: web.Request) -> web.Response:
    if not _authorized(request):
        raise web.HTTPUnauthorized(text="Send the metrics token: Authorization: Bearer TOKEN.")
    recorder = request.app[RECORDER]
    lines = [
        "# HELP calserver_feed_requests_total Feed requests answered by this process, by status and client family.",
        "# TYPE calserver_feed_requests_total counter",
    ]
    for (status, family), count in sorted(recorder.requests.items()):
        lines.append(
            f'calserver_feed_requests_total{{status="{status}",family="{_escape(family)}"}} {count}'
        )
    lines += [
        # With `serve --workers N` each scrape reaches one process: the pid tells them apart.
        "# HELP calserver_process_id The operating-system id of the process that answered.",
        "# TYPE calserver_process_id gauge",
        f"calserver_process_id {os.getpid()}",
        "# HELP calserver_polls_flushed_total Polls written to the database by this process.",
        "# TYPE calserver_polls_flushed_total counter",
        f"calserver_polls_flushed_total {recorder.flushed_polls}",
        "# HELP calserver_polls_pending Polls recorded but not yet written.",
        "# TYPE calserver_polls_pending gauge",
        f"calserver_polls_pending {len(recorder.polls)}",
        "# HELP calserver_flush_lag_seconds Age of the oldest recorded poll or view not yet written.",
        "# TYPE calserver_flush_lag_seconds gauge",
        f"calserver_flush_lag_seconds {recorder.lag_seconds():.3f}",
        "# HELP calserver_unrenderable_events_total Stored events left out of an answer because they cannot be rendered, by answer (feed, caldav, api, page).",
        "# TYPE calserver_unrenderable_events_total counter",
        *(
            f'calserver_unrenderable_events_total{{surface="{surface}"}} {count}'
            for surface, count in sorted(poison.left_out_total.items())
        ),
        "# HELP calserver_active_subscribers Active subscriptions (dormant included) by segment.",
        "# TYPE calserver_active_subscribers gauge",
    ]
    for workspace, segment, count in await _active_by_segment(request.app):
        lines.append(
            f'calserver_active_subscribers{{workspace="{_escape(workspace)}",segment="{_escape(segment)}"}} {count}'
        )
    return web.Response(text="\n".join(lines) + "\n", content_type="text/plain", charset="utf-8",
                        headers={"Cache-Control": "no-store"})  # fmt: skip
