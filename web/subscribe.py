"""The subscriber's side: landing page, subscribe POST, the links page, unsubscribe.

Opening a page never changes anything; link previewers and mail scanners fetch every
GET. Subscribing and unsubscribing are POSTs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from calserver.abtest import (
    VISITOR_COOKIE,
    VISITOR_MAX_AGE,
    new_visitor,
    shown_variants,
    variant_for,
)
from calserver.appkeys import CLOCK, CONFIG, RECORDER, SESSIONS, SIGNER, SUBSCRIBE_LIMITER
from calserver.links import (
    BUTTON_ORDER,
    CLIENTS,
    FEED_PURPOSE,
    LINK_PURPOSE,
    platform,
    subscription_links,
)
from calserver.shapes.fields import SRC_RE
from calserver.shapes.queries import SubscriptionLinks
from calserver.validation import is_timezone
from feeds.alarms import to_wall
from feeds.feed import calendar_name, ended_name
from feeds.i18n import N_, supported, texts
from storage.errors import NotFound
from storage.families import is_person
from storage.lifecycle import ENDED, end
from storage.models import Contact, Segment, Workspace
from storage.rewards import mark_offered, offer_open
from storage.subscriptions import (
    create_subscription,
    feed_view,
    get_subscription,
    segment_by_slugs,
    upcoming_events,
    workspace_segments,
)
from web.api.common import json_response, parse_json_object
from web.brand import Brand, brand_for, brand_of
from web.feed import subscription_id
from web.language import choose, remember, switch
from web.pages import templates
from web.upcoming import summarize

CALENDAR_GONE = N_("This calendar does not exist, or it was removed.")
PAGE_HEADERS = {
    # The links page carries the feed token: never send it on to Google or Microsoft.
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}


def render(
    request: web.Request,
    template: str,
    language: str,
    status: int = 200,
    brand: Brand | None = None,
    **context: Any,
) -> web.Response:
    """A subscriber's page in ``language`` (chosen by web/language.py), with its switch
    and the workspace's brand (logo, colour, footer) when the page belongs to one."""
    page = templates(language).get_template(template)
    html = page.render(switch=switch(request, language), brand=brand, **context)
    response = web.Response(
        text=html, status=status, content_type="text/html", headers=PAGE_HEADERS
    )
    remember(request, response)
    return response


def clean_src(value: Any) -> str:
    return value if isinstance(value, str) and SRC_RE.fullmatch(value) else ""


def client_address(request: web.Request) -> str:
    if request.app[CONFIG].trust_forwarded_for:
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[0].strip()
        if forwarded:
            return forwarded
    return request.remote or "unknown"


@dataclass(frozen=True)
class Target:
    """What a subscribe link points at: one segment, or a personalized link's segments."""

    workspace: Workspace
    segments: list[Segment]
    src: str  # a personalized link's own source tag; else the query's
    contact_id: int | None = None


async def _target(request: web.Request) -> Target:
    async with request.app[SESSIONS]() as session:
        try:
            workspace, segment = await segment_by_slugs(
                session, request.match_info["workspace"], request.match_info["segment"]
            )
        except NotFound:
            raise web.HTTPNotFound(text=CALENDAR_GONE) from None
    return Target(workspace, [segment], clean_src(request.query.get("src")))


async def personal_target(request: web.Request) -> Target:
    """A personalized link: signed, unexpired, its contact and segments still there."""
    payload = request.app[SIGNER].verify(LINK_PURPOSE, request.match_info["token"])
    gone = web.HTTPNotFound(text=N_("This personal link is not valid. Ask for a new one."))
    if not isinstance(payload, dict) or not {"w", "c", "s", "r", "x"} <= set(payload):
        raise gone
    if payload["x"] < request.app[CLOCK].now().timestamp():
        raise web.HTTPGone(text=N_("This personal link has expired. Ask for a new one."))
    async with request.app[SESSIONS]() as session:
        workspace = await session.get(Workspace, payload["w"])
        contact = await session.get(Contact, payload["c"])
        segments = [
            s for s in (await workspace_segments(session, payload["w"])) if s.id in payload["s"]
        ]
    if workspace is None or contact is None or contact.workspace_id != workspace.id or not segments:
        raise gone
    return Target(workspace, segments, clean_src(payload["r"]), contact.id)


async def _landing(request: web.Request, target: Target) -> web.Response:
    now = request.app[CLOCK].now()
    first = target.segments[0]
    async with request.app[SESSIONS]() as session:
        events = [
            e for s in target.segments for e in await upcoming_events(session, s.id, now, limit=200)
        ]
    agent = request.headers.get("User-Agent", "")
    device = platform(agent)
    # An anonymous visitor id (no cookie yet: a new one) keeps each visitor on one variant.
    visitor = request.cookies.get(VISITOR_COOKIE) or new_visitor()
    variant = variant_for(visitor, first.id, first.variants, first.variant_kept) or {}
    reward = (variant.get("reward_text") or first.reward_text) if offer_open(first) else None
    if request.method == "GET" and is_person(agent):  # previewers, crawlers and HEAD do not count
        day = to_wall(now, target.workspace.timezone).date()
        for segment in target.segments:
            request.app[RECORDER].view(segment.id, day, target.src, device)
        request.app[RECORDER].offer(first.id, day, variant.get("key", ""), reward is not None)
    language = choose(request, first.language or target.workspace.language)
    response = render(
        request,
        "landing.html",
        language,
        brand=brand_of(target.workspace),
        workspace=target.workspace,
        segment=first,
        also=target.segments[1:],
        summary=summarize(events, first.timezone, now, texts(language)),
        buttons=BUTTON_ORDER[device],
        src=target.src,
        action=request.path,
        reward=reward,
        variant=variant,
    )
    if request.cookies.get(VISITOR_COOKIE) != visitor:
        response.set_cookie(
            VISITOR_COOKIE, visitor, max_age=VISITOR_MAX_AGE, path="/", httponly=True,
            samesite="Lax", secure=request.secure,
        )  # fmt: skip
    return response


