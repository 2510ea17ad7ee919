"""Bulk import of events from an .ics or CSV file, shared by /admin/import and
`calserver import`.

Each row becomes the API's JSON body and goes through the API's own validation
(calserver/eventspec.py), so the rules and messages are the same everywhere. The caller
chooses what happens when some rows are bad: import nothing, or only the valid rows.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from icalendar import Calendar
from sqlalchemy.ext.asyncio import AsyncSession

from calserver.eventspec import EventSpec, apply_spec
from calserver.ranges import parse_event_in_range
from calserver.validation import FieldErrors, format_duration
from feeds.i18n import N_, Sentence, say
from storage.models import Event
from storage.segments import touch_segment

MAX_ROWS = 2000
STORE_CHUNK = 20  # rows the ORM writes between two turns of the event loop
# csv's own limit on one field, named in the error a longer field gets.
MAX_CSV_FIELD = csv.field_size_limit()
# A whole file's checks stop after this long (each row's are bounded by the recurrence cap):
# the rows left get an error rather than a thread kept busy.
IMPORT_BUDGET_SECONDS = 30.0
TOO_LONG = say("not checked: the file took too long to check; split it into smaller files")
TRUE, FALSE = {"true", "yes", "1", "y"}, {"false", "no", "0", "n", ""}
MODES = ("all_or_nothing", "valid_only")


class ImportFileError(ValueError):
    """The file as a whole cannot be read (not one bad row)."""


@dataclass
class Row:
    """One event of the file: its place (CSV line, or n-th VEVENT), its body and verdict."""

    where: str
    title: str
    body: dict[str, Any]
    errors: list[tuple[str, str]] = field(default_factory=list)
    spec: EventSpec | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and self.spec is not None


def _csv_value(name: str, value: str) -> Any:
    if name in ("local_time", "all_day"):
        lowered = value.strip().lower()
        return True if lowered in TRUE else (None if lowered in FALSE else value)
    if name == "alarms":
        parts = value.replace(";", " ").replace(",", " ").split()
        return [{"before": part} for part in parts]
    return value


def _csv_rows(text: str) -> Iterator[Row]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "title" not in reader.fieldnames:
        raise ImportFileError(say("a CSV file needs a header line naming its columns, with title"))
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:  # raised before the line is counted
            line = reader.line_num + 1
            if "field larger" in str(error):
                raise ImportFileError(
                    say(
                        "line %(line)s: a field is longer than %(limit)s KB",
                        line=line,
                        limit=MAX_CSV_FIELD // 1024,
                    )
                ) from None
            # The csv module's reason is English; a page says the sentence without it.
            raise ImportFileError(
                Sentence(
                    f"line {line}: {error}", N_("line %(line)s: not readable as CSV"), line=line
                )
            ) from None
        extra = record.pop(None, None)
        body = {
            name.strip(): _csv_value(name.strip(), value)
            for name, value in record.items()
            if value is not None and value.strip() != ""
        }
        body = {name: value for name, value in body.items() if value is not None}
        row = Row(f"line {reader.line_num}", str(body.get("title", "")), body)
        if extra:
            row.errors.append(("/", say("more cells than the header has columns")))
        yield row


def _ics_time(value: Any) -> tuple[str, str | None, bool]:
    """(start text, zone or None, floating): how the API takes an ICS date or date-time."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.isoformat(), None, True  # floating: the same wall time everywhere
        key = getattr(value.tzinfo, "key", None)
        if key:
            return value.replace(tzinfo=None).isoformat(), str(key), False
        return value.isoformat(), None, False  # a fixed offset: that instant
    if isinstance(value, date):
        return value.isoformat(), None, False
    raise ValueError("not a date")


def _ics_alarms(event: Any, row_errors: list[tuple[str, str]]) -> list[dict[str, str]]:
    alarms = []
    for index, alarm in enumerate(event.walk("VALARM")):
        trigger = alarm.get("TRIGGER")
        when = trigger.dt if trigger is not None else None
        related_end = trigger is not None and trigger.params.get("RELATED") == "END"
        if not isinstance(when, timedelta) or related_end:
            row_errors.append(
                (f"/alarms/{index}", say("only alarms relative to the start are taken"))
            )
            continue
        alarms.append({"before": format_duration(int(-when.total_seconds()))})
    return alarms


