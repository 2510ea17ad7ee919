"""The subscriber's side: landing page, subscribe POST, the links page, unsubscribe.

Opening a page never changes anything; link previewers and mail scanners fetch every
GET. Subscribing and unsubscribing are POSTs.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from calserver.appkeys import CLOCK, CONFIG, RECORDER, SESSIONS, SIGNER, SUBSCRIBE_LIMITER
from calserver.families import is_person
from calserver.links import BUTTON_ORDER, CLIENTS, FEED_PURPOSE, platform, subscription_links
from calserver.validation import is_timezone
from feeds.alarms import to_wall
from feeds.feed import calendar_name
from storage.lifecycle import ENDED, end
from storage.models import Segment, Workspace
from storage.subscriptions import (
    create_subscription,
    feed_view,
    get_subscription,
    segment_by_slugs,
    upcoming_events,
)
from web.feed import subscription_id
from web.pages import templates
from web.upcoming import summarize

SRC_RE = re.compile(r"^[a-z0-9_-]{1,32}$")
PAGE_HEADERS = {
    # The links page carries the feed token: never send it on to Google or Microsoft.
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}


def render(template: str, status: int = 200, **context: Any) -> web.Response:
    html = templates().get_template(template).render(**context)
    return web.Response(text=html, status=status, content_type="text/html", headers=PAGE_HEADERS)


def clean_src(value: Any) -> str:
    return value if isinstance(value, str) and SRC_RE.match(value) else ""


def client_address(request: web.Request) -> str:
    if request.app[CONFIG].trust_forwarded_for:
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[0].strip()
        if forwarded:
            return forwarded
    return request.remote or "unknown"


async def _segment(request: web.Request) -> tuple[Workspace, Segment]:
    async with request.app[SESSIONS]() as session:
        return await segment_by_slugs(
            session, request.match_info["workspace"], request.match_info["segment"]
        )


async def landing(request: web.Request) -> web.Response:
    workspace, segment = await _segment(request)
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session:
        events = await upcoming_events(session, segment.id, now, limit=200)
    agent = request.headers.get("User-Agent", "")
    device = platform(agent)
    src = clean_src(request.query.get("src"))
    if request.method == "GET" and is_person(agent):  # previewers, crawlers and HEAD do not count
        day = to_wall(now, workspace.timezone).date()
        request.app[RECORDER].view(segment.id, day, src, device)
    order = BUTTON_ORDER[device]
    return render(
        "landing.html",
        workspace=workspace,
        segment=segment,
        summary=summarize(events, segment.timezone, now),
        buttons=order,
        src=src,
        action=request.path,
    )


def _wants_json(request: web.Request) -> bool:
    return (
        "application/json" in request.headers.get("Accept", "")
        or request.content_type == "application/json"
    )


async def _subscribe_fields(request: web.Request, segment: Segment) -> tuple[str, str, str]:
    """(time zone, src, client) from a form or a JSON body; a bad zone falls back quietly."""
    if request.content_type == "application/json":
        try:
            body = json.loads(await request.read() or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise web.HTTPBadRequest(text="The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="The request body must be a JSON object.")
        zone, src, client = body.get("timezone"), body.get("src"), "api"
    else:
        form = await request.post()
        zone, src, client = form.get("tz"), form.get("src"), str(form.get("client", "copy"))
    zone = zone if isinstance(zone, str) and is_timezone(zone) else segment.timezone
    return (
        zone,
        clean_src(src) or clean_src(request.query.get("src")),
        client if client in CLIENTS else "api",
    )


async def subscribe(request: web.Request) -> web.Response:
    limiter, address = request.app[SUBSCRIBE_LIMITER], client_address(request)
    if not limiter.allow(address):
        retry = str(limiter.retry_after(address))
        raise web.HTTPTooManyRequests(
            text="Too many subscriptions from your address; try again in a minute.",
            headers={"Retry-After": retry},
        )
    workspace, segment = await _segment(request)
    zone, src, client = await _subscribe_fields(request, segment)
    async with request.app[SESSIONS].begin() as session:
        subscription = await create_subscription(
            session, workspace.id, [segment.id], zone, src, client, request.app[CLOCK].now()
        )
    token = request.app[SIGNER].sign(FEED_PURPOSE, subscription.id)
    if _wants_json(request):
        links = subscription_links(request.app[CONFIG].base_url, token, segment.name)
        return web.json_response(links.as_dict(), status=201)
    raise web.HTTPSeeOther(f"/subscribed/{token}?via={client}")


async def view_for_token(request: web.Request) -> tuple[str, Any]:
    token = request.match_info["token"]
    sub_id = subscription_id(request.app, token)
    view = None
    if sub_id is not None:
        async with request.app[SESSIONS]() as session:
            view = await feed_view(session, sub_id)
    if view is None:
        raise web.HTTPNotFound(text="This subscription link is not valid.")
    return token, view


async def subscribed(request: web.Request) -> web.Response:
    token, view = await view_for_token(request)
    name = calendar_name(view)
    via = request.query.get("via", "copy")
    return render(
        "subscribed.html",
        name=name,
        links=subscription_links(request.app[CONFIG].base_url, token, name),
        via=via if via in CLIENTS else "copy",
        active=view.status not in ENDED,
    )


async def unsubscribe_page(request: web.Request) -> web.Response:
    _, view = await view_for_token(request)
    return render(
        "unsubscribe.html",
        name=calendar_name(view),
        active=view.status not in ENDED,
        action=request.path,
    )


async def unsubscribe(request: web.Request) -> web.Response:
    _, view = await view_for_token(request)
    async with request.app[SESSIONS].begin() as session:
        subscription = await get_subscription(session, view.subscription_id)
        await end(session, subscription, "unsubscribed", request.app[CLOCK].now())
    return render("unsubscribed.html", name=calendar_name(view))
