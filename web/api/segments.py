"""Segments: /api/v1/segments and /api/v1/segments/{slug}."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from markupsafe import escape

from calserver.appkeys import CLOCK, CONFIG
from calserver.shapes import workspace as shapes
from calserver.shapes.fields import check_body
from calserver.shapes.workspace import SegmentInput, SegmentPatch
from feeds.i18n import DEFAULT_LANGUAGE, N_, texts
from storage import segments as store
from storage.lookup import WorkspaceRow
from storage.models import Segment, Workspace
from storage.rewards import offer_open, set_reward
from web.api.common import json_response, read_json_object, transaction, workspace_of


def subscribe_path(workspace_slug: str, segment_slug: str) -> str:
    return f"/s/{workspace_slug}/{segment_slug}"


EMBED_LABEL = N_("Add to my calendar")


def embed_html(subscribe_url: str, color: str | None, language: str = DEFAULT_LANGUAGE) -> str:
    """A styled link for a business's own site: no script, nothing loaded from elsewhere."""
    background = color or "#1565C0"
    red, green, blue = (int(background[i : i + 2], 16) for i in (1, 3, 5))
    text = "#000" if 0.299 * red + 0.587 * green + 0.114 * blue > 160 else "#fff"
    style = (
        f"display:inline-block;padding:.7em 1.2em;border-radius:.5em;background:{background};"
        f"color:{text};font:600 16px/1.2 system-ui,sans-serif;text-decoration:none"
    )
    href = escape(subscribe_url + "?src=button")
    label = escape(texts(language).gettext(EMBED_LABEL))
    return f'<a href="{href}" style="{style}" lang="{language}">{label}</a>'


def segment_json(
    request: web.Request, workspace: Workspace | WorkspaceRow, segment: Segment
) -> dict[str, Any]:
    base = request.app[CONFIG].base_url
    subscribe_url = base + subscribe_path(workspace.slug, segment.slug)
    return {
        "slug": segment.slug,
        "name": segment.name,
        "description": segment.description,
        "color": segment.color,
        "timezone": segment.timezone,
        "language": segment.language,
        "version": segment.version,
        "subscribe_url": subscribe_url,
        "qr_svg_url": subscribe_url + "/qr.svg",
        "qr_png_url": subscribe_url + "/qr.png",
        "embed_html": embed_html(
            subscribe_url, segment.color, segment.language or workspace.language
        ),
        "events_url": f"{base}/api/v1/segments/{segment.slug}/events",
        "reward": reward_json(segment),
        "created_at": segment.created_at.isoformat(),
        "updated_at": segment.updated_at.isoformat(),
    }


def parse_segment(body: Any, *, partial: bool) -> dict[str, Any]:
    """The fields a body sets (for a PATCH, only those it names), or FieldErrors."""
    if partial:
        patch = check_body(SegmentPatch, body)
        fields = patch.model_dump(exclude_unset=True)
    else:
        fields = check_body(SegmentInput, body).model_dump(exclude_none=True)
    if "description" in fields:
        fields["description"] = fields["description"] or ""
    if fields.get("color"):
        fields["color"] = fields["color"].upper()
    return fields


async def list_segments(request: web.Request) -> web.Response:
    workspace = workspace_of(request)
    async with transaction(request) as session:
        segments = await store.list_segments(session, workspace.id)
    items = [segment_json(request, workspace, s) for s in segments]
    return json_response(shapes.SegmentList, {"items": items})


async def create_segment(request: web.Request) -> web.Response:
    workspace = workspace_of(request)
    fields = parse_segment(await read_json_object(request), partial=False)
    fields.setdefault("description", "")
    # A segment keeps the zone it was created with, even if the workspace default changes.
    fields.setdefault("timezone", workspace.timezone)
    async with transaction(request) as session:
        segment = await store.create_segment(
            session, workspace.id, fields, request.app[CLOCK].now()
        )
    answer = segment_json(request, workspace, segment)
    return json_response(
        shapes.Segment, answer, status=201, headers={"Location": f"/api/v1/segments/{segment.slug}"}
    )


async def get_segment(request: web.Request) -> web.Response:
    workspace = workspace_of(request)
    async with transaction(request) as session:
        segment = await store.get_segment(session, workspace.id, request.match_info["slug"])
    return json_response(shapes.Segment, segment_json(request, workspace, segment))


def reward_json(segment: Segment) -> dict[str, Any] | None:
    if not segment.reward_text:
        return None
    return {"text": segment.reward_text, "code": segment.reward_code, "pool": segment.reward_pool,
            "available": segment.reward_available if segment.reward_pool else 0,
            "announced": offer_open(segment)}  # fmt: skip


async def patch_segment(request: web.Request) -> web.Response:
    workspace = workspace_of(request)
    fields = parse_segment(await read_json_object(request), partial=True)
    changes_reward, reward = "reward" in fields, fields.pop("reward", None)
    async with transaction(request) as session:
        segment = await store.get_segment(session, workspace.id, request.match_info["slug"])
        if changes_reward:  # the landing page's offer; unused pool codes are kept
            text = reward["text"] if reward else None
            set_reward(
                segment, text, reward and reward.get("code"), bool(reward and reward.get("pool"))
            )
        await store.update_segment(session, segment, fields, request.app[CLOCK].now())
    return json_response(shapes.Segment, segment_json(request, workspace, segment))


async def delete_segment(request: web.Request) -> web.Response:
    workspace = workspace_of(request)
    async with transaction(request) as session:
        segment = await store.get_segment(session, workspace.id, request.match_info["slug"])
        await store.delete_segment(session, segment)
    return web.Response(status=204)
