"""/m/{token}: the subscriber changes which calendars they follow and their zone (by POST)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from calserver.appkeys import CLOCK, SESSIONS
from calserver.validation import is_timezone, zone_names
from feeds.feed import calendar_name, ended_name
from feeds.i18n import texts
from storage.lifecycle import ENDED
from storage.models import Subscription
from storage.subscriptions import (
    FeedView,
    change_subscription,
    get_subscription,
    workspace_segments,
)
from web.brand import brand_for
from web.language import choose
from web.subscribe import read_form, render, view_for_token


async def _page(request: web.Request, view: FeedView, **extra: Any) -> web.Response:
    async with request.app[SESSIONS]() as session:
        segments = await workspace_segments(session, view.workspace_id)
        subscription = await session.get(Subscription, view.subscription_id)
    return render(
        request,
        "manage.html",
        extra.pop("language"),
        status=extra.pop("status", 200),
        brand=await brand_for(request, view.workspace_id),
        name=calendar_name(view),
        ended=ended_name(view),
        view=view,
        segments=segments,
        following={s.id for s in view.segments},
        zones=zone_names(),
        active=view.status not in ENDED,
        reward=subscription,
        action=request.path,
        unsubscribe=request.path.replace("/m/", "/u/", 1),
        **extra,
    )


async def manage_page(request: web.Request) -> web.Response:
    _, view = await view_for_token(request)
    return await _page(request, view, language=choose(request, view.language))


async def manage(request: web.Request) -> web.Response:
    _, view = await view_for_token(request)
    language = choose(request, view.language)
    t = texts(language)
    form = await read_form(request)
    zone = str(form.get("tz", ""))
    raw = [str(value) for value in form.getall("segment", [])]
    if not all(value.isascii() and value.isdigit() and len(value) <= 18 for value in raw):
        error = t.gettext("Pick calendars from the list.")
        return await _page(request, view, language=language, status=422, error=error)
    chosen = sorted({int(value) for value in raw})
    if view.status in ENDED:
        error = t.gettext("This subscription has ended; subscribe again instead.")
        return await _page(request, view, language=language, status=409, error=error)
    if not is_timezone(zone):
        error = t.gettext("Unknown time zone “%(zone)s”; pick one from the list.", zone=zone)
        return await _page(request, view, language=language, status=422, error=error)
    if not chosen:
        error = t.gettext("Pick at least one calendar, or unsubscribe below.")
        return await _page(request, view, language=language, status=422, error=error)
    async with request.app[SESSIONS].begin() as session:
        subscription = await get_subscription(session, view.subscription_id)
        await change_subscription(session, subscription, chosen, zone, request.app[CLOCK].now())
    _, view = await view_for_token(request)
    return await _page(request, view, language=language, saved=True)
