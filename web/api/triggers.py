"""/api/v1/triggers: a CRM pushes a personal event into one contact's feeds.

POST answers 202 only after the trigger is committed. The idempotency key makes retries
safe: the same key with the same body answers the same trigger; with another body, 409.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy.exc import IntegrityError

from calserver.appkeys import CHANNELS, CLOCK, CONFIG, INGEST
from calserver.cascade.policy import channel_errors, policy_of
from calserver.eventspec import EventSpec, apply_spec, parse_event
from calserver.ingest import RetryAlone, Submitted, default_deliver_by, in_event_pointer
from calserver.shapes.crm import CascadePolicyInput, TriggerInput, TriggerPatch
from calserver.shapes.crm import Trigger as TriggerAnswer
from calserver.shapes.fields import check_body
from calserver.validation import FieldErrors
from storage.contacts import (
    contact_for,
    get_trigger,
    touch_contact,
    trigger_by_key,
    trigger_timeline,
)
from storage.errors import Conflict
from storage.families import DROPS_ALARMS
from storage.models import Contact, Trigger, TriggerEvent
from web.api.cascade import trigger_steps
from web.api.common import (
    id_of,
    json_response,
    read_json_object,
    run_cpu_check,
    transaction,
    workspace_of,
)
from web.api.events import event_json, merge_patch


def request_hash(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def trigger_json(
    trigger: Trigger, external_id: str, timeline: list[TriggerEvent] | None = None
) -> dict[str, Any]:
    event = event_json(trigger, tolerant=True)  # a trigger carries the same event columns
    for derived in ("id", "sequence", "created_at", "updated_at"):
        event.pop(derived)
    receipt = None
    if trigger.delivered_at is not None:
        receipt = {
            "delivered_at": trigger.delivered_at.isoformat(),
            "sequence": trigger.delivered_sequence,
            "family": trigger.delivered_family,
            "rings_alarms": trigger.delivered_family not in DROPS_ALARMS,
        }
    answer: dict[str, Any] = {
        "id": trigger.id,
        "external_id": external_id,
        "idempotency_key": trigger.idempotency_key,
        "status": trigger.status,
        "critical": trigger.critical,
        "deliver_by": trigger.deliver_by.isoformat() if trigger.deliver_by else None,
        "sequence": trigger.sequence,
        "event": event,
        "receipt": receipt,
        "stale_on_google": trigger.stale_on_google,
        "created_at": trigger.created_at.isoformat(),
        "updated_at": trigger.updated_at.isoformat(),
    }
    if timeline is not None:
        answer["timeline"] = [
            {"at": e.at.isoformat(), "type": e.type, "detail": e.detail} for e in timeline
        ]
    return answer


def _parse_post(request: web.Request, body: dict[str, Any], digest: str) -> Submitted:
    try:
        shape = check_body(TriggerInput, body)
    except FieldErrors as error:
        registry, slug = request.app[CHANNELS], workspace_of(request).slug
        error.errors.extend(channel_errors(body.get("cascade"), registry, slug, "/cascade"))
        raise
    off, override = shape.cascade is False, None
    if isinstance(shape.cascade, CascadePolicyInput):
        slug = workspace_of(request).slug
        override = policy_of(shape.cascade, request.app[CHANNELS], slug, "/cascade").to_json()
    return Submitted(
        workspace_of(request), shape.external_id, shape.idempotency_key, digest,
        shape.event, _instant(shape.deliver_by), shape.critical, shape.create_contact,
        cascade_policy=override, cascade_off=off,
    )  # fmt: skip


async def _same_or_conflict(request: web.Request, key: str, digest: str) -> web.Response:
    async with transaction(request) as session:
        trigger = await trigger_by_key(session, workspace_of(request).id, key)
        if trigger is None:
            raise Conflict("a request with this idempotency key is being processed; retry")
        if trigger.request_hash != digest:
            raise Conflict("this idempotency key was used with another body")
        contact = await session.get(Contact, trigger.contact_id)
        answer = trigger_json(trigger, contact.external_id if contact else "")
        return json_response(TriggerAnswer, answer, status=202)


async def create(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    item = _parse_post(request, body, request_hash(body))
    if not item.event.rrule:  # recurrences are checked in the CPU pool, one at a time
        try:
            created, trigger, name = await request.app[INGEST].submit(item)
        except RetryAlone:
            pass
        else:
            answer = trigger_json(trigger, name)
            headers = {"Location": f"/api/v1/triggers/{trigger.id}"} if created else None
            return json_response(TriggerAnswer, answer, status=202, headers=headers)
    return await _create_alone(request, item)


async def _create_alone(request: web.Request, item: Submitted) -> web.Response:
    """One trigger in its own transactions (recurring events; conflicts the batch left)."""
    workspace, key, digest = workspace_of(request), item.key, item.digest
    async with transaction(request) as session:
        existing = await trigger_by_key(session, workspace.id, key)
    if existing is not None:
        return await _same_or_conflict(request, key, digest)
    try:
        async with transaction(request) as session:
            contact = await contact_for(
                session,
                workspace.id,
                item.external_id,
                item.create_contact,
                request.app[CLOCK].now(),
            )
            try:
                spec: EventSpec = await run_cpu_check(
                    request, parse_event, item.event, contact.timezone or workspace.timezone
                )
            except FieldErrors as error:
                raise in_event_pointer(error) from None
            now = request.app[CLOCK].now()
            trigger = Trigger(
                workspace_id=workspace.id, contact_id=contact.id, idempotency_key=key, request_hash=digest,
                status="pending", critical=item.critical, deliver_by=item.deliver_by or default_deliver_by(spec, _margin(request)),
                uid=spec.uid or f"trigger-{uuid.uuid4()}@{workspace.slug}.calserver", sequence=0,
                created_at=now, updated_at=now, stale_on_google=False,
                cascade_at=now if item.wants_cascade else None, cascade_nudges=0,
                cascade_policy=item.cascade_policy,
            )  # fmt: skip
            apply_spec(trigger, spec)
            session.add(trigger)
            await session.flush()
            session.add(
                TriggerEvent(trigger_id=trigger.id, at=now, type="created", detail={"sequence": 0})
            )
            await touch_contact(session, contact.id, now)
            answer = trigger_json(trigger, contact.external_id)
    except IntegrityError:
        # Another request with the same key committed first.
        return await _same_or_conflict(request, key, digest)
    return json_response(
        TriggerAnswer, answer, status=202, headers={"Location": f"/api/v1/triggers/{answer['id']}"}
    )


def _margin(request: web.Request) -> timedelta:
    return timedelta(minutes=request.app[CONFIG].deliver_margin_minutes)


def _trigger_id(request: web.Request) -> int:
    return id_of(request, "trigger_id", "trigger")


async def get(request: web.Request) -> web.Response:
    async with transaction(request) as session:
        trigger = await get_trigger(session, workspace_of(request).id, _trigger_id(request))
        contact = await session.get(Contact, trigger.contact_id)
        timeline = await trigger_timeline(session, trigger.id)
        answer = trigger_json(trigger, contact.external_id if contact else "", timeline)
        answer["cascade"] = await trigger_steps(session, trigger.id)
        return json_response(TriggerAnswer, answer)


async def patch(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    shape = check_body(TriggerPatch, body)
    deliver_by, critical = _instant(shape.deliver_by), shape.critical
    async with transaction(request) as session:
        trigger = await get_trigger(session, workspace_of(request).id, _trigger_id(request))
        if trigger.status == "cancelled":
            raise Conflict("this trigger was cancelled")
        contact = await session.get(Contact, trigger.contact_id)
        if shape.event is not None:
            merged = merge_patch(trigger, body["event"])
            zone = (contact.timezone if contact else None) or workspace_of(request).timezone
            try:
                spec: EventSpec = await run_cpu_check(request, parse_event, merged, zone)
            except FieldErrors as error:
                raise in_event_pointer(error) from None
            apply_spec(trigger, spec)
        if deliver_by is not None:
            trigger.deliver_by = deliver_by
        if critical is not None:
            trigger.critical = critical
        now = request.app[CLOCK].now()
        await _changed(session, trigger, now, "changed")
        answer = trigger_json(trigger, contact.external_id if contact else "")
        return json_response(TriggerAnswer, answer)


async def _changed(session: Any, trigger: Trigger, now: datetime, kind: str) -> None:
    """A new SEQUENCE: it needs its own receipt; Google may keep showing the old one."""
    trigger.sequence += 1
    trigger.updated_at = now
    if trigger.delivered_family == "google":
        trigger.stale_on_google = True
    if trigger.status in ("delivered", "undelivered"):
        trigger.status = "pending"
    if trigger.cascade_at is not None:  # the cascade looks again (a cancel stops it)
        trigger.cascade_at, trigger.cascade_nudges = now, trigger.cascade_nudges + 1
    session.add(
        TriggerEvent(
            trigger_id=trigger.id, at=now, type=kind, detail={"sequence": trigger.sequence}
        )
    )
    await touch_contact(session, trigger.contact_id, now)


async def cancel(request: web.Request) -> web.Response:
    async with transaction(request) as session:
        trigger = await get_trigger(session, workspace_of(request).id, _trigger_id(request))
        contact = await session.get(Contact, trigger.contact_id)
        if trigger.status != "cancelled":
            now = request.app[CLOCK].now()
            await _changed(session, trigger, now, "cancelled")
            trigger.status, trigger.cancelled_at = "cancelled", now
        answer = trigger_json(trigger, contact.external_id if contact else "")
        return json_response(TriggerAnswer, answer)
