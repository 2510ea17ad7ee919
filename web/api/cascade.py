"""The cascade's API: the workspace's policy, its channels, the cost report, and the
delivery-report callback providers post to."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from calserver.appkeys import CHANNELS, CLOCK, CONFIG, SIGNER
from calserver.cascade.policy import parse_policy
from calserver.shapes.crm import Cascade, CascadePolicy
from calserver.shapes.queries import Period
from calserver.shapes.stats import CascadeReport
from storage.cascade import record_report
from storage.cascade_report import CENT, cascade_report
from storage.models import CascadeStep as StepRow
from storage.models import Workspace
from storage.policy import Policy
from storage.stats import Scope
from web.api.common import json_response, read_json_object, transaction, workspace_of
from web.api.stats import scope_from_query
from web.problems import problem

REPORT_PURPOSE = "delivery-report"
MAX_REPORT_BYTES = 64 * 1024


def _stamp(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def step_json(step: StepRow) -> dict[str, Any]:
    return {
        "channel": step.channel, "state": step.state, "reason": step.reason,
        "price": float(step.price), "cost": float(step.cost), "attempts": step.attempts,
        "due_at": _stamp(step.due_at), "sent_at": _stamp(step.sent_at),
        "finished_at": _stamp(step.finished_at), "late_report": step.late_report,
    }  # fmt: skip


async def trigger_steps(session: AsyncSession, trigger_id: int) -> list[dict[str, Any]]:
    steps = await session.scalars(
        select(StepRow).where(StepRow.trigger_id == trigger_id).order_by(StepRow.position)
    )
    return [step_json(step) for step in steps]


def report_url(request: web.Request, channel: str) -> str:
    """Where a provider posts this channel's delivery reports: signed, so only whoever was
    given the URL can report."""
    token = request.app[SIGNER].sign(REPORT_PURPOSE, channel)
    return f"{request.app[CONFIG].base_url}/dlr/{channel}/{token}"


def channels_json(request: web.Request) -> list[dict[str, Any]]:
    """The workspace's channels as the API and the dashboard show them: never credentials."""
    registry, slug = request.app[CHANNELS], workspace_of(request).slug
    return [
        {**registry.entries[name].describe(), "report_url": report_url(request, name)}
        for name in registry.names_for(slug)
    ]


async def stored_policy(request: web.Request) -> dict[str, Any] | None:
    async with transaction(request) as session:
        workspace = await session.get(Workspace, workspace_of(request).id)
        return workspace.cascade_policy if workspace else None


async def get_cascade(request: web.Request) -> web.Response:
    policy = await stored_policy(request)
    return json_response(Cascade, {"policy": policy, "channels": channels_json(request)})


async def put_policy(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    workspace = workspace_of(request)
    policy = parse_policy(body, request.app[CHANNELS], workspace.slug)
    await save_policy(request, policy)
    return json_response(CascadePolicy, policy.to_json())


async def delete_policy(request: web.Request) -> web.Response:
    await save_policy(request, None)
    return web.Response(status=204)


async def save_policy(request: web.Request, policy: Policy | None) -> None:
    async with transaction(request) as session:
        await session.execute(
            update(Workspace)
            .where(Workspace.id == workspace_of(request).id)
            .values(
                cascade_policy=policy.to_json() if policy else None,
                updated_at=request.app[CLOCK].now(),
            )
        )


def _sms_price(request: web.Request, policy: dict[str, Any] | None) -> Decimal | None:
    """The workspace's SMS price, else the price of the SMS step in its policy, else of
    the first SMS channel it may use."""
    workspace, registry = workspace_of(request), request.app[CHANNELS]
    if workspace.sms_price is not None:
        return Decimal(workspace.sms_price)
    for step in (policy or {}).get("steps", []):
        entry = registry.get(step["channel"], workspace.slug)
        if entry is not None and entry.type == "sms_http":
            return Decimal(str(step["price"]))
    for name in registry.names_for(workspace.slug):
        if registry.entries[name].type == "sms_http":
            return registry.entries[name].price
    return None


def _money(value: Decimal | None) -> float | None:
    return float(value.quantize(CENT)) if value is not None else None


async def report(request: web.Request) -> web.Response:
    scope = await scope_from_query(request, Period)
    return json_response(CascadeReport, await report_json(request, scope))


async def report_json(request: web.Request, scope: Scope) -> dict[str, Any]:
    """GET /api/v1/reports/cascade's figures; the dashboard's Cascade page draws the same."""
    policy = await stored_policy(request)
    async with transaction(request) as session:
        figures = await cascade_report(session, scope.workspace_id, scope.start, scope.end)
    sms_price = _sms_price(request, policy)
    all_sms = sms_price * figures.triggers if sms_price is not None else None
    return {
        "from": scope.first.isoformat(), "to": scope.last.isoformat(),
        "currency": workspace_of(request).currency, "sms_price": _money(sms_price),
        "triggers": figures.triggers, "with_cascade": figures.with_cascade,
        "delivered_by_calendar": figures.delivered_by_calendar,
        "reached_by_channel": figures.reached_by_channel, "unreached": figures.unreached,
        "channels": [
            {"channel": line.channel, "messages": line.messages, "delivered": line.delivered,
             "failed": line.failed, "late_reports": line.late_reports, "cost": _money(line.cost)}
            for line in figures.channels
        ],
        "cost_total": _money(figures.cost_total), "all_sms_cost": _money(all_sms),
        "saving": _money(all_sms - figures.cost_total) if all_sms is not None else None,
    }  # fmt: skip


async def delivery_report(request: web.Request) -> web.Response:
    """POST /dlr/{channel}/{token}: a provider's delivery report (JSON or form body)."""
    name = request.match_info["channel"]
    if request.app[SIGNER].verify(REPORT_PURPOSE, request.match_info["token"]) != name:
        return problem(404, "unknown delivery-report address")
    entry = request.app[CHANNELS].entries.get(name)
    if entry is None:
        return problem(404, "unknown delivery-report address")
    raw = await request.read()
    if len(raw) > MAX_REPORT_BYTES:
        return problem(413, "delivery report too large")
    body = _report_body(request.content_type, raw)
    if body is None:
        return problem(400, "a delivery report must be a JSON object or a form")
    reading = request.app[CHANNELS].reader(name).read_report(body)
    if reading is None:
        return problem(422, "no message id and known status in this report")
    async with transaction(request) as session:
        outcome = await record_report(
            session, name, reading.provider_id, reading.outcome, request.app[CLOCK].now()
        )
    if not outcome.matched:
        # 404 makes providers that retry their callbacks try again: the report may have
        # overtaken the worker's record of the message id.
        return problem(404, "no message with this id (yet)")
    # A provider's callback, not part of the admin API's document.
    return web.json_response({"recorded": reading.outcome, "late": outcome.late})


def _report_body(content_type: str, raw: bytes) -> dict[str, Any] | None:
    if content_type == "application/x-www-form-urlencoded":
        return dict(parse_qsl(raw.decode("utf-8", "replace")))
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
