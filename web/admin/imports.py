"""Bulk import page: an .ics or CSV file, a report per row, nothing or only valid rows stored."""

from __future__ import annotations

import asyncio

from aiohttp import web

from calserver.appkeys import CLOCK, SESSIONS
from calserver.importing import (
    MODES,
    ImportFileError,
    Row,
    check_row,
    mark_duplicate_uids,
    read_rows,
    store_rows,
    to_write,
)
from calserver.validation import FieldErrors
from feeds.i18n import N_
from storage import segments as store
from web.admin.render import page, texts_of
from web.api.common import run_cpu_check, workspace_of

# Each row has the API's 2-second budget; a whole file gets this much, so that one upload
# of hostile rules cannot keep the CPU pool busy for an hour.
IMPORT_DEADLINE = 30.0
CHOOSE_FILE = N_("Choose an .ics or .csv file.")
TOO_LONG = "not checked: the file took too long to check; split it into smaller files"


async def _segments_and_page(
    request: web.Request, status: int = 200, **context: object
) -> web.Response:
    async with request.app[SESSIONS]() as session:
        segments = await store.list_segments(session, workspace_of(request).id)
    context.setdefault("chosen", request.query.get("segment", ""))
    context.setdefault("mode", "all_or_nothing")
    return page(request, "import.html", section="segments", status=status, segments=segments,
                modes=MODES, **context)  # fmt: skip


async def import_page(request: web.Request) -> web.Response:
    return await _segments_and_page(request, report=None, error=None)


async def _checked(request: web.Request, rows: list[Row], zone: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + IMPORT_DEADLINE
    for row in rows:
        if loop.time() >= deadline:
            row.errors.append(("/", TOO_LONG))
            row.spec = None
            continue
        try:
            await run_cpu_check(request, check_row, row, zone)
        except FieldErrors as error:  # the recurrence took too long to expand
            row.errors.extend(error.errors)
            row.spec = None


async def run_import(request: web.Request) -> web.Response:
    form = await request.post()
    chosen, mode = str(form.get("segment", "")), str(form.get("mode", ""))
    upload = form.get("file")
    if mode not in MODES:
        mode = "all_or_nothing"
    if not isinstance(upload, web.FileField):
        return await _segments_and_page(request, 422, chosen=chosen, mode=mode, report=None,
                                        error=texts_of(request).gettext(CHOOSE_FILE))  # fmt: skip
    async with request.app[SESSIONS]() as session:
        segment = await store.get_segment(session, workspace_of(request).id, chosen)
        taken = await store.event_uids(session, segment.id)
    try:
        rows = read_rows(upload.filename, upload.file.read())
    except ImportFileError as error:
        return await _segments_and_page(request, 422, chosen=chosen, mode=mode, report=None,
                                        error=f"{upload.filename}: {error}")  # fmt: skip
    await _checked(request, rows, segment.timezone)
    mark_duplicate_uids(rows, taken)
    chosen_rows = to_write(rows, mode)
    async with request.app[SESSIONS].begin() as session:
        stored = await store_rows(session, segment.id, workspace_of(request).slug, chosen_rows,
                                  request.app[CLOCK].now())  # fmt: skip
    report = {"rows": rows, "stored": stored, "bad": sum(not row.ok for row in rows),
              "filename": upload.filename, "segment": segment}  # fmt: skip
    return await _segments_and_page(request, chosen=chosen, mode=mode, report=report, error=None)
