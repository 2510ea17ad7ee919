"""Triggers page: the CRM's personal events, newest first, and one trigger's timeline
and cascade steps."""

from __future__ import annotations

from aiohttp import web

from calserver.appkeys import SESSIONS
from storage.contacts import get_trigger, latest_triggers, trigger_timeline
from storage.models import Contact
from web.admin.render import page
from web.api.cascade import trigger_steps
from web.api.common import id_of, workspace_of
from web.api.triggers import trigger_json

STATUSES = ("pending", "delivered", "undelivered", "cancelled")
PAGE_SIZE = 100


async def triggers_page(request: web.Request) -> web.Response:
    status = request.query.get("status")
    status = status if status in STATUSES else None
    async with request.app[SESSIONS]() as session:
        rows = await latest_triggers(session, workspace_of(request).id, status, PAGE_SIZE, 0)
    items = [trigger_json(trigger, external_id) for trigger, external_id in rows]
    return page(request, "triggers.html", section="triggers", items=items, statuses=STATUSES,
                chosen=status or "")  # fmt: skip


async def trigger_page(request: web.Request) -> web.Response:
    trigger_id = id_of(request, "trigger_id", "trigger")
    async with request.app[SESSIONS]() as session:
        trigger = await get_trigger(session, workspace_of(request).id, trigger_id)
        contact = await session.get(Contact, trigger.contact_id)
        timeline = await trigger_timeline(session, trigger.id)
        steps = await trigger_steps(session, trigger.id)
    item = trigger_json(trigger, contact.external_id if contact else "", timeline)
    return page(request, "trigger.html", section="triggers", item=item, steps=steps)
