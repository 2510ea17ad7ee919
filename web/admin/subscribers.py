"""The anonymous subscribers table, with filters (storage/subscribers.py)."""

from __future__ import annotations

from aiohttp import web

from calserver.appkeys import SESSIONS
from storage import segments as segment_store
from storage.families import FAMILIES
from storage.lifecycle import STATUSES
from storage.subscribers import list_subscribers
from web.admin.render import page
from web.api.common import workspace_of
from web.subscribe import clean_src

PAGE_SIZE = 100


def _choice(request: web.Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.query.get(name, "")
    return value if value in allowed else None


async def subscribers_page(request: web.Request) -> web.Response:
    workspace = workspace_of(request)
    status = _choice(request, "status", STATUSES)
    family = _choice(request, "family", FAMILIES)
    src = clean_src(request.query.get("src")) or None
    raw_page = request.query.get("page", "1")
    number = (
        int(raw_page)
        if raw_page.isascii() and raw_page.isdigit() and 0 < int(raw_page) < 100_000
        else 1
    )
    async with request.app[SESSIONS]() as session:
        segments = await segment_store.list_segments(session, workspace.id)
        chosen = next((s for s in segments if s.slug == request.query.get("segment")), None)
        rows, slugs = await list_subscribers(
            session, workspace.id, chosen.id if chosen else None, status,
            PAGE_SIZE + 1, (number - 1) * PAGE_SIZE, family=family, src=src,
        )  # fmt: skip
    filters = {"segment": chosen.slug if chosen else "", "status": status or "",
               "family": family or "", "src": src or ""}  # fmt: skip
    return page(request, "subscribers.html", section="subscribers", rows=rows[:PAGE_SIZE],
                slugs=slugs, segments=segments, statuses=STATUSES, families=FAMILIES,
                filters=filters, number=number, more=len(rows) > PAGE_SIZE,
                zone=workspace.timezone)  # fmt: skip
