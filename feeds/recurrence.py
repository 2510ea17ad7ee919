"""Checking RFC 5545 recurrence rules before they are stored.

A feed carries the RRULE as text, so a rule is only expanded here, once, to refuse
what would hurt a client or the server: rules finer than hourly, endless rules that
expand to more than 1,000 occurrences in five years, and rules with too many
occurrences overall.
"""

from __future__ import annotations

import calendar
import datetime as datetime_module
import re
import types
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import dateutil.rrule
from dateutil.rrule import rrule, rrulestr

from feeds.i18n import N_, Sentence, say
from feeds.limits import LATEST_LOCAL, RANGE_TEXT, local_in_range

MAX_ENDLESS_IN_FIVE_YEARS = 1000
MAX_OCCURRENCES = 10_000
MAX_INTERVAL = 1000
FIVE_YEARS = timedelta(days=5 * 365 + 1)
_PART_RE = re.compile(r"^[A-Z]+=[A-Z0-9,+\-:TZ]+$")
_ALLOWED_PARTS = {
    "FREQ", "UNTIL", "COUNT", "INTERVAL", "BYSECOND", "BYMINUTE", "BYHOUR", "BYDAY",
    "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYSETPOS", "WKST",
}  # fmt: skip
_DAYS_IN_MONTH = {month: calendar.monthrange(2024, month)[1] for month in range(1, 13)}


# dateutil walks a rule period by period up to datetime.MAXYEAR (9999) looking for the next
# occurrence, checking UNTIL only on occurrences found: a rule whose occurrences stop (or are
# rare) keeps a thread busy for many seconds, and no deadline can stop it. Nothing calserver
# stores or answers lies past LATEST_LOCAL, so every expansion in this process (ours, and
# Radicale's through vobject) gives up at the year after it: the period loop is bounded.
EXPANSION_LAST_YEAR = LATEST_LOCAL.year + 1


class _CappedDatetime(types.ModuleType):
    """The datetime module as dateutil.rrule sees it, with MAXYEAR lowered."""

    MAXYEAR = EXPANSION_LAST_YEAR


def _cap_expansion() -> None:
    if isinstance(dateutil.rrule.datetime, _CappedDatetime):
        return
    capped = _CappedDatetime("datetime")
    capped.__dict__.update(
        {k: v for k, v in vars(datetime_module).items() if k not in ("MAXYEAR", "__name__")}
    )
    dateutil.rrule.datetime = capped


_cap_expansion()


class RecurrenceError(ValueError):
    """The rule is malformed or would expand to too much."""


@dataclass(frozen=True)
class Recurrence:
    text: str  # normalised, without the "RRULE:" prefix
    last_start: datetime | None  # None for an endless rule


