"""An event body checked against the accepted range (feeds/limits.py) as well as the API's
rules, for the edges that are not the API's models: the dashboard's forms and imports."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from calserver.eventspec import EventSpec, parse_event
from calserver.validation import FieldErrors
from feeds.limits import RANGE_TEXT, event_problems


def spec_problems(spec: EventSpec) -> list[tuple[str, str]]:
    """(field, message) for each part of a valid event outside the accepted range."""
    if spec.kind == "all_day":
        start = datetime.combine(date.fromisoformat(spec.start_local), datetime.min.time())
    else:
        start = datetime.fromisoformat(spec.start_local)
    return event_problems(start, spec.duration_seconds, spec.alarms, spec.ends_at)


def parse_event_in_range(body: dict[str, Any], default_timezone: str) -> EventSpec:
    """parse_event, then the range: FieldErrors naming every field out of it."""
    try:
        spec = parse_event(body, default_timezone)
    except (ArithmeticError, ValueError):  # a date at the edge of Python's range
        raise FieldErrors([("/start", f"the event must take place {RANGE_TEXT}")]) from None
    problems = spec_problems(spec)
    if problems:
        raise FieldErrors(problems)
    return spec
