"""CLDR date patterns compiled once per language and pattern.

Babel's ``format_datetime`` tokenizes nothing twice (its pattern cache) but looks up each
field's names in the locale data on every call: ~9 µs for "EEE, d MMMM, HH:mm", the
largest part of what the cascade worker spends building an SMS. A compiled pattern holds
its literal text and one small function per field, with the names already taken from the
locale; fields it does not know are left to Babel, value by value, so any pattern a
translator writes still formats exactly as Babel formats it (tests/test_datefmt.py holds
the two to the same answers).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import lru_cache
from operator import attrgetter, methodcaller
from typing import Any

from babel import Locale
from babel.dates import DateTimeFormat, get_day_names, get_month_names, tokenize_pattern

Field = Callable[[Any], str]
# Babel types widths and contexts as Literals; these tables hold only valid ones.
_DAY_WIDTHS: dict[int, Any] = {3: "abbreviated", 4: "wide", 5: "narrow", 6: "short"}
_MONTH_WIDTHS: dict[int, Any] = {3: "abbreviated", 4: "wide", 5: "narrow"}
_NUMBERS = {"d": "day", "H": "hour", "m": "minute", "s": "second", "y": "year"}


def _number(attribute: str, digits: int) -> Field:
    read = attrgetter(attribute)
    padded = f"%0{digits}d"  # Babel's own padding: "%0*d" % (digits, value)
    return lambda value: padded % read(value)


def _names(names: Any, index: Callable[[Any], int]) -> Field:
    table = {key: str(names[key]) for key in names}
    return lambda value: table[index(value)]


def _known(char: str, count: int, locale: Locale) -> Field | None:
    """The field's function as Babel's DateTimeFormat reads it, or None: left to Babel."""
    if char in "Eec":
        if count < 3 and char != "E":
            return None  # the local day-of-week number
        width = _DAY_WIDTHS.get(max(count, 3))
        if width is None:
            return None
        context: Any = "stand-alone" if char == "c" else "format"
        return _names(get_day_names(width, context, locale), methodcaller("weekday"))
    if char in "ML":
        if count <= 2:
            return _number("month", count)
        context = "format" if char == "M" else "stand-alone"
        width = _MONTH_WIDTHS.get(count)
        if width is None:
            return None
        return _names(get_month_names(width, context, locale), attrgetter("month"))
    if char in _NUMBERS and not (char == "y" and count == 2):  # "yy" keeps two digits
        return _number(_NUMBERS[char], count)
    return None


def _by_babel(char: str, count: int, locale: Locale) -> Field:
    name = char * count
    return lambda value: str(DateTimeFormat(value, locale)[name])


@lru_cache(maxsize=64)
def compiled(pattern: str, locale: Locale) -> Callable[[date], str]:
    """``pattern`` as a function of a date or an aware datetime already in its zone."""
    template, fields = "", []
    for _kind, token in tokenize_pattern(pattern):
        if isinstance(token, str):  # kind "chars"
            template += token.replace("%", "%%")
        else:  # kind "field": (letter, count)
            char, count = str(token[0]), int(token[1])
            template += "%s"
            fields.append(_known(char, count, locale) or _by_babel(char, count, locale))

    def format_value(value: date) -> str:
        return template % tuple([field(value) for field in fields])

    return format_value


def in_zone(moment: datetime, zone: Any) -> datetime:
    """``moment`` in ``zone`` as Babel takes it: a naive moment is UTC."""
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).astimezone(zone)
