"""Event bodies from the edges that are not the API (the dashboard's forms and imports).

``parse_event`` already ends with the range guard of feeds/limits.py; what these edges add is
that a date at the very edge of Python's own range (which the API's models refuse before
parsing) is reported as out of range instead of escaping as an error."""

from __future__ import annotations

from typing import Any

from calserver.eventspec import EventSpec, parse_event
from calserver.validation import FieldErrors
from feeds.i18n import say
from feeds.limits import RANGE_TEXT


def parse_event_in_range(body: dict[str, Any], default_timezone: str) -> EventSpec:
    """parse_event, with an overflow at Python's edges named as the start being out of range."""
    try:
        return parse_event(body, default_timezone)
    except (ArithmeticError, ValueError):  # a date at the edge of Python's range
        raise FieldErrors(
            [("/start", say("the event must take place %(range)s", range=RANGE_TEXT))]
        ) from None
