"""Bulk import of events: .ics and CSV, a report per row, all or nothing / valid rows only,
on the dashboard page and with `calserver import`."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient

from calserver.config import Config
from calserver.importing import check_row, read_rows
from storage.engine import create_engine, session_factory
from storage.segments import create_segment
from storage.workspaces import workspace_by_slug
from tests.conftest import START, TEST_SECRET, Tenant
from tests.support.admin import add_user, form_token, sign_in
from tests.support.feeds import make_segment
from tests.support.processes import run

CSV = """title,start,duration,timezone,local_time,alarms,rrule
Open day,2026-03-10T15:00:00,PT2H,Europe/Moscow,,P1D,
Weekly tip,2026-03-05T10:00:00,,,yes,PT15M,FREQ=WEEKLY;COUNT=6
Bad zone,2026-03-11T10:00:00,,Mars/Olympus,,,
Bad rule,2026-03-12T10:00:00,,,,,FREQ=MINUTELY
Closing,2026-03-20T18:00:00,PT1H,,,"PT0S, PT30M",
"""
ICS = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//test//EN\r
BEGIN:VEVENT\r
UID:webinar-1@example.com\r
SUMMARY:Webinar\r
DTSTART;TZID=Europe/Berlin:20260310T190000\r
DURATION:PT1H30M\r
RRULE:FREQ=WEEKLY;COUNT=3\r
BEGIN:VALARM\r
ACTION:DISPLAY\r
DESCRIPTION:Soon\r
TRIGGER:-PT15M\r
END:VALARM\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:fair@example.com\r
SUMMARY:Fair\r
DTSTART;VALUE=DATE:20260401\r
DTEND;VALUE=DATE:20260403\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:call@example.com\r
SUMMARY:Morning call\r
DTSTART:20260305T090000\r
DTEND:20260305T093000\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:late@example.com\r
SUMMARY:Alarm after start\r
DTSTART:20260306T090000Z\r
BEGIN:VALARM\r
ACTION:DISPLAY\r
DESCRIPTION:Late\r
TRIGGER:PT5M\r
END:VALARM\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_csv_rows_get_the_api_rules_and_messages() -> None:
    rows = [check_row(row, "Europe/Moscow") for row in read_rows("events.csv", CSV.encode())]
    assert [(row.where, row.ok) for row in rows] == [
        ("line 2", True), ("line 3", True), ("line 4", False), ("line 5", False), ("line 6", True),
    ]  # fmt: skip
    assert rows[1].spec is not None and rows[1].spec.kind == "local"
    assert rows[4].spec is not None and rows[4].spec.alarms == [1800, 0]
    assert rows[2].errors[0][0] == "/timezone" and "Mars/Olympus" in rows[2].errors[0][1]
    assert rows[3].errors[0][0] == "/rrule"


def test_ics_events_keep_zone_floating_time_dates_and_alarms() -> None:
    rows = [check_row(row, "UTC") for row in read_rows("cal.ics", ICS.encode())]
    webinar, fair, call, late = rows
    assert webinar.spec is not None and webinar.spec.timezone == "Europe/Berlin"
    assert (webinar.spec.start_local, webinar.spec.duration_seconds) == (
        "2026-03-10T19:00:00",
        5400,
    )
    assert webinar.spec.rrule == "FREQ=WEEKLY;COUNT=3" and webinar.spec.alarms == [900]
    assert fair.spec is not None and (fair.spec.kind, fair.spec.duration_seconds) == (
        "all_day",
        2 * 86400,
    )
    assert call.spec is not None and call.spec.kind == "local"  # floating: everyone's 09:00
    assert not late.ok and late.errors == [
        ("/alarms/0/before", "the alarm would ring after the event starts")
    ]


@pytest.mark.parametrize("data", [b"", b"\xff\xfe", b"just,some\nwords,here\n"])
def test_unreadable_files_are_refused_whole(data: bytes) -> None:
    from calserver.importing import ImportFileError

    with pytest.raises(ImportFileError):
        read_rows("events.csv", data)


async def _upload(client: TestClient, name: str, body: str, mode: str) -> tuple[int, str]:  # type: ignore[type-arg]
    token = await form_token(client, "/admin/import")
    form = FormData()
    for key, value in (("csrf", token), ("segment", "news"), ("mode", mode)):
        form.add_field(key, value)
    form.add_field("file", body.encode(), filename=name, content_type="text/csv")
    async with client.post("/admin/import", data=form) as response:
        return response.status, await response.text()


async def test_import_page_reports_each_row_and_honours_the_choice(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    api: Any,
) -> None:
    await make_segment(api, "news", timezone="Europe/Moscow")
    await add_user(client, "acme")
    await sign_in(client)
    status, page = await _upload(client, "events.csv", CSV, "all_or_nothing")
    assert status == 200
    assert "5 events read, 2 with errors." in page and "0 imported" in page
    bad = re.findall(r'<tr class="bad"><td>(line \d+)</td><td>([^<]*)</td>', page)
    assert bad == [("line 4", "Bad zone"), ("line 5", "Bad rule")]
    assert "<code>timezone</code>: unknown time zone &#39;Mars/Olympus&#39;" in page
    assert (await api.get("/api/v1/segments/news/events")).body["items"] == []
    version = (await api.get("/api/v1/segments/news")).body["version"]

    status, page = await _upload(client, "events.csv", CSV, "valid_only")
    assert "3 imported" in page
    events = (await api.get("/api/v1/segments/news/events")).body["items"]
    assert sorted(e["title"] for e in events) == ["Closing", "Open day", "Weekly tip"]
    assert (await api.get("/api/v1/segments/news")).body["version"] == version + 1
    # The same file again: every uid is new, but an .ics file's uids are checked.
    status, page = await _upload(client, "cal.ics", ICS, "valid_only")
    assert "4 events read, 1 with errors." in page and "3 imported" in page
    status, page = await _upload(client, "cal.ics", ICS, "valid_only")
    assert "already in the segment" in page and "0 imported" in page
    assert len((await api.get("/api/v1/segments/news/events")).body["items"]) == 6


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CALSERVER_")}
    return {
        **base,
        "CALSERVER_DATA_DIR": str(tmp_path / "data"),
        "CALSERVER_DATABASE_URL": database_url,
    }


async def _segment(database_url: str) -> None:
    engine = create_engine(Config({"database_url": database_url, "secrets": [TEST_SECRET]}))
    async with session_factory(engine).begin() as session:
        workspace = await workspace_by_slug(session, "acme")
        await create_segment(session, workspace.id, {"slug": "news", "name": "News", "description": "",
                                                     "timezone": "Europe/Moscow"}, START)  # fmt: skip
    await engine.dispose()


async def test_import_command_shows_progress_and_the_report(
    env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    assert run(["workspace", "create", "acme"], env).returncode == 0
    await _segment(database_url)
    csv_file = tmp_path / "events.csv"
    csv_file.write_text(CSV)
    refused = run(["import", str(csv_file), "--segment", "news"], env)
    assert refused.returncode == 1
    # (text mode reads the bar's carriage returns as line ends)
    bars = re.findall(r"checking \[([#.]{30})\] (\d)/5", refused.stderr)
    assert [done for _, done in bars] == ["1", "2", "3", "4", "5"] and bars[-1][0] == "#" * 30
    assert "line 4 (Bad zone): timezone: unknown time zone" in refused.stdout
    assert "5 event(s) read, 2 with errors, 0 imported." in refused.stdout
    taken = run(
        ["import", str(csv_file), "--segment", "news", "--workspace", "acme", "--valid-only"], env
    )
    assert taken.returncode == 1 and "3 imported." in taken.stdout
    ics_file = tmp_path / "cal.ics"
    ics_file.write_text(ICS.replace(TRIGGER_LATE, ""))
    clean = run(["import", str(ics_file), "--segment", "news"], env)
    assert clean.returncode == 0 and "4 event(s) read, 0 with errors, 4 imported." in clean.stdout
    missing = run(["import", str(ics_file), "--segment", "nope"], env)
    assert missing.returncode == 2 and "no segment 'nope'" in missing.stderr


TRIGGER_LATE = (
    "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Late\r\nTRIGGER:PT5M\r\nEND:VALARM\r\n"
)


async def test_a_file_too_slow_to_check_is_not_imported(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    api: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from calserver import importing

    monkeypatch.setattr(importing, "IMPORT_BUDGET_SECONDS", 0.0)
    await make_segment(api, "news", timezone="Europe/Moscow")
    await add_user(client, "acme")
    await sign_in(client)
    status, page = await _upload(client, "events.csv", CSV, "valid_only")
    assert status == 200 and "5 events read, 5 with errors." in page and "0 imported" in page
    assert page.count("row: not checked: the file took too long") == 5
    assert (await api.get("/api/v1/segments/news/events")).body["items"] == []
