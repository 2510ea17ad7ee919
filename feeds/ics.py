"""RFC 5545 text primitives: escaping, folding, date formats, VTIMEZONE blocks.

Written by hand rather than through icalendar objects because a feed is assembled
from cached strings; icalendar is used once per zone to generate VTIMEZONE data.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Timezone

CRLF = "\r\n"
# Stands where each subscriber's own unsubscribe link goes. It always sits alone on a
# continuation line at the end of a property value, so swapping it for the real link
# (folded the same way) needs one bytes.replace per poll and never breaks folding.
LINK_PLACEHOLDER = "@@CALSERVER-LINK@@"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_LINE_OCTETS = 75
# The last year a generated VTIMEZONE covers; RRULEs reaching past it are rare.
VTIMEZONE_LAST_YEAR = 2038


def escape_text(text: str) -> str:
    """A TEXT value: backslash, semicolon, comma and newlines escaped; controls removed."""
    text = text.replace(LINK_PLACEHOLDER, "")
    text = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return _CONTROL.sub("", text)


def fold(line: str) -> str:
    """Fold a content line at 75 octets without splitting a UTF-8 character."""
    if len(line) <= _LINE_OCTETS and line.isascii():
        return line
    parts: list[str] = []
    current: list[str] = []
    size, limit = 0, _LINE_OCTETS
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            parts.append("".join(current))
            # Continuation lines start with a space, so they hold one octet less.
            current, size, limit = [], 0, _LINE_OCTETS - 1
        current.append(char)
        size += width
    parts.append("".join(current))
    return (CRLF + " ").join(parts)


def prop(name: str, value: str) -> str:
    """A folded content line with its CRLF."""
    return fold(f"{name}:{value}") + CRLF


def text_prop(name: str, text: str) -> str:
    return prop(name, escape_text(text))


def linked_text_prop(name: str, text: str) -> str:
    """A TEXT property ending with the subscriber's link (filled in per poll)."""
    return fold(f"{name}:{escape_text(text)}") + CRLF + " " + LINK_PLACEHOLDER + CRLF


def fold_link(url: str) -> str:
    """The link as it replaces LINK_PLACEHOLDER: 74 characters per continuation line."""
    url = escape_text(url)
    return (CRLF + " ").join(
        url[i : i + _LINE_OCTETS - 1] for i in range(0, len(url), _LINE_OCTETS - 1)
    )


def utc_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def wall_stamp(wall: datetime) -> str:
    return wall.strftime("%Y%m%dT%H%M%S")


def date_stamp(day: date) -> str:
    return day.strftime("%Y%m%d")


def datetime_prop(name: str, wall: datetime, zone: str) -> str:
    """DTSTART-like property: UTC as ...Z, any other zone with TZID (never floating)."""
    if zone == "UTC":
        return prop(name, utc_stamp(wall.replace(tzinfo=UTC)))
    return prop(f"{name};TZID={zone}", wall_stamp(wall))


def duration_text(seconds: int) -> str:
    """An exact duration as -PT#H#M#S (days would be nominal and shift across DST)."""
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    text = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    return f"{sign}PT{text or '0S'}"


@lru_cache(maxsize=512)
def vtimezone(zone: str, first_year: int) -> str:
    """A VTIMEZONE for ``zone`` valid from ``first_year`` on (about 20 ms to build, so cached).

    icalendar adds a COMMENT that libical flags inside VTIMEZONE; it is dropped.
    """
    block = Timezone.from_tzinfo(
        ZoneInfo(zone),
        tzid=zone,
        first_date=date(first_year, 1, 1),
        last_date=date(max(VTIMEZONE_LAST_YEAR, first_year + 1), 1, 1),
    )
    if "COMMENT" in block:
        del block["COMMENT"]
    return _one_rdate_per_line(str(block.to_ical().decode()))


def _one_rdate_per_line(text: str) -> str:
    """Rewrite RDATE lists as one RDATE per date, the DTSTART included.

    ical.js (Thunderbird) reads only the first date of a comma-separated RDATE and
    ignores an observance's DTSTART when it has RDATEs but no RRULE, which left New York
    in winter time all summer. One date per RDATE reads the same everywhere.
    """
    unfolded = text.replace(CRLF + " ", "").split(CRLF)
    out: list[str] = []
    dtstart = ""
    for line in unfolded:
        if line.startswith("BEGIN:"):
            dtstart = ""
        if line.startswith("DTSTART:"):
            dtstart = line[len("DTSTART:") :]
        if line.startswith("RDATE:"):
            dates = line[len("RDATE:") :].split(",")
            out += [f"RDATE:{value}" for value in [dtstart, *dates] if value]
            dtstart = ""  # added once per observance
            continue
        if line:
            out.append(line)
    return CRLF.join(fold(line) for line in out) + CRLF
