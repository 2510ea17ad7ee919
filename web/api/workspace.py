"""GET and PATCH /api/v1/workspace: name, default time zone, quiet hours, SMS price."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from calserver.appkeys import CLOCK
from calserver.validation import Checker
from storage.lookup import WorkspaceRow
from storage.models import Workspace
from storage.workspaces import workspace_by_slug
from web.api.common import json_response, read_json_object, transaction, workspace_of
from web.api.languages import language_field

WORKSPACE_FIELDS = {"name", "timezone", "quiet_hours", "sms_price", "currency", "language"}


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


def parse_workspace_patch(body: dict[str, Any]) -> dict[str, Any]:
    c = Checker(body)
    c.unknown_fields(WORKSPACE_FIELDS)
    changes: dict[str, Any] = {}
    if "name" in body and (name := c.text("name", max_length=200, required=True)):
        changes["name"] = name
    if "timezone" in body and (zone := c.timezone("timezone", required=True)):
        changes["timezone"] = zone
    if "quiet_hours" in body:
        quiet = body["quiet_hours"]
        if not isinstance(quiet, dict) or set(quiet) != {"start", "end"}:
            c.fail("quiet_hours", 'use {"start": "22:00", "end": "08:00"}')
        else:
            start = c.clock("quiet_hours/start", quiet["start"])
            end = c.clock("quiet_hours/end", quiet["end"])
            if start and end:
                changes["quiet_start"], changes["quiet_end"] = start, end
    if "sms_price" in body:
        changes["sms_price"] = _price(c, body["sms_price"])
    if "currency" in body:
        currency = c.text("currency", max_length=3, required=True)
        if currency and not (len(currency) == 3 and currency.isalpha() and currency.isupper()):
            c.fail("currency", "use an ISO 4217 code such as RUB")
        elif currency:
            changes["currency"] = currency
    if "language" in body and (language := language_field(c, "language", nullable=False)):
        changes["language"] = language
    c.done()
    return changes


def _price(c: Checker, value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        c.fail("sms_price", "must be a number such as 2.4")
        return None
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        c.fail("sms_price", "must be a number such as 2.4")
        return None
    if not price.is_finite() or price < 0 or price >= 10**8:
        c.fail("sms_price", "must be between 0 and 99,999,999")
        return None
    return price.quantize(Decimal("0.0001"))


async def get_workspace(request: web.Request) -> web.Response:
    return json_response(workspace_json(workspace_of(request)))


async def patch_workspace(request: web.Request) -> web.Response:
    changes = parse_workspace_patch(await read_json_object(request))
    async with transaction(request) as session:
        workspace = await change_workspace(request, session, changes)
        return json_response(workspace_json(workspace))


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
