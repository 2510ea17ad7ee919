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
from decimal import Decimal, InvalidOperation
from typing import Any

from calserver.cascade.registry import CALENDAR, Registry
from calserver.validation import Checker, FieldErrors
from storage.policy import Cap, Policy, Step

DEFAULT_WAIT = 900
MAX_WAIT = 7 * 86400
MAX_STEPS = 8


def _integer(c: Checker, pointer: str, value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        c.fail(pointer, f"must be a whole number from {low} to {high}")
        return None
    return value


def _step(
    c: Checker, pointer: str, raw: Any, registry: Registry, workspace_slug: str
) -> Step | None:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("channel"), str):
        c.fail(pointer, 'must be an object with a "channel"')
        return None
    for key in set(raw) - {"channel", "price", "wait_seconds"}:
        c.fail(f"{pointer}/{key}", "unknown field")
    name = raw["channel"]
    entry = registry.get(name, workspace_slug)
    if name != CALENDAR and entry is None:
        known = ", ".join([CALENDAR, *registry.names_for(workspace_slug)])
        c.fail(f"{pointer}/channel", f"unknown channel {name[:40]!r}; configured: {known}")
        return None
    price = entry.price if entry is not None else Decimal(0)
    if "price" in raw:
        try:
            price = Decimal(str(raw["price"]))
        except InvalidOperation:
            price = Decimal(-1)
        if isinstance(raw["price"], bool) or not price.is_finite() or not 0 <= price < 10**8:
            c.fail(f"{pointer}/price", "must be a number of at least 0")
            return None
    wait = DEFAULT_WAIT if name != CALENDAR else 0
    if "wait_seconds" in raw:
        wait = _integer(c, f"{pointer}/wait_seconds", raw["wait_seconds"], 0, MAX_WAIT) or 0
    return Step(name, price.quantize(Decimal("0.0001")), wait)


def _cap(c: Checker, raw: Any) -> Cap | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        c.fail("frequency_cap", 'use {"max": 3, "period_seconds": 86400, "action": "defer"}')
        return None
    for key in set(raw) - {"max", "period_seconds", "action"}:
        c.fail(f"frequency_cap/{key}", "unknown field")
    most = _integer(c, "frequency_cap/max", raw.get("max"), 1, 1000)
    period = _integer(c, "frequency_cap/period_seconds", raw.get("period_seconds"), 60, 31 * 86400)
    action = raw.get("action", "defer")
    if action not in ("defer", "drop"):
        c.fail("frequency_cap/action", 'must be "defer" or "drop"')
        return None
    if most is None or period is None:
        return None
    return Cap(most, period, action)


def parse_policy(body: Any, registry: Registry, workspace_slug: str, prefix: str = "") -> Policy:
    """The policy in ``body``, or FieldErrors naming each bad field (under ``prefix``, a
    JSON pointer such as "/cascade")."""
    if not isinstance(body, Mapping):
        raise FieldErrors([(prefix or "/", 'must be an object with "steps"')])
    c = Checker(body)
    c.unknown_fields({"steps", "quiet_hours", "frequency_cap"})
    raw_steps = body.get("steps")
    steps: list[Step] = []
    if not isinstance(raw_steps, list) or not 1 <= len(raw_steps) <= MAX_STEPS:
        c.fail("steps", f"must be a list of 1 to {MAX_STEPS} steps")
    else:
        for index, raw in enumerate(raw_steps):
            step = _step(c, f"steps/{index}", raw, registry, workspace_slug)
            if step is None:
                continue
            if any(s.channel == step.channel for s in steps):
                c.fail(f"steps/{index}/channel", "each channel may appear once")
            steps.append(step)
    quiet = c.boolean("quiet_hours")
    cap = _cap(c, body.get("frequency_cap"))
    if c.errors and prefix:
        c.errors = [(prefix + pointer, message) for pointer, message in c.errors]
    c.done()
    return Policy(tuple(steps), True if quiet is None else quiet, cap)