def _parts(text: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for part in text.split(";"):
        if not _PART_RE.match(part):
            raise RecurrenceError(say("%(part)s is not a NAME=VALUE rule part", part=repr(part)))
        name, value = part.split("=", 1)
        if name not in _ALLOWED_PARTS:
            raise RecurrenceError(say("unknown rule part %(name)s", name=name))
        if name in parts:
            raise RecurrenceError(say("rule part %(name)s given twice", name=name))
        parts[name] = value
    if "FREQ" not in parts:
        raise RecurrenceError(say("FREQ is required"))
    return parts


def _refuse_fine_or_impossible(parts: dict[str, str]) -> None:
    if parts["FREQ"] in ("SECONDLY", "MINUTELY"):
        raise RecurrenceError(say("rules finer than hourly are not allowed"))
    # Two BYMINUTE (or BYSECOND) values always fall within the same hour.
    for name in ("BYMINUTE", "BYSECOND"):
        if "," in parts.get(name, ""):
            raise RecurrenceError(
                say("several %(name)s values make the rule finer than hourly", name=name)
            )
    if "COUNT" in parts and "UNTIL" in parts:
        raise RecurrenceError(say("COUNT and UNTIL must not both be given"))
    count = parts.get("COUNT", "1")
    if not count.isascii() or not count.isdigit() or len(count) > 9 or int(count) < 1:
        raise RecurrenceError(say("COUNT must be a positive whole number"))
    if "COUNT" in parts and int(parts["COUNT"]) > MAX_OCCURRENCES:
        raise RecurrenceError(say("COUNT may be at most %(limit)s", limit=MAX_OCCURRENCES))
    interval = parts.get("INTERVAL", "1")
    if not interval.isascii() or not interval.isdigit() or not 1 <= int(interval) <= MAX_INTERVAL:
        raise RecurrenceError(
            say("INTERVAL must be a whole number from 1 to %(limit)s", limit=MAX_INTERVAL)
        )
    # dateutil walks to the year 9999 looking for a day that never comes; refuse the
    # common impossible dates (30 February, 31 April) before expanding.
    if "BYMONTH" in parts and "BYMONTHDAY" in parts:
        try:
            months = [int(m) for m in parts["BYMONTH"].split(",")]
            days = [int(d) for d in parts["BYMONTHDAY"].split(",")]
        except ValueError:
            raise RecurrenceError(say("BYMONTH and BYMONTHDAY take numbers")) from None
        if not any(abs(d) <= _DAYS_IN_MONTH.get(m, 0) for m in months for d in days):
            raise RecurrenceError(say("BYMONTHDAY never falls in the given BYMONTH"))


_UNTIL_RE = re.compile(r"UNTIL=(\d{8})(?:T(\d{6})(Z?))?")


def _until_wall(match: re.Match[str], zone: str) -> datetime:
    """UNTIL as a naive wall time in ``zone``; a bare date means the end of that day."""
    day, clock, utc = match.group(1), match.group(2), match.group(3)
    if clock is None:
        return datetime.strptime(day + "235959", "%Y%m%d%H%M%S")
    value = datetime.strptime(day + clock, "%Y%m%d%H%M%S")
    if utc:
        return value.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    return value


def _canonical_until(text: str, kind: str, zone: str) -> str:
    """UNTIL as RFC 5545 wants it next to the DTSTART the feed writes: a DATE for all-day
    events, UTC for zoned ones; local-time events keep a wall time (their zone varies)."""
    match = _UNTIL_RE.search(text)
    if match is None:
        return text
    wall = _until_wall(match, zone)
    if kind == "all_day":
        value = wall.strftime("%Y%m%d")
    elif kind == "local":
        value = wall.strftime("%Y%m%dT%H%M%S")
    else:
        value = wall.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return text[: match.start()] + f"UNTIL={value}" + text[match.end() :]


def rule_for(text: str, dtstart: datetime, zone: str) -> rrule:
    """The stored rule as a dateutil rule on naive wall times in ``zone``."""
    match = _UNTIL_RE.search(text)
    if match is not None:
        wall = _until_wall(match, zone).strftime("%Y%m%dT%H%M%S")
        text = text[: match.start()] + f"UNTIL={wall}" + text[match.end() :]
    rule = rrulestr(text, dtstart=dtstart)
    if not isinstance(rule, rrule):
        raise RecurrenceError("give a single RRULE")
    return rule


def bounded_after(rule: rrule, first: datetime, budget: int) -> Iterator[datetime]:
    """Occurrences from ``first`` on, reading at most ``budget`` occurrences of the rule from
    its start (dateutil's xafter reads all those before ``first`` without a limit)."""
    for read, occurrence in enumerate(rule):
        if read >= budget:
            return
        if occurrence >= first:
            yield occurrence


def feed_rule(text: str, kind: str, subscriber_zone: str) -> str:
    """The RRULE line value for a feed: a local-time event's UNTIL becomes UTC in the
    subscriber's zone, where its DTSTART is written."""
    if kind != "local":
        return text
    return _canonical_until(text, "timed", subscriber_zone)


def check_rrule(text: str, dtstart: datetime, kind: str = "timed", zone: str = "UTC") -> Recurrence:
    """Parse and bound a rule for an event starting at ``dtstart`` (naive wall time in ``zone``)."""
    text = text.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    text = text.upper()
    if not text or len(text) > 500:
        raise RecurrenceError(say("the rule must be 1-500 characters"))
    parts = _parts(text)
    _refuse_fine_or_impossible(parts)
    _check_until(parts.get("UNTIL"))
    try:
        text = _canonical_until(text, kind, zone)
        rule = rule_for(text, dtstart, zone)
        bounded = "COUNT" in parts or "UNTIL" in parts
        last_start, count = _expand(rule, dtstart, bounded)
    except RecurrenceError:
        raise
    except (ValueError, TypeError, OverflowError) as error:
        # dateutil's reason is English; a page says the sentence without it.
        raise RecurrenceError(
            Sentence(f"not a valid RRULE: {error}", N_("not a valid RRULE"))
        ) from None
    # The walk ends at EXPANSION_LAST_YEAR: a COUNT the walk did not reach runs past the
    # range, and the stored last occurrence would be wrong.
    short = "COUNT" in parts and count < int(parts["COUNT"])
    if last_start is not None and (short or not local_in_range(last_start)):
        raise RecurrenceError(say("the last occurrence must start %(range)s", range=RANGE_TEXT))
    return Recurrence(text=text, last_start=last_start)


def _check_until(value: str | None) -> None:
    if value is None:
        return
    if not _UNTIL_RE.fullmatch("UNTIL=" + value):
        raise RecurrenceError(
            say("UNTIL takes a date (20261231) or a date-time (20261231T235959Z)")
        )
    try:
        day = datetime.strptime(value[:8], "%Y%m%d")
    except ValueError:
        raise RecurrenceError(
            say("UNTIL takes a date, and %(day)s is not a day of the calendar", day=value[:8])
        ) from None
    if not local_in_range(day):
        raise RecurrenceError(say("UNTIL must be %(range)s", range=RANGE_TEXT))


def _expand(rule: rrule, dtstart: datetime, bounded: bool) -> tuple[datetime | None, int]:
    horizon = dtstart + FIVE_YEARS
    count = 0
    last: datetime | None = None
    for occurrence in rule:
        if not bounded and occurrence > horizon:
            break
        count += 1
        last = occurrence
        if not bounded and count > MAX_ENDLESS_IN_FIVE_YEARS:
            raise RecurrenceError(
                say("an endless rule may have at most %(limit)s occurrences in five years; "
                    "add COUNT or UNTIL", limit=MAX_ENDLESS_IN_FIVE_YEARS)
            )  # fmt: skip
        if count > MAX_OCCURRENCES:
            raise RecurrenceError(
                say("the rule has more than %(limit)s occurrences", limit=MAX_OCCURRENCES)
            )
    if count == 0:
        raise RecurrenceError(say("the rule has no occurrence"))
    return (last if bounded else None), count
