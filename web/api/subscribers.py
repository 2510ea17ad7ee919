"""/api/v1/subscribers: anonymous rows, JSON or CSV; DELETE revokes one."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from calserver.appkeys import CLOCK
from calserver.shapes.queries import SubscriberList, SubscriberQuery
from storage import segments as segment_store
from storage.lifecycle import end
from storage.models import Subscription
from storage.subscribers import list_subscribers, subscriber
from web.api.common import id_of, json_response, query_of, transaction, workspace_of
from web.api.csv import csv_response, wants_csv


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
    query = query_of(request, SubscriberQuery)
    status, limit, offset = query.status, query.limit, query.offset
    workspace = workspace_of(request)
    async with transaction(request) as session:
        segment_id = None
        if slug := query.segment:
            segment_id = (await segment_store.get_segment(session, workspace.id, slug)).id
        rows, slugs = await list_subscribers(
            session, workspace.id, segment_id, status, limit, offset
        )
    items = [subscriber_json(row, slugs.get(row.id, [])) for row in rows]
    if wants_csv(request):
        return csv_response(items, "subscribers.csv")
    return json_response(SubscriberList, {"items": items, "limit": limit, "offset": offset})


async def revoke(request: web.Request) -> web.Response:
    subscriber_id = id_of(request, "subscriber_id", "subscriber")
    async with transaction(request) as session:
        row = await subscriber(session, workspace_of(request).id, subscriber_id)
        await end(session, row, "revoked", request.app[CLOCK].now())
    return web.Response(status=204)
