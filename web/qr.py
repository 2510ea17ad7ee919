"""QR codes for subscribe links (segno), SVG and PNG, with a bounded size."""

from __future__ import annotations

import io
from functools import lru_cache

import segno
from aiohttp import web

from calserver.appkeys import CONFIG, SESSIONS
from storage.subscriptions import segment_by_slugs
from web.api.segments import subscribe_path

MAX_SCALE = 40
DEFAULT_SCALE = 8


@lru_cache(maxsize=1024)
def qr_bytes(content: str, kind: str, scale: int) -> bytes:
    buffer = io.BytesIO()
    segno.make(content, error="m").save(buffer, kind=kind, scale=scale, border=4)
    return buffer.getvalue()


def _scale(request: web.Request) -> int:
    raw = request.query.get("scale", str(DEFAULT_SCALE))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_SCALE:
        raise web.HTTPBadRequest(text=f"scale must be a whole number from 1 to {MAX_SCALE}")
    return int(raw)


async def qr(request: web.Request) -> web.Response:
    kind = request.match_info["kind"]
    scale = _scale(request)
    workspace_slug, segment_slug = request.match_info["workspace"], request.match_info["segment"]
    async with request.app[SESSIONS]() as session:
        await segment_by_slugs(session, workspace_slug, segment_slug)  # 404 for unknown segments
    link = request.app[CONFIG].base_url + subscribe_path(workspace_slug, segment_slug) + "?src=qr"
    content_type = "image/svg+xml" if kind == "svg" else "image/png"
    return web.Response(
        body=qr_bytes(link, kind, scale),
        content_type=content_type,
        headers={
            "Cache-Control": "public, max-age=3600",
            "Content-Disposition": f'inline; filename="{segment_slug}-qr.{kind}"',
        },
    )


async def personal_qr(request: web.Request) -> web.Response:
    """The QR of a personalized link (checked first: no QR for a forged or expired link)."""
    from web.subscribe import personal_target  # the link's rules live with the pages

    await personal_target(request)
    kind = request.match_info["kind"]
    link = request.app[CONFIG].base_url + f"/p/{request.match_info['token']}"
    return web.Response(
        body=qr_bytes(link, kind, _scale(request)),
        content_type="image/svg+xml" if kind == "svg" else "image/png",
        headers={"Cache-Control": "private, max-age=3600"},
    )


ROBOTS = """User-agent: *
Allow: /f/
Allow: /s/
Disallow: /api/
Disallow: /u/
Disallow: /subscribed/
Disallow: /p/
Disallow: /m/
"""


async def robots(request: web.Request) -> web.Response:
    # Google obeys robots.txt when it fetches subscribed feeds: /f/ must stay allowed.
    return web.Response(text=ROBOTS, content_type="text/plain")
