"""The Channels page: the configured channels (never their credentials) with the report
URL to give each provider, and the workspace's cascade policy as a form.

The form becomes the API's JSON body and goes through parse_policy, so it refuses what
PUT /api/v1/cascade/policy refuses; each error is shown next to the row and field it is
about, and the form keeps what was typed.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from aiohttp import web

from calserver.appkeys import CHANNELS
from calserver.cascade.policy import DEFAULT_WAIT, MAX_STEPS, parse_policy
from calserver.cascade.registry import CALENDAR
from calserver.validation import FieldErrors
from feeds.i18n import N_
from web.admin.render import form_of, page, see_other, texts_of
from web.api.cascade import channels_json, save_policy, stored_policy
from web.api.common import workspace_of

WHOLE = re.compile(r"-?\d{1,12}")
CAP_FIELDS = {"max": "cap_max", "period_seconds": "cap_period", "action": "cap_action"}
SAVED = {"policy": N_("Policy saved."), "removed": N_("Policy removed: triggers get no cascade.")}


def _saved(request: web.Request) -> str | None:
    message = SAVED.get(request.query.get("saved", ""))
    return texts_of(request).gettext(message) if message else None


def step_rows(channels: list[dict[str, Any]], form: dict[str, str]) -> int:
    """Enough rows for the calendar and every channel, and for whatever the form holds."""
    used = [i for i in range(MAX_STEPS) if form.get(f"step-{i}-channel")]
    return min(MAX_STEPS, max(len(channels) + 1, 2, (used[-1] + 1) if used else 0))


def _price_text(raw: Any) -> str:
    price = Decimal(str(raw))
    return f"{price:.2f}" if price == price.quantize(Decimal("0.01")) else f"{price.normalize():f}"


def form_of_policy(policy: dict[str, Any] | None) -> dict[str, str]:
    """The stored policy (the API's JSON) as the form's fields."""
    if policy is None:
        return {"quiet_hours": "on"}
    form = {"quiet_hours": "on" if policy.get("quiet_hours", True) else ""}
    for index, step in enumerate(policy["steps"]):
        form[f"step-{index}-channel"] = step["channel"]
        form[f"step-{index}-price"] = _price_text(step["price"])
        form[f"step-{index}-wait"] = str(step["wait_seconds"])
    for key, name in CAP_FIELDS.items():
        if cap := policy.get("frequency_cap"):
            form[name] = str(cap[key])
    return form


def _number(text: str) -> int | str:
    """A whole number when the text is one; else the text, which the policy's check refuses."""
    return int(text) if WHOLE.fullmatch(text) else text


def body_of(form: dict[str, str]) -> tuple[dict[str, Any], list[int]]:
    """The API body for the form, and the form row of each step in it (blank rows drop out)."""
    steps, rows = [], []
    for index in range(MAX_STEPS):
        channel, price, wait = (form.get(f"step-{index}-{part}", "").strip()
                                for part in ("channel", "price", "wait"))  # fmt: skip
        if not (channel or price or wait):
            continue
        step: dict[str, Any] = {"channel": channel}
        if price:
            step["price"] = price
        if wait:
            step["wait_seconds"] = _number(wait)
        steps.append(step)
        rows.append(index)
    body: dict[str, Any] = {"steps": steps, "quiet_hours": form.get("quiet_hours") == "on"}
    cap = {key: form.get(name, "").strip() for key, name in CAP_FIELDS.items()}
    if cap["max"] or cap["period_seconds"]:
        body["frequency_cap"] = {
            key: _number(value) if key != "action" else value or "defer"
            for key, value in cap.items() if value or key == "action"
        }  # fmt: skip
    return body, rows


def field_of(pointer: str, rows: list[int]) -> str:
    """The form field an API pointer ("/steps/1/price", "/frequency_cap/max") is about."""
    parts = pointer.strip("/").split("/")
    if parts[0] == "steps" and len(parts) > 1 and parts[1].isascii() and parts[1].isdigit():
        part = {"price": "price", "wait_seconds": "wait"}.get(parts[2] if len(parts) > 2 else "")
        return f"step-{rows[int(parts[1])]}-{part or 'channel'}"
    if parts[0] == "frequency_cap":
        return CAP_FIELDS.get(parts[1] if len(parts) > 1 else "max", "cap_max")
    return parts[0] if parts[0] in ("steps", "quiet_hours") else "form"


def errors_of(errors: list[tuple[str, str]], rows: list[int]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for pointer, message in errors:
        grouped.setdefault(field_of(pointer, rows), []).append(message)
    return grouped


async def _page(
    request: web.Request, form: dict[str, str], status: int = 200, **context: Any
) -> web.Response:
    channels = channels_json(request)
    return page(request, "channels.html", section="channels", status=status, channels=channels,
                choices=[CALENDAR, *(c["name"] for c in channels)], form=form,
                rows=step_rows(channels, form), default_wait=DEFAULT_WAIT, **context)  # fmt: skip


async def channels_page(request: web.Request) -> web.Response:
    policy = await stored_policy(request)
    return await _page(request, form_of_policy(policy), errors={}, has_policy=policy is not None,
                       saved=_saved(request))  # fmt: skip


async def save(request: web.Request) -> web.Response:
    form = await form_of(request)
    body, rows = body_of(form)
    try:
        policy = parse_policy(body, request.app[CHANNELS], workspace_of(request).slug)
    except FieldErrors as error:
        has_policy = await stored_policy(request) is not None
        return await _page(request, form, 422, errors=errors_of(error.errors, rows),
                           has_policy=has_policy, saved=None)  # fmt: skip
    await save_policy(request, policy)
    raise see_other("/admin/channels?saved=policy")


async def remove(request: web.Request) -> web.Response:
    await save_policy(request, None)
    raise see_other("/admin/channels?saved=removed")
