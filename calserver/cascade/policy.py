"""A cascade policy: the ordered steps a trigger's message goes through, and the limits.

Stored as JSON on the workspace (and, when a CRM overrides it, on one trigger)::

    {"steps": [{"channel": "calendar"},
               {"channel": "telegram", "wait_seconds": 600},
               {"channel": "sms", "price": "2.40", "wait_seconds": 900},
               {"channel": "email"}],
     "quiet_hours": true,
     "frequency_cap": {"max": 3, "period_seconds": 86400, "action": "defer"}}

A step's ``price`` defaults to its channel's price in the channels file; ``wait_seconds`` is
how long to wait for a delivery report before the next step (0: "sent" is enough).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from calserver.cascade.registry import CALENDAR, Registry
from calserver.shapes.crm import MAX_STEPS, MAX_WAIT, CascadePolicyInput, StepInput, step_price
from calserver.shapes.fields import check_body
from calserver.validation import FieldErrors
from feeds.i18n import say
from storage.policy import Cap, Policy, Step

DEFAULT_WAIT = 900
__all__ = ["DEFAULT_WAIT", "MAX_STEPS", "MAX_WAIT", "Cap", "Policy", "Step", "parse_policy"]


def _step(
    errors: list[tuple[str, str]], pointer: str, raw: StepInput, registry: Registry, slug: str
) -> Step | None:
    entry = registry.get(raw.channel, slug)
    if raw.channel != CALENDAR and entry is None:
        known = ", ".join([CALENDAR, *registry.names_for(slug)])
        errors.append(
            (
                f"{pointer}/channel",
                say(
                    "unknown channel %(name)s; configured: %(known)s",
                    name=repr(raw.channel[:40]),
                    known=known,
                ),
            )
        )
        return None
    price = entry.price if entry is not None else Decimal(0)
    if raw.price is not None:
        price = step_price(raw.price)
    wait = raw.wait_seconds
    if wait is None:
        wait = DEFAULT_WAIT if raw.channel != CALENDAR else 0
    return Step(raw.channel, price.quantize(Decimal("0.0001")), wait)


def parse_policy(body: Any, registry: Registry, workspace_slug: str, prefix: str = "") -> Policy:
    """The policy in ``body``, or FieldErrors naming each bad field (under ``prefix``, a
    JSON pointer such as "/cascade")."""
    try:
        shape = check_body(CascadePolicyInput, body, prefix)
    except FieldErrors as error:
        error.errors.extend(channel_errors(body, registry, workspace_slug, prefix))
        raise
    return policy_of(shape, registry, workspace_slug, prefix)


def channel_errors(body: Any, registry: Registry, slug: str, prefix: str) -> list[tuple[str, str]]:
    """What the channels of a policy whose shape is wrong elsewhere would add, so that one
    answer names every error."""
    raw_steps = body.get("steps") if isinstance(body, Mapping) else None
    if not isinstance(raw_steps, list) or len(raw_steps) > MAX_STEPS:
        return []
    errors: list[tuple[str, str]] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_steps):
        try:
            step = StepInput.model_validate(raw)
        except ValidationError:
            continue
        if _step(errors, f"{prefix}/steps/{index}", step, registry, slug) is None:
            continue
        if step.channel in seen:
            errors.append((f"{prefix}/steps/{index}/channel", say("each channel may appear once")))
        seen.add(step.channel)
    return errors


def policy_of(
    shape: CascadePolicyInput, registry: Registry, workspace_slug: str, prefix: str = ""
) -> Policy:
    """A checked shape as a Policy: its channels must be configured for the workspace."""
    errors: list[tuple[str, str]] = []
    steps: list[Step] = []
    for index, raw in enumerate(shape.steps):
        step = _step(errors, f"{prefix}/steps/{index}", raw, registry, workspace_slug)
        if step is None:
            continue
        if any(s.channel == step.channel for s in steps):
            errors.append((f"{prefix}/steps/{index}/channel", say("each channel may appear once")))
        steps.append(step)
    if errors:
        raise FieldErrors(errors)
    raw_cap = shape.frequency_cap
    cap = Cap(raw_cap.max, raw_cap.period_seconds, raw_cap.action) if raw_cap else None
    return Policy(tuple(steps), shape.quiet_hours, cap)
