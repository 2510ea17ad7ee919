"""The rules the body shapes (calserver/shapes/) are built from: patterns, time zones,
durations, and the error that carries every field error of a request at once.

Errors are (JSON pointer, sentence) pairs, so one answer names everything that is wrong, in
the RFC 9457 problem's ``errors`` member.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import timedelta
from functools import cache, lru_cache

from feeds.i18n import say

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
COLOR_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
CLOCK_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
# Years and months are left out on purpose: their length depends on the date. ASCII digits,
# at most eight a part, so no value overflows a timedelta before its bounds are checked.
DURATION_RE = re.compile(
    r"^(?P<sign>[+-])?P(?!$)(?:(?P<weeks>[0-9]{1,8})W)?(?:(?P<days>[0-9]{1,8})D)?"
    r"(?:T(?=[0-9])(?:(?P<hours>[0-9]{1,8})H)?(?:(?P<minutes>[0-9]{1,8})M)?"
    r"(?:(?P<seconds>[0-9]{1,8})S)?)?$"
)


class FieldErrors(Exception):
    """One or more fields of a request body are invalid."""

    def __init__(self, errors: list[tuple[str, str]], status: int = 422):
        super().__init__("; ".join(f"{pointer}: {message}" for pointer, message in errors))
        self.errors = errors
        self.status = status


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def zone_names() -> list[str]:
    """Every zone a person may pick, sorted (for the manage page's list)."""
    return sorted(
        name for name in _zone_names() if "/" in name and not name.startswith(("Etc/", "SystemV/"))
    )


def zone_names_all() -> list[str]:
    """Every zone name the API accepts, sorted (the document's list)."""
    return sorted(name for name in _zone_names() if is_timezone(name))


def is_timezone(name: str) -> bool:
    """True for IANA zone names this machine knows (paths and oddities are refused)."""
    return name in _zone_names() and name not in ("Factory", "localtime")


@lru_cache(maxsize=4096)  # a few shapes (PT15M, P1D) come again and again: ingest asks twice
def parse_duration(text: str) -> timedelta:
    """ISO 8601 / RFC 5545 duration (weeks, days, hours, minutes, seconds) to timedelta."""
    match = DURATION_RE.match(text)
    if not match:
        raise ValueError(
            say("%(text)s is not an ISO 8601 duration such as PT15M or P1D", text=repr(text))
        )
    parts = {k: int(v) for k, v in match.groupdict().items() if v and k != "sign"}
    delta = timedelta(**parts)
    return -delta if match.group("sign") == "-" else delta


def format_duration(seconds: int) -> str:
    """Seconds as an ISO 8601 duration: 90000 -> 'P1DT1H'."""
    sign = "-" if seconds < 0 else ""
    days, rest = divmod(abs(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    out = f"{sign}P{days}D" if days else f"{sign}P"
    if clock:
        out += "T" + clock
    return out if out not in ("P", "-P") else "PT0S"
