"""The event editor: the API's own validation (calserver/eventspec.py) behind a form.

The form is turned into the API's JSON body, so every rule and message is the API's; each
error is shown next to its field and the form comes back as it was typed.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from calserver.appkeys import CLOCK, SESSIONS
from calserver.eventspec import EventSpec, apply_spec
from calserver.ranges import parse_event_in_range
from calserver.validation import FieldErrors, format_duration, zone_names
from feeds.i18n import N_, reason, say
from storage import segments as store
from storage.errors import Conflict
from storage.models import Event, Segment
from web.admin.quiet import quiet_warnings, subscriber_zones
from web.admin.render import errors_by_field, form_of, page, see_other, texts_of
from web.api.common import id_of, run_cpu_check, workspace_of

REPEATS = (("", N_("Does not repeat")), ("DAILY", N_("Every day")), ("WEEKLY", N_("Every week")),
           ("MONTHLY", N_("Every month")), ("YEARLY", N_("Every year")))  # fmt: skip
TEXT_FIELDS = ("title", "description", "location", "url")


def _rrule(form: dict[str, str]) -> str | None:
    """The custom rule if typed, else the preset (with its count)."""
    if custom := form.get("rrule", "").strip():
        return custom
    if repeat := form.get("repeat", ""):
        count = form.get("count", "").strip()
        return f"FREQ={repeat}" + (f";COUNT={count}" if count else "")
    return None


def body_of(form: dict[str, str]) -> dict[str, Any]:
    """The form as the API's JSON body: empty optional fields are left out."""
    body: dict[str, Any] = {name: form.get(name, "") for name in TEXT_FIELDS}
    for name in ("start", "end"):
        if value := form.get(name, "").strip():
            body[name] = value.replace(" ", "T", 1)  # "2026-12-10 19:00" reads as ISO
    for name in ("duration", "timezone", "uid"):
        if value := form.get(name, "").strip():
            body[name] = value
    body["local_time"] = bool(form.get("local_time"))
    body["all_day"] = bool(form.get("all_day"))
    if rule := _rrule(form):
        body["rrule"] = rule
    alarms = [part.strip() for part in form.get("alarms", "").split(",") if part.strip()]
    body["alarms"] = [{"before": alarm} for alarm in alarms]
    return body


def form_of_event(event: Event) -> dict[str, str]:
    return {
        **{name: getattr(event, name) for name in TEXT_FIELDS},
        "start": event.start_local.replace("T", " ")[:16],
        "duration": format_duration(event.duration_seconds),
        "timezone": event.timezone,
        "local_time": "on" if event.kind == "local" else "",
        "all_day": "on" if event.kind == "all_day" else "",
        "rrule": (event.rrule or "").removeprefix("RRULE:"),
        "alarms": ", ".join(format_duration(seconds) for seconds in event.alarms),
        "uid": event.uid,
    }


async def _editor(
    request: web.Request, segment: Segment, event: Event | None, form: dict[str, str],
    errors: dict[str, list[str]], status: int = 200,
) -> web.Response:  # fmt: skip
    warnings: list[str] = []
    if event is not None and not errors:
        async with request.app[SESSIONS]() as session:
            zones = await subscriber_zones(session, segment.id)
        warnings = quiet_warnings(
            event, workspace_of(request), zones or [segment.timezone], texts_of(request)
        )
    return page(request, "event_form.html", section="segments", status=status, segment=segment,
                event=event, form=form, errors=errors, zones=zone_names(), repeats=REPEATS,
                warnings=warnings, saved=request.query.get("saved") == "1")  # fmt: skip


async def _load(request: web.Request) -> tuple[Segment, Event | None]:
    async with request.app[SESSIONS]() as session:
        segment = await store.get_segment(
            session, workspace_of(request).id, request.match_info["slug"]
        )
        if "event_id" not in request.match_info:
            return segment, None
        event_id = id_of(request, "event_id", "event")
        return segment, await store.get_event(session, segment.id, event_id)


async def new_page(request: web.Request) -> web.Response:
    segment, _ = await _load(request)
    return await _editor(request, segment, None, {"timezone": segment.timezone}, {})


async def edit_page(request: web.Request) -> web.Response:
    segment, event = await _load(request)
    assert event is not None
    return await _editor(request, segment, event, form_of_event(event), {})


async def _save(
    request: web.Request, segment: Segment, event: Event | None, spec: EventSpec
) -> int:
    """Write the validated event in one transaction; its id."""
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS].begin() as session:
        if event is None:
            event = Event(segment_id=segment.id, sequence=0, created_at=now, updated_at=now,
                          uid=spec.uid or f"{uuid.uuid4()}@{workspace_of(request).slug}.calserver")  # fmt: skip
            apply_spec(event, spec)
            await store.add_event(session, event)
        else:
            event = await store.get_event(session, segment.id, event.id)
            if spec.uid and spec.uid != event.uid:
                if await store.uid_taken(session, segment.id, spec.uid, except_id=event.id):
                    raise Conflict(
                        say(
                            "an event with uid %(uid)s already exists in this segment",
                            uid=repr(spec.uid),
                        )
                    )
                event.uid = spec.uid
            apply_spec(event, spec)
            event.sequence += 1
            event.updated_at = now
        await store.touch_segment(session, segment.id, now)
        return event.id


async def save(request: web.Request) -> web.Response:
    segment, event = await _load(request)
    form = await form_of(request)
    try:
        spec: EventSpec = await run_cpu_check(
            request, parse_event_in_range, body_of(form), segment.timezone
        )
        event_id = await _save(request, segment, event, spec)
    except FieldErrors as error:
        return await _editor(request, segment, event, form, errors_by_field(error.errors), 422)
    except Conflict as error:
        return await _editor(request, segment, event, form, {"uid": [reason(error)]}, 409)
    raise see_other(f"/admin/segments/{segment.slug}/events/{event_id}?saved=1")


async def delete(request: web.Request) -> web.Response:
    segment, event = await _load(request)
    assert event is not None
    async with request.app[SESSIONS].begin() as session:
        await session.delete(await store.get_event(session, segment.id, event.id))
        await store.touch_segment(session, segment.id, request.app[CLOCK].now())
    raise see_other(f"/admin/segments/{segment.slug}#events")
