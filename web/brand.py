"""The workspace's brand on subscribers' pages: its logo and colour, served by us.

Both URLs are named by their content (the logo's SHA-256, the colour itself), so they are
cached for a year and never go stale: a new logo is a new URL. Nothing comes from another
host, and the pages' Content-Security-Policy stays as it is (``style-src 'self'``: the
colour arrives as a stylesheet, not as an inline style).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from calserver.appkeys import SESSIONS
from calserver.brand import LOGO_TYPES, SVG_CSP, BrandError, brand_css
from storage.brand import logo_of
from storage.models import Workspace

FOREVER = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Brand:
    name: str
    logo_url: str | None
    css_url: str | None
    footer: str


def logo_path(workspace: Workspace) -> str | None:
    if not workspace.logo_digest or workspace.logo_type not in LOGO_TYPES:
        return None
    extension = LOGO_TYPES[workspace.logo_type]
    return f"/brand/{workspace.slug}/logo-{workspace.logo_digest[:16]}.{extension}"


def brand_of(workspace: Workspace) -> Brand:
    color = workspace.brand_color
    return Brand(
        name=workspace.name,
        logo_url=logo_path(workspace),
        css_url=f"/brand/color/{color[1:].lower()}.css" if color else None,
        footer=workspace.footer or "",
    )


async def brand_for(request: web.Request, workspace_id: int) -> Brand | None:
    async with request.app[SESSIONS]() as session:
        workspace = await session.get(Workspace, workspace_id)
    return brand_of(workspace) if workspace is not None else None


def _not_modified(request: web.Request, etag: str) -> bool:
    wanted = request.headers.get("If-None-Match", "")
    return any(tag.strip() in (etag, "*") for tag in wanted.split(","))


async def logo(request: web.Request) -> web.Response:
    """The logo, while its URL is the current one (an old logo's URL is gone)."""
    async with request.app[SESSIONS]() as session:
        stored = await logo_of(session, request.match_info["workspace"])
    short, extension = request.match_info["digest"], request.match_info["ext"]
    if (
        stored is None
        or not stored.digest.startswith(short)
        or LOGO_TYPES.get(stored.content_type) != extension
    ):
        raise web.HTTPNotFound(text="No such logo.")
    etag = f'"{stored.digest}"'
    headers = {
        "ETag": etag,
        "Cache-Control": FOREVER,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": SVG_CSP,
        "Cross-Origin-Resource-Policy": "same-origin",
    }
    if _not_modified(request, etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=stored.body, content_type=stored.content_type, headers=headers)


async def color_css(request: web.Request) -> web.Response:
    try:
        css = brand_css("#" + request.match_info["color"])
    except BrandError:
        raise web.HTTPNotFound(text="No such colour.") from None
    etag = '"' + request.match_info["color"].lower() + '"'
    headers = {"ETag": etag, "Cache-Control": FOREVER, "X-Content-Type-Options": "nosniff"}
    if _not_modified(request, etag):
        return web.Response(status=304, headers=headers)
    return web.Response(text=css, content_type="text/css", headers=headers)
