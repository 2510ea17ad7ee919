"""GET and PATCH /api/v1/workspace: name, default time zone, quiet hours, SMS price."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from calserver.appkeys import CLOCK, CONFIG
from calserver.brand import BrandError, check_logo
from calserver.shapes import workspace as shapes
from calserver.shapes.fields import check_body
from calserver.shapes.workspace import WorkspacePatch
from storage.brand import delete_logo as remove_logo
from storage.brand import put_logo as store_logo
from storage.lookup import WorkspaceRow
from storage.models import Workspace
from storage.workspaces import workspace_by_slug
from web.api.common import json_response, read_json_object, transaction, workspace_of
from web.brand import logo_path
from web.problems import problem


def workspace_json(workspace: Workspace | WorkspaceRow) -> dict[str, Any]:
    return {
        "slug": workspace.slug,
        "name": workspace.name,
        "timezone": workspace.timezone,
        "quiet_hours": {"start": workspace.quiet_start, "end": workspace.quiet_end},
        "sms_price": float(workspace.sms_price) if workspace.sms_price is not None else None,
        "currency": workspace.currency,
        "language": workspace.language,
        # The brand lives on the stored row only (the key's cached row has no logo).
        "logo_url": None,
        "brand_color": getattr(workspace, "brand_color", None),
        "footer": getattr(workspace, "footer", None),
        "created_at": workspace.created_at.isoformat(),
        "updated_at": workspace.updated_at.isoformat(),
    }


def workspace_answer(request: web.Request, workspace: Workspace) -> dict[str, Any]:
    logo = logo_path(workspace)
    answer = workspace_json(workspace)
    answer["logo_url"] = request.app[CONFIG].base_url + logo if logo else None
    return answer


def parse_workspace_patch(body: Any) -> dict[str, Any]:
    """The columns a PATCH body changes, or FieldErrors."""
    patch = check_body(WorkspacePatch, body)
    changes = patch.model_dump(exclude_unset=True)
    if quiet := changes.pop("quiet_hours", None):
        changes["quiet_start"], changes["quiet_end"] = quiet["start"], quiet["end"]
    if "sms_price" in changes and changes["sms_price"] is not None:
        changes["sms_price"] = Decimal(str(changes["sms_price"])).quantize(Decimal("0.0001"))
    if changes.get("brand_color"):
        changes["brand_color"] = changes["brand_color"].lower()
    if "footer" in changes:
        changes["footer"] = (changes["footer"] or "").strip() or None
    return changes


async def get_workspace(request: web.Request) -> web.Response:
    async with transaction(request) as session:
        workspace = await workspace_by_slug(session, workspace_of(request).slug)
        return json_response(shapes.Workspace, workspace_answer(request, workspace))


async def patch_workspace(request: web.Request) -> web.Response:
    changes = parse_workspace_patch(await read_json_object(request))
    async with transaction(request) as session:
        workspace = await change_workspace(request, session, changes)
        return json_response(shapes.Workspace, workspace_answer(request, workspace))


async def put_logo(request: web.Request) -> web.Response:
    """The body is the image itself, typed by its Content-Type (PNG, JPEG or SVG)."""
    try:
        logo = check_logo(await request.read(), request.headers.get("Content-Type", ""))
    except BrandError as error:
        return problem(error.status, str(error))
    async with transaction(request) as session:
        workspace = await workspace_by_slug(session, workspace_of(request).slug)
        await store_logo(session, workspace, logo.content_type, logo.digest, logo.body)
        workspace.updated_at = request.app[CLOCK].now()
    return web.Response(status=204)


async def delete_logo(request: web.Request) -> web.Response:
    async with transaction(request) as session:
        workspace = await workspace_by_slug(session, workspace_of(request).slug)
        await remove_logo(session, workspace)
        workspace.updated_at = request.app[CLOCK].now()
    return web.Response(status=204)


async def change_workspace(
    request: web.Request, session: AsyncSession, changes: dict[str, Any]
) -> Workspace:
    """Apply checked changes (the API's PATCH and the dashboard's settings form)."""
    workspace = await workspace_by_slug(session, workspace_of(request).slug)
    for name, value in changes.items():
        setattr(workspace, name, value)
    workspace.updated_at = request.app[CLOCK].now()
    await session.flush()
    return workspace