def _ics_body(event: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    errors: list[tuple[str, str]] = []
    body: dict[str, Any] = {}
    for prop, name in (("SUMMARY", "title"), ("DESCRIPTION", "description"),
                       ("LOCATION", "location"), ("URL", "url"), ("UID", "uid")):  # fmt: skip
        if event.get(prop) is not None:
            body[name] = str(event.get(prop))
    start = event.get("DTSTART")
    tzid = start.params.get("TZID") if start is not None else None
    if tzid and isinstance(start.dt, datetime) and start.dt.tzinfo is None:
        # icalendar reads an unknown TZID as floating time: the event would move.
        errors.append(("/timezone", say("unknown time zone %(zone)s", zone=str(tzid))))
    if start is not None:
        body["start"], zone, floating = _ics_time(start.dt)
        body["all_day"] = not isinstance(start.dt, datetime)
        body["local_time"] = floating
        if zone:
            body["timezone"] = zone
    if event.get("DTEND") is not None:
        body["end"] = _ics_time(event.get("DTEND").dt)[0]
    elif event.get("DURATION") is not None:
        body["duration"] = format_duration(int(event.get("DURATION").dt.total_seconds()))
    if event.get("RRULE") is not None:
        body["rrule"] = event.get("RRULE").to_ical().decode()
    body["alarms"] = _ics_alarms(event, errors)
    return body, errors


def _ics_rows(data: bytes) -> Iterator[Row]:
    try:
        calendar = Calendar.from_ical(data)
    except ValueError as error:
        raise ImportFileError(
            Sentence(f"not a readable iCalendar file: {error}", N_("not a readable iCalendar file"))
        ) from None
    for number, event in enumerate(calendar.walk("VEVENT"), start=1):
        try:
            body, errors = _ics_body(event)
        except (ValueError, TypeError, AttributeError) as error:
            body, errors = (
                {},
                [("/", Sentence(f"unreadable event: {error}", N_("unreadable event")))],
            )
        yield Row(f"event {number}", str(body.get("title", "")), body, errors)


def read_rows(filename: str, data: bytes) -> list[Row]:
    """The file's events, unchecked; CSV or iCalendar by name or content."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError(say("the file is not UTF-8 text")) from None
    if "\x00" in text:  # no text field may hold one (PostgreSQL refuses it)
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ImportFileError(say("line %(line)s: the file holds a NUL character", line=line))
    is_ics = filename.lower().endswith(".ics") or text.lstrip().startswith("BEGIN:VCALENDAR")
    rows = list(_ics_rows(data) if is_ics else _csv_rows(text))
    if not rows:
        raise ImportFileError(say("the file holds no event"))
    if len(rows) > MAX_ROWS:
        raise ImportFileError(say("at most %(limit)s events per file; split it", limit=MAX_ROWS))
    return rows


def check_row(row: Row, default_timezone: str) -> Row:
    """Validate one row as the API would (CPU-bound: run it off the event loop)."""
    try:
        row.spec = parse_event_in_range(row.body, default_timezone)
    except FieldErrors as error:
        row.errors.extend(error.errors)
    if row.errors:
        row.spec = None
    return row


def read_and_check(
    filename: str, data: bytes, default_timezone: str, budget: float = IMPORT_BUDGET_SECONDS
) -> list[Row]:
    """Read and check a whole file: CPU-bound, run it off the event loop. Rows left when the
    budget is spent are refused, so the work ends by itself."""
    rows = read_rows(filename, data)
    deadline = time.monotonic() + budget
    for row in rows:
        if time.monotonic() >= deadline:
            row.errors.append(("/", TOO_LONG))
            row.spec = None
        else:
            check_row(row, default_timezone)
    return rows


def mark_duplicate_uids(rows: list[Row], taken: set[str]) -> None:
    """A uid already in the segment, or twice in the file, makes the row bad."""
    seen: set[str] = set()
    for row in rows:
        uid = row.spec.uid if row.spec else None
        if uid is None:
            continue
        if uid in taken or uid in seen:
            row.errors.append(
                (
                    "/uid",
                    say(
                        "an event with uid %(uid)s is already in the segment or file", uid=repr(uid)
                    ),
                )
            )
            row.spec = None
        seen.add(uid)


def to_write(rows: list[Row], mode: str) -> list[Row]:
    """The rows to store: none when one is bad and the mode says all or nothing."""
    good = [row for row in rows if row.ok]
    return good if mode == "valid_only" or len(good) == len(rows) else []


async def store_rows(
    session: AsyncSession, segment_id: int, workspace_slug: str, rows: list[Row], now: datetime
) -> int:
    """Add the rows' events in the caller's transaction and bump the segment once. The ORM's
    work runs on the event loop: in chunks, with a turn for other requests between them."""
    for start in range(0, len(rows), STORE_CHUNK):
        for row in rows[start : start + STORE_CHUNK]:
            assert row.spec is not None
            event = Event(segment_id=segment_id, sequence=0, created_at=now, updated_at=now,
                          uid=row.spec.uid or f"{uuid.uuid4()}@{workspace_slug}.calserver")  # fmt: skip
            apply_spec(event, row.spec)
            session.add(event)
        await session.flush()
        await asyncio.sleep(0)
    if rows:
        await touch_segment(session, segment_id, now)
    return len(rows)
