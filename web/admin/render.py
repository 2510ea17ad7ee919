"""Rendering dashboard pages: one layout, the navigation, field errors next to fields."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from aiohttp import web

from calserver.appkeys import CONFIG
from feeds.i18n import N_, Texts, say, supported, texts
from web.admin.keys import ADMIN, CSRF
from web.language import ADMIN_COOKIE, from_accept_language, switch
from web.pages import templates

# (section, label, path): a new page is one more line.
NAV: tuple[tuple[str, str, str], ...] = (
    ("segments", N_("Segments"), "/admin/segments"),
    ("stats", N_("Statistics"), "/admin/stats"),
    ("subscribers", N_("Subscribers"), "/admin/subscribers"),
    ("triggers", N_("Triggers"), "/admin/triggers"),
    ("cascade", N_("Cascade"), "/admin/cascade"),
    ("channels", N_("Channels"), "/admin/channels"),
    ("webhooks", N_("Webhooks"), "/admin/webhooks"),
    ("access", N_("API keys & users"), "/admin/access"),
    ("settings", N_("Settings"), "/admin/settings"),
    ("brand", N_("Brand"), "/admin/brand"),
)
# State words the dashboard shows in badges and filters: stored in English, shown with _().
STATE_WORDS = (
    N_("created"), N_("active"), N_("dormant"), N_("lapsed"), N_("unsubscribed"), N_("revoked"),
    N_("pending"), N_("delivered"), N_("undelivered"), N_("cancelled"), N_("sending"),
    N_("sent"), N_("failed"), N_("skipped"), N_("expired"), N_("deferred"), N_("critical"),
    N_("calendar"), N_("other"),  # the cascade's first channel; a calendar app not recognised
)  # fmt: skip
# The dashboard's own language switch (its pages follow it, not the public pages' cookie).
LANGUAGE_COOKIE = ADMIN_COOKIE
ADMIN_LANGUAGE = web.RequestKey("admin_language", str)
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Robots-Tag": "noindex",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}


def language_of(request: web.Request) -> str:
    """The dashboard's language: ?lang= (its switch), its cookie, Accept-Language, then the
    workspace's language (before sign-in: the server's)."""
    chosen = request.get(ADMIN_LANGUAGE)
    if chosen is None:
        admin = request.get(ADMIN)
        default = admin.workspace.language if admin else request.app[CONFIG].language
        chosen = (
            supported(request.query.get("lang"))
            or supported(request.cookies.get(LANGUAGE_COOKIE))
            or from_accept_language(request.headers.get("Accept-Language", ""))
            or supported(default)
            or "en"
        )
        request[ADMIN_LANGUAGE] = chosen
    return chosen


def texts_of(request: web.Request) -> Texts:
    """The dashboard's texts for this request: for messages built in Python."""
    return texts(language_of(request))


def page(
    request: web.Request, template: str, *, section: str, status: int = 200, **context: Any
) -> web.Response:
    language, values = _context(request, section, context)
    html = templates(language).get_template(f"admin/{template}").render(**values)
    return _response(request, html, status, language)


async def page_off_loop(
    request: web.Request, template: str, *, section: str, status: int = 200, **context: Any
) -> web.Response:
    """``page`` for a long page (an import's report of thousands of rows): rendered in a
    worker thread, so other requests are answered meanwhile."""
    language, values = _context(request, section, context)
    html = await asyncio.to_thread(
        templates(language).get_template(f"admin/{template}").render, **values
    )
    return _response(request, html, status, language)


def _context(request: web.Request, section: str, context: dict[str, Any]) -> tuple[str, dict[str, Any]]:  # fmt: skip
    admin = request.get(ADMIN)
    language = language_of(request)
    return language, {
        "nav": NAV,
        "section": section,
        "admin": admin,
        "workspace": admin.workspace if admin else None,
        "csrf": request.get(CSRF, ""),
        "switch": switch(request, language),
        **context,
    }


def _response(request: web.Request, html: str, status: int, language: str) -> web.Response:
    response = web.Response(text=html, status=status, content_type="text/html", headers=HEADERS)
    response.headers["Content-Language"] = language
    if supported(request.query.get("lang")) == language != request.cookies.get(LANGUAGE_COOKIE):
        response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 86400, path="/admin",
                            httponly=True, samesite="Lax", secure=request.secure)  # fmt: skip
    return response


def see_other(location: str) -> web.HTTPSeeOther:
    """After a successful POST, the browser GETs the result (reloading repeats nothing)."""
    return web.HTTPSeeOther(location)


def errors_by_field(errors: list[tuple[str, str]]) -> dict[str, list[str]]:
    """API pointers ("/alarms/1/before") grouped by the form field they belong to; a field
    that takes a list (the reminders) says which of its items is wrong."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for pointer, message in errors:
        field, _, detail = pointer.strip("/").partition("/")
        index = detail.split("/")[0]
        if index.isascii() and index.isdigit():  # "²".isdigit() holds, int("²") fails
            message = say("item %(number)s: %(message)s", number=int(index) + 1, message=message)
        elif detail:
            message = say("%(place)s: %(message)s", place=detail, message=message)
        grouped[field or "form"].append(message)
    return dict(grouped)


async def form_of(request: web.Request) -> dict[str, str]:
    """The submitted form's text fields (files are read by the pages that take them)."""
    return {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
