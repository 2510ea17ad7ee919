"""Rendering dashboard pages: one layout, the navigation, field errors next to fields."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from aiohttp import web

from web.admin.keys import ADMIN, CSRF
from web.pages import templates

# (section, label, path): a new page is one more line.
NAV: tuple[tuple[str, str, str], ...] = (
    ("segments", "Segments", "/admin/segments"),
    ("stats", "Statistics", "/admin/stats"),
    ("subscribers", "Subscribers", "/admin/subscribers"),
    ("triggers", "Triggers", "/admin/triggers"),
    ("cascade", "Cascade", "/admin/cascade"),
    ("channels", "Channels", "/admin/channels"),
    ("webhooks", "Webhooks", "/admin/webhooks"),
    ("access", "API keys & users", "/admin/access"),
    ("settings", "Settings", "/admin/settings"),
    ("brand", "Brand", "/admin/brand"),
)
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Robots-Tag": "noindex",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}


def page(
    request: web.Request, template: str, *, section: str, status: int = 200, **context: Any
) -> web.Response:
    admin = request.get(ADMIN)
    html = (
        templates()
        .get_template(f"admin/{template}")
        .render(
            nav=NAV,
            section=section,
            admin=admin,
            workspace=admin.workspace if admin else None,
            csrf=request.get(CSRF, ""),
            **context,
        )
    )
    return web.Response(text=html, status=status, content_type="text/html", headers=HEADERS)


def see_other(location: str) -> web.HTTPSeeOther:
    """After a successful POST, the browser GETs the result (reloading repeats nothing)."""
    return web.HTTPSeeOther(location)


def errors_by_field(errors: list[tuple[str, str]]) -> dict[str, list[str]]:
    """API pointers ("/alarms/1/before") grouped by the form field they belong to."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for pointer, message in errors:
        field = pointer.strip("/").split("/")[0] or "form"
        detail = pointer.strip("/").split("/", 1)[1] if "/" in pointer.strip("/") else ""
        grouped[field].append(f"{detail}: {message}" if detail else message)
    return dict(grouped)


async def form_of(request: web.Request) -> dict[str, str]:
    """The submitted form's text fields (files are read by the pages that take them)."""
    return {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
