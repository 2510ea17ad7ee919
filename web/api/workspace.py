"""GET and PATCH /api/v1/workspace: name, default time zone, quiet hours, SMS price."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from calserver.appkeys import CLOCK
from calserver.shapes import workspace as shapes
from calserver.shapes.fields import check_body
from calserver.shapes.workspace import WorkspacePatch
from storage.lookup import WorkspaceRow
from storage.models import Workspace
from storage.workspaces import workspace_by_slug
from web.api.common import json_response, read_json_object, transaction, workspace_of


def workspace_json(workspace: Workspace | WorkspaceRow) -> dict[str, Any]:
    return {
        "slug": workspace.slug,
        "name": workspace.name,
        "timezone": workspace.timezone,
        "quiet_hours": {"start": workspace.quiet_start, "end": workspace.quiet_end},
        "sms_price": float(workspace.sms_price) if workspace.sms_price is not None else None,
        "currency": workspace.currency,
        "language": workspace.language,
        "created_at": workspace.created_at.isoformat(),
        "updated_at": workspace.updated_at.isoformat(),
    }


def parse_workspace_patch(body: Any) -> dict[str, Any]:
    """The columns a PATCH body changes, or FieldErrors."""
    patch = check_body(WorkspacePatch, body)
    changes = patch.model_dump(exclude_unset=True)
    if quiet := changes.pop("quiet_hours", None):
        changes["quiet_start"], changes["quiet_end"] = quiet["start"], quiet["end"]
    if "sms_price" in changes and changes["sms_price"] is not None:
        changes["sms_price"] = Decimal(str(changes["sms_price"])).quantize(Decimal("0.0001"))
    return changes


async def get_workspace(request: web.Request) -> web.Response:
    return json_response(shapes.Workspace, workspace_json(workspace_of(request)))


async def patch_workspace(request: web.Request) -> web.Response:
    changes = parse_workspace_patch(await read_json_object(request))
    async with transaction(request) as session:
        workspace = await change_workspace(request, session, changes)
        return json_response(shapes.Workspace, workspace_json(workspace))


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