async def landing(request: web.Request) -> web.Response:
    return await _landing(request, await _target(request))


async def personal_landing(request: web.Request) -> web.Response:
    return await _landing(request, await personal_target(request))


def _wants_json(request: web.Request) -> bool:
    return (
        "application/json" in request.headers.get("Accept", "")
        or request.content_type == "application/json"
    )


async def read_form(request: web.Request) -> MultiDictProxy[Any]:
    """The posted form, or 400 when it is not UTF-8 text."""
    try:
        return await request.post()
    except (UnicodeDecodeError, ValueError):
        raise web.HTTPBadRequest(text=N_("The form is not UTF-8 text.")) from None


async def _subscribe_fields(request: web.Request, target: Target) -> tuple[str, str, str, str, str]:
    """(time zone, src, client, language, copy variant) from a form or a JSON body; a bad
    zone or language falls back quietly (to the segment's zone, and to the language a page
    would speak); an unknown variant counts as none."""
    segment = target.segments[0]
    if request.content_type == "application/json":
        body = parse_json_object(await request.read() or b"{}")
        zone, src, client = body.get("timezone"), body.get("src"), "api"
        language, variant = body.get("lang"), ""
    else:
        form = await read_form(request)
        zone, src, client = form.get("tz"), form.get("src"), str(form.get("client", "copy"))
        language, variant = form.get("lang"), str(form.get("variant", ""))
    shown = {str(v["key"]) for v in shown_variants(segment.variants, segment.variant_kept)}
    zone = zone if isinstance(zone, str) and is_timezone(zone) else segment.timezone
    return (
        zone,
        clean_src(src) or clean_src(request.query.get("src")),
        client if client in CLIENTS else "api",
        supported(language) or choose(request, segment.language or target.workspace.language),
        variant if variant in shown else "",
    )


async def _subscribe(request: web.Request, target: Target) -> web.Response:
    limiter, address = request.app[SUBSCRIBE_LIMITER], client_address(request)
    if not limiter.allow(address):
        retry = str(limiter.retry_after(address))
        raise web.HTTPTooManyRequests(
            text=N_("Too many subscriptions from your address; try again in a minute."),
            headers={"Retry-After": retry},
        )
    zone, src, client, language, variant = await _subscribe_fields(request, target)
    async with request.app[SESSIONS].begin() as session:
        subscription = await create_subscription(
            session, target.workspace.id, [s.id for s in target.segments], zone,
            target.src or src, client, request.app[CLOCK].now(), contact_id=target.contact_id,
            language=language,
        )  # fmt: skip
        await mark_offered(session, subscription, target.segments[0].id)
        subscription.variant = variant
    token = request.app[SIGNER].sign(FEED_PURPOSE, subscription.id)
    if _wants_json(request):
        name = target.segments[0].name if len(target.segments) == 1 else target.workspace.name
        links = subscription_links(request.app[CONFIG].base_url, token, name)
        return json_response(SubscriptionLinks, {**links.as_dict(), "lang": language}, status=201)
    raise web.HTTPSeeOther(f"/subscribed/{token}?via={client}")


async def subscribe(request: web.Request) -> web.Response:
    return await _subscribe(request, await _target(request))


async def personal_subscribe(request: web.Request) -> web.Response:
    return await _subscribe(request, await personal_target(request))


async def view_for_token(request: web.Request) -> tuple[str, Any]:
    token = request.match_info["token"]
    sub_id = subscription_id(request.app, token)
    view = None
    if sub_id is not None:
        async with request.app[SESSIONS]() as session:
            view = await feed_view(session, sub_id)
    if view is None:
        raise web.HTTPNotFound(text=N_("This subscription link is not valid."))
    return token, view


async def subscribed(request: web.Request) -> web.Response:
    token, view = await view_for_token(request)
    name = calendar_name(view)
    via = request.query.get("via", "copy")
    return render(
        request,
        "subscribed.html",
        choose(request, view.language),
        brand=await brand_for(request, view.workspace_id),
        name=name,
        links=subscription_links(request.app[CONFIG].base_url, token, name),
        via=via if via in CLIENTS else "copy",
        active=view.status not in ENDED,
    )


async def unsubscribe_page(request: web.Request) -> web.Response:
    _, view = await view_for_token(request)
    return render(
        request,
        "unsubscribe.html",
        choose(request, view.language),
        brand=await brand_for(request, view.workspace_id),
        name=calendar_name(view),
        ended=ended_name(view),
        active=view.status not in ENDED,
        action=request.path,
    )


async def unsubscribe(request: web.Request) -> web.Response:
    _, view = await view_for_token(request)
    async with request.app[SESSIONS].begin() as session:
        subscription = await get_subscription(session, view.subscription_id)
        await end(session, subscription, "unsubscribed", request.app[CLOCK].now())
    language = choose(request, view.language)
    ended = ended_name(view)
    brand = await brand_for(request, view.workspace_id)
    return render(
        request, "unsubscribed.html", language, brand=brand, name=calendar_name(view), ended=ended
    )
