"""/api/v1/subscribers: anonymous rows, JSON or CSV; DELETE revokes one."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from calserver.appkeys import CLOCK
from storage import segments as segment_store
from storage.lifecycle import STATUSES, end
from storage.models import Subscription
from storage.subscribers import list_subscribers, subscriber
from web.api.common import json_response, transaction, workspace_of
from web.api.csv import csv_response, wants_csv
from web.api.events import page_of
from web.problems import problem


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def subscriber_json(row: Subscription, segments: list[str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "segments": segments,
        "status": row.status,
        "family": row.family or None,
        "src": row.src or None,
        "client": row.client or None,
        "timezone": row.timezone,
        "created_at": _iso(row.created_at),
        "activated_at": _iso(row.activated_at),
        "last_poll_at": _iso(row.last_poll_at),
        "ended_at": _iso(row.ended_at),
    }


async def list_all(request: web.Request) -> web.StreamResponse:
    status = request.query.get("status")
    if status is not None and status not in STATUSES:
        detail = f"choose one of {', '.join(STATUSES)}"
        return problem(400, detail, errors=[("/status", detail)])
    limit, offset = page_of(request, default=1000, maximum=100_000 if wants_csv(request) else 1000)
    workspace = workspace_of(request)
    async with transaction(request) as session:
        segment_id = None
        if slug := request.query.get("segment"):
            segment_id = (await segment_store.get_segment(session, workspace.id, slug)).id
        rows, slugs = await list_subscribers(
            session, workspace.id, segment_id, status, limit, offset
        )
    items = [subscriber_json(row, slugs.get(row.id, [])) for row in rows]
    if wants_csv(request):
        return csv_response(items, "subscribers.csv")
    return json_response({"items": items, "limit": limit, "offset": offset})


async def revoke(request: web.Request) -> web.Response:
    raw = request.match_info["subscriber_id"]
    if not raw.isdigit() or len(raw) > 18:
        raise web.HTTPNotFound(text=f"no subscriber {raw!r}")
    async with transaction(request) as session:
        row = await subscriber(session, workspace_of(request).id, int(raw))
        await end(session, row, "revoked", request.app[CLOCK].now())
    return web.Response(status=204)
