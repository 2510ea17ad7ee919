"""Webhook endpoints: /api/v1/webhooks, /api/v1/webhooks/{webhook_id} and its deliveries."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from calserver.appkeys import CLOCK
from calserver.shapes.crm import WebhookCreated, WebhookDeliveryList, WebhookInput, WebhookList
from calserver.shapes.fields import check_body
from calserver.targets import check_target
from calserver.validation import FieldErrors
from calserver.webhooks import NEVER, allow_private
from storage import webhooks as store
from storage.models import OutboxMessage, WebhookEndpoint
from storage.outbox import EVENT_TYPES
from web.api.common import id_of, json_response, read_json_object, transaction, workspace_of

DELIVERIES_LIMIT = 100


def webhook_json(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": list(endpoint.events),
        "active": endpoint.active,
        "created_at": endpoint.created_at.isoformat(),
    }


def delivery_json(message: OutboxMessage) -> dict[str, Any]:
    pending = message.delivered_at is None and message.next_attempt_at < NEVER
    return {
        "event_id": message.event_id,
        "event_type": message.event_type,
        "attempts": message.attempts,
        "delivered_at": message.delivered_at.isoformat() if message.delivered_at else None,
        "next_attempt_at": message.next_attempt_at.isoformat() if pending else None,
        "last_error": message.last_error,
        "created_at": message.created_at.isoformat(),
    }


async def parse_webhook(request: web.Request, body: Any) -> tuple[str, list[str]]:
    private = allow_private(request.app, workspace_of(request).slug)
    try:
        shape = check_body(WebhookInput, body)
    except FieldErrors as error:
        # Name a refused target too, in the same answer, when the URL itself is well formed.
        url = body.get("url") if isinstance(body, dict) else None
        well_formed = all(p != "/url" for p, _ in error.errors)
        refusal = await check_target(url, private) if isinstance(url, str) and well_formed else None
        if refusal is not None:
            error.errors.insert(0, ("/url", refusal))
        raise
    refusal = await check_target(shape.url, private)
    if refusal is not None:
        raise FieldErrors([("/url", refusal)])
    # Kept in the canonical order, each once.
    return shape.url, [event for event in EVENT_TYPES if event in shape.events]


def _webhook_id(request: web.Request) -> int:
    return id_of(request, "webhook_id", "webhook in this workspace")


async def list_webhooks(request: web.Request) -> web.Response:
    async with transaction(request) as session:
        endpoints = await store.list_endpoints(session, workspace_of(request).id)
    return json_response(WebhookList, {"items": [webhook_json(e) for e in endpoints]})


async def create_webhook(request: web.Request) -> web.Response:
    workspace = workspace_of(request)
    url, events = await parse_webhook(request, await read_json_object(request))
    async with transaction(request) as session:
        endpoint = await store.add_endpoint(
            session, workspace.id, url, events, request.app[CLOCK].now()
        )
    # The secret is shown once, in this answer.
    answer = {**webhook_json(endpoint), "secret": endpoint.secret}
    return json_response(WebhookCreated, answer, status=201)


async def delete_webhook(request: web.Request) -> web.Response:
    webhook_id = _webhook_id(request)
    async with transaction(request) as session:
        await store.delete_endpoint(session, workspace_of(request).id, webhook_id)
    return web.Response(status=204)


async def list_deliveries(request: web.Request) -> web.Response:
    webhook_id = _webhook_id(request)
    async with transaction(request) as session:
        endpoint = await store.get_endpoint(session, workspace_of(request).id, webhook_id)
        messages = await store.latest_deliveries(session, endpoint.id, DELIVERIES_LIMIT)
    return json_response(WebhookDeliveryList, {"items": [delivery_json(m) for m in messages]})
