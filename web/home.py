"""The operator's home page at ``/``: what this server is and where to go next.

A newcomer opening the server's address in a browser meets a page, not a JSON 404: links
to the dashboard and the API documentation, and on a demo install the demo segment's
landing page, so the first subscription is one click away.
"""

from __future__ import annotations

from aiohttp import web

from calserver.appkeys import CONFIG, SESSIONS
from calserver.demo import DEMO_SEGMENT, DEMO_WORKSPACE
from storage.errors import NotFound
from storage.subscriptions import segment_by_slugs
from web.language import choose
from web.subscribe import render


async def _demo_link(request: web.Request) -> str | None:
    """The demo segment's landing page, when demo mode is on and the segment still exists."""
    if not request.app[CONFIG].demo:
        return None
    async with request.app[SESSIONS]() as session:
        try:
            await segment_by_slugs(session, DEMO_WORKSPACE, DEMO_SEGMENT)
        except NotFound:
            return None
    return f"/s/{DEMO_WORKSPACE}/{DEMO_SEGMENT}"


async def home(request: web.Request) -> web.Response:
    language = choose(request, request.app[CONFIG].language)
    return render(request, "home.html", language, demo=await _demo_link(request))
