"""Events of a segment: /api/v1/segments/{slug}/events[/{id}]."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from calserver.appkeys import CLOCK
from calserver.eventspec import EventSpec, apply_spec, event_fields, parse_event
from calserver.shapes import events as shapes
from calserver.shapes.queries import EventPage
from calserver.validation import format_duration
from feeds.poison import each_rendered
from storage import segments as store
from storage.errors import Conflict
from storage.models import Event, EventColumns
from web.api.common import (
    id_of,
    json_response,
    query_of,
    read_json_object,
    run_cpu_check,
    transaction,
    workspace_of,
)


def _times(event: EventColumns, tolerant: bool) -> dict[str, Any]:
    try:
        return event_fields(event.kind, event.start_local, event.timezone, event.duration_seconds)
    except ArithmeticError:
        if not tolerant:
            raise
        # A stored row whose end overflows in its zone (feeds/poison.py): shown as stored,
        # its end in UTC, so that it can still be read, fixed or removed.
        end = event.ends_at.isoformat() if event.ends_at else event.start_local
        return {
            "start": event.start_local, "end": end, "duration": f"PT{event.duration_seconds}S",
            "timezone": event.timezone, "local_time": event.kind == "local",
            "all_day": event.kind == "all_day",
        }  # fmt: skip


def event_json(event: EventColumns, tolerant: bool = False) -> dict[str, Any]:
    """The API's view of a stored event; ``tolerant`` shows a row whose end cannot be
    computed in its zone rather than failing (a single trigger must stay readable and
    cancellable)."""
    return {
        "id": event.id,
        "uid": event.uid,
        "title": event.title,
        "description": event.description,
        "location": event.location,
        "url": event.url,
        **_times(event, tolerant),
        "rrule": event.rrule,
        "alarms": [{"before": format_duration(seconds)} for seconds in event.alarms],
        "sequence": event.sequence,
        "created_at": event.created_at.isoformat(),
        "updated_at": event.updated_at.isoformat(),
    }


def merge_patch(event: EventColumns, patch: dict[str, Any]) -> dict[str, Any]:
    """The stored event as an API body with the patch laid over it."""
    merged = event_json(event)
    for derived in ("id", "sequence", "created_at", "updated_at", "end"):
        merged.pop(derived)
    if not merged["local_time"] and not merged["all_day"]:
        # Keep the wall-clock time, so a PATCH of the zone alone keeps "10:00".
        merged["start"] = event.start_local
    merged.update(patch)
    if "end" in patch and "duration" not in patch:
        merged.pop("duration")
    return {k: v for k, v in merged.items() if v is not None or k in patch}


async def list_events(request: web.Request) -> web.Response:
    page = query_of(request, EventPage)
    limit, offset = page.limit, page.offset
    async with transaction(request) as session:
        segment = await store.get_segment(
            session, workspace_of(request).id, request.match_info["slug"]
        )
        events = await store.list_events(session, segment.id, limit, offset)
    items = [item for _, item in each_rendered("api", events, event_json)]
    return json_response(shapes.EventList, {"items": items, "limit": limit, "offset": offset})


async def create_event(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    workspace = workspace_of(request)
    async with transaction(request) as session:
        segment = await store.get_segment(session, workspace.id, request.match_info["slug"])
        spec: EventSpec = await run_cpu_check(request, parse_event, body, segment.timezone)
        now = request.app[CLOCK].now()
        event = Event(
            segment_id=segment.id,
            uid=spec.uid or f"{uuid.uuid4()}@{workspace.slug}.calserver",
            sequence=0,
            created_at=now,
            updated_at=now,
        )
        apply_spec(event, spec)
        await store.add_event(session, event)
        await store.touch_segment(session, segment.id, now)
    location = f"/api/v1/segments/{segment.slug}/events/{event.id}"
    return json_response(
        shapes.Event, event_json(event), status=201, headers={"Location": location}
    )


def _event_id(request: web.Request) -> int:
    return id_of(request, "event_id", "event in this segment")


async def get_event(request: web.Request) -> web.Response:
    async with transaction(request) as session:
        segment = await store.get_segment(
            session, workspace_of(request).id, request.match_info["slug"]
        )
        event = await store.get_event(session, segment.id, _event_id(request))
    return json_response(shapes.Event, event_json(event))


async def patch_event(request: web.Request) -> web.Response:
    patch = await read_json_object(request)
    async with transaction(request) as session:
        segment = await store.get_segment(
            session, workspace_of(request).id, request.match_info["slug"]
        )
        event = await store.get_event(session, segment.id, _event_id(request))
        merged = merge_patch(event, patch)
        spec: EventSpec = await run_cpu_check(request, parse_event, merged, segment.timezone)
        if spec.uid and spec.uid != event.uid:
            if await store.uid_taken(session, segment.id, spec.uid, except_id=event.id):
                raise Conflict(f"an event with uid {spec.uid!r} already exists in this segment")
            event.uid = spec.uid
        apply_spec(event, spec)
        now = request.app[CLOCK].now()
        event.sequence += 1
        event.updated_at = now
        await store.touch_segment(session, segment.id, now)
    return json_response(shapes.Event, event_json(event))


async def delete_event(request: web.Request) -> web.Response:
    async with transaction(request) as session:
        segment = await store.get_segment(
            session, workspace_of(request).id, request.match_info["slug"]
        )
        event = await store.get_event(session, segment.id, _event_id(request))
        now = request.app[CLOCK].now()
        await session.delete(event)
        await store.bury_event(session, segment.id, event.id, now)
        await store.touch_segment(session, segment.id, now)
    return web.Response(status=204)
