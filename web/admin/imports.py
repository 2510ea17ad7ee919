"""Bulk import page: an .ics or CSV file, a report per row, nothing or only valid rows stored."""

from __future__ import annotations

import asyncio

from aiohttp import web

from calserver import importing
from calserver.appkeys import CHECK_POOL, CLOCK, SESSIONS
from calserver.importing import MODES, ImportFileError, mark_duplicate_uids, store_rows, to_write
from feeds.i18n import N_, reason, say
from storage import segments as store
from web.admin.render import page_off_loop, texts_of
from web.api.common import workspace_of

CHOOSE_FILE = N_("Choose an .ics or .csv file.")


async def _segments_and_page(
    request: web.Request, status: int = 200, **context: object
) -> web.Response:
    async with request.app[SESSIONS]() as session:
        segments = await store.list_segments(session, workspace_of(request).id)
    context.setdefault("chosen", request.query.get("segment", ""))
    context.setdefault("mode", "all_or_nothing")
    # The report lists every row of the file: rendered off the loop.
    return await page_off_loop(request, "import.html", section="segments", status=status,
                               segments=segments, modes=MODES, **context)  # fmt: skip


async def import_page(request: web.Request) -> web.Response:
    return await _segments_and_page(request, report=None, error=None)


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
    # Reading and checking a file (up to a megabyte) is CPU work: off the event loop, in the
    # pool for client input, with a budget that ends it (calserver/importing.py).
    loop = asyncio.get_running_loop()
    try:
        rows = await loop.run_in_executor(
            request.app[CHECK_POOL], importing.read_and_check, upload.filename,
            upload.file.read(), segment.timezone, importing.IMPORT_BUDGET_SECONDS,
        )  # fmt: skip
    except ImportFileError as error:
        return await _segments_and_page(request, 422, chosen=chosen, mode=mode, report=None,
                                        error=say("%(file)s: %(reason)s", file=upload.filename, reason=reason(error)))  # fmt: skip
    mark_duplicate_uids(rows, taken)
    chosen_rows = to_write(rows, mode)
    async with request.app[SESSIONS].begin() as session:
        stored = await store_rows(session, segment.id, workspace_of(request).slug, chosen_rows,
                                  request.app[CLOCK].now())  # fmt: skip
    report = {"rows": rows, "stored": stored, "bad": sum(not row.ok for row in rows),
              "filename": upload.filename, "segment": segment}  # fmt: skip
    return await _segments_and_page(request, chosen=chosen, mode=mode, report=report, error=None)
