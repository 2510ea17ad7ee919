"""Hostile imports on the dashboard: dates outside the accepted range and unknown zones are
refused per row, a CSV field over 128 KB is a clear error, nothing is stored from a refused
file, and a 1 MB file is read and checked off the event loop (/healthz answers meanwhile)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser

from calserver import importing
from tests.conftest import Tenant
from tests.support.admin import add_user, sign_in
from tests.support.db import snapshot
from tests.support.feeds import make_segment
from tests.test_admin_import import _upload
from tests.test_browser import OpenVisit, chromium, visits


# A Chromium of its own for the one browser test here, in that test's event loop.
@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest.fixture
async def visit(browser: Browser, client: TestClient) -> AsyncIterator[OpenVisit]:  # type: ignore[type-arg]
    async with visits(browser, client) as open_context:
        yield open_context


def _ics(*events: str) -> str:
    body = "".join(
        f"BEGIN:VEVENT\r\nUID:e{n}@example.com\r\nSUMMARY:Event {n}\r\n{lines}END:VEVENT\r\n"
        for n, lines in enumerate(events)
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{body}END:VCALENDAR\r\n"


HOSTILE_ICS = _ics(
    "DTSTART;VALUE=DATE:99991231\r\n",
    "DTSTART;VALUE=DATE:00010101\r\n",
    "DTSTART;TZID=Mars/Base:20260310T100000\r\n",
    "DTSTART;TZID=Asia/Tokyo:99991231T233000\r\n",
    "DTSTART:20260310T100000Z\r\nRRULE:FREQ=WEEKLY;UNTIL=99991231\r\n",
    "DTSTART:20260310T100000Z\r\nDURATION:P999999D\r\n",
    "DTSTART:21991231T230000Z\r\nRRULE:FREQ=YEARLY;COUNT=5\r\n",
)
GOOD = "DTSTART:20260310T100000Z\r\n"


MEGABYTE = _ics(*[GOOD + f"DESCRIPTION:{'x' * 430}\r\n" for _ in range(1900)])


def _hold_reading(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """Hold the reading of an uploaded file (in its worker thread) until ``answered`` is set;
    ``reading`` tells that it started."""
    reading, answered = threading.Event(), threading.Event()
    read_rows = importing.read_rows

    def held(filename: str, data: bytes) -> Any:
        reading.set()
        answered.wait(30)
        return read_rows(filename, data)

    monkeypatch.setattr(importing, "read_rows", held)
    return reading, answered


async def _ready(client: TestClient, tenant: Tenant) -> None:  # type: ignore[type-arg]
    await make_segment(tenant.api, "news", timezone="Europe/Berlin")
    await add_user(client, tenant.slug)
    assert (await sign_in(client))[0] == 200


async def test_out_of_range_rows_and_unknown_zones_are_refused_per_row(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
) -> None:
    await _ready(client, tenant)
    before = await snapshot(client)
    rows = HOSTILE_ICS.count("BEGIN:VEVENT")
    for mode in ("all_or_nothing", "valid_only"):
        status, page = await _upload(client, "hostile.ics", HOSTILE_ICS, mode)
        assert status == 200, page[-800:]
        assert f"{rows} events read, {rows} with errors." in page and "0 imported" in page
        assert "unknown time zone Mars/Base" in page
        assert page.count("1901") >= 5  # each names the accepted range
    assert await snapshot(client) == before
    # The good rows of a mixed file are imported when asked.
    status, page = await _upload(client, "mixed.ics", _ics(GOOD, HOSTILE_ICS and "DTSTART;VALUE=DATE:99991231\r\n"), "valid_only")  # fmt: skip
    assert status == 200 and "1 imported" in page


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("big.csv", "title,start,description\nx,2026-03-10T10:00:00," + "a" * 140_000 + "\n",
         "line 2: a field is longer than 128 KB"),
        ("nul.csv", "title,start\nx\x00,2026-03-10T10:00:00\n", "line"),
        ("bad.ics", "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:nonsense\r\n", "iCalendar"),
    ],
)  # fmt: skip
async def test_unreadable_files_get_a_clear_error(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    name: str,
    body: str,
    message: str,
) -> None:
    await _ready(client, tenant)
    before = await snapshot(client)
    status, page = await _upload(client, name, body, "valid_only")
    assert 400 <= status < 500 and message in page, (status, page[-600:])
    assert await snapshot(client) == before


async def test_a_megabyte_import_leaves_the_event_loop_free(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _ready(client, tenant)
    big = MEGABYTE
    assert 1_000_000 <= len(big.encode()) <= 1_040_000
    # Hold the reading of the file until /healthz has been answered: were the file read on
    # the event loop, /healthz could not be answered and the test would time out.
    reading, answered = _hold_reading(monkeypatch)
    upload = asyncio.create_task(_upload(client, "big.ics", big, "valid_only"))
    assert await asyncio.to_thread(reading.wait, 30)
    async with client.get("/healthz") as health:
        assert health.status == 200
    assert not upload.done()
    answered.set()
    status, page = await asyncio.wait_for(upload, 60)
    assert status == 200 and "1900 imported" in page


async def test_the_progress_bar_moves_while_a_megabyte_is_checked(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    visit: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    """In Chromium: the bar fills while the file is sent, turns indeterminate (the browser
    animates it) while the server checks it off the event loop, and /healthz answers."""
    from tests.test_admin_browser import DESKTOP, sign_in_with_the_keyboard

    await make_segment(tenant.api, "news", timezone="Europe/Berlin")
    await add_user(client, tenant.slug)
    big = tmp_path / "big.ics"
    big.write_text(MEGABYTE)
    reading, answered = _hold_reading(monkeypatch)
    desktop = await visit(DESKTOP)
    page = await desktop.page()
    await sign_in_with_the_keyboard(page, desktop.base)
    await page.goto(desktop.base + "admin/import")
    await page.set_input_files("#f-file", str(big))
    await page.check("#m-valid")
    await page.click("form[action='/admin/import'] button[type=submit]")
    try:
        assert await asyncio.to_thread(reading.wait, 30)
        await page.wait_for_selector("#import-progress:not([hidden])")
        # Sent: the bar turns indeterminate (the browser animates it) while the server checks.
        await page.wait_for_selector("#import-bar:not([value])")
        assert "Checking" in await page.inner_text("#import-progress")
        async with client.get("/healthz") as health:
            assert health.status == 200
    finally:
        answered.set()
    await page.wait_for_selector("#import-result", timeout=60_000)
    assert "1900 imported" in await page.inner_text("#import-result")
    desktop.assert_first_party_only()
