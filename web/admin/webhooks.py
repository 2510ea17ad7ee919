"""Webhooks page: the workspace's endpoints, a new one (its secret shown once), delete."""

from __future__ import annotations

from aiohttp import web

from calserver.appkeys import CLOCK, SESSIONS
from calserver.validation import FieldErrors
from storage import webhooks as store
from storage.outbox import EVENT_TYPES
from web.admin.render import errors_by_field, page, see_other
from web.api.common import id_of, workspace_of
from web.api.webhooks import DELIVERIES_LIMIT, delivery_json, parse_webhook


async def _page(request: web.Request, status: int = 200, **context: object) -> web.Response:
    async with request.app[SESSIONS]() as session:
        endpoints = await store.list_endpoints(session, workspace_of(request).id)
        deliveries = {
            e.id: [delivery_json(m) for m in await store.latest_deliveries(session, e.id, 5)]
            for e in endpoints
        }
    context.setdefault("form", {"events": list(EVENT_TYPES)})
    context.setdefault("errors", {})
    context.setdefault("created", None)
    return page(request, "webhooks.html", section="webhooks", status=status, endpoints=endpoints,
                deliveries=deliveries, event_types=EVENT_TYPES, limit=DELIVERIES_LIMIT,
                **context)  # fmt: skip


async def webhooks_page(request: web.Request) -> web.Response:
    return await _page(request)


async def create(request: web.Request) -> web.Response:
    posted = await request.post()
    form = {
        "url": str(posted.get("url", "")),
        "events": [str(e) for e in posted.getall("events", [])],
    }
    try:
        url, events = await parse_webhook(request, form)
    except FieldErrors as error:
        return await _page(request, 422, form=form, errors=errors_by_field(error.errors))
    async with request.app[SESSIONS].begin() as session:
        endpoint = await store.add_endpoint(
            session, workspace_of(request).id, url, events, request.app[CLOCK].now()
        )
    return await _page(request, created=endpoint)


async def delete(request: web.Request) -> web.Response:
    webhook_id = id_of(request, "webhook_id", "webhook")
    async with request.app[SESSIONS].begin() as session:
        await store.delete_endpoint(session, workspace_of(request).id, webhook_id)
    raise see_other("/admin/webhooks")
