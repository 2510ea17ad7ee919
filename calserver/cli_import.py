"""`calserver import FILE --segment SLUG`: the dashboard's bulk import, with a progress bar."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from calserver.clock import Clock
from calserver.config import Config
from calserver.importing import (
    ImportFileError,
    Row,
    check_row,
    mark_duplicate_uids,
    read_rows,
    store_rows,
    to_write,
)
from storage import segments as store
from storage.errors import NotFound
from storage.models import Workspace
from storage.workspaces import workspace_by_slug

Store = Callable[[Config, Callable[[Any], Awaitable[Any]]], Coroutine[Any, Any, Any]]
BAR_WIDTH = 30


def progress(done: int, total: int, out: TextIO) -> None:
    filled = BAR_WIDTH * done // max(total, 1)
    end = "\n" if done == total else ""
    out.write(f"\rchecking [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total}{end}")
    out.flush()


async def _workspace(session: AsyncSession, slug: str | None) -> Workspace:
    if slug:
        return await workspace_by_slug(session, slug)
    found = list((await session.scalars(select(Workspace).limit(2))).all())
    if len(found) != 1:
        raise NotFound("there are several workspaces (or none): name one with --workspace")
    return found[0]


def _check_all(rows: list[Row], zone: str) -> None:
    for done, row in enumerate(rows, start=1):
        check_row(row, zone)
        progress(done, len(rows), sys.stderr)


def cmd_import(config: Config, args: argparse.Namespace, with_store: Store) -> int:
    try:
        rows = read_rows(args.file.name, args.file.read_bytes())
    except (OSError, ImportFileError) as error:
        print(f"error: {args.file}: {error}", file=sys.stderr)
        return 2
    mode = "valid_only" if args.valid_only else "all_or_nothing"

    async def work(session: Any) -> int:
        workspace = await _workspace(session, args.workspace)
        segment = await store.get_segment(session, workspace.id, args.segment)
        # Checking is CPU work that never touches the database.
        await asyncio.to_thread(_check_all, rows, segment.timezone)
        mark_duplicate_uids(rows, await store.event_uids(session, segment.id))
        chosen = to_write(rows, mode)
        return await store_rows(session, segment.id, workspace.slug, chosen, Clock().now())

    stored: int = asyncio.run(with_store(config, work))
    bad = [row for row in rows if not row.ok]
    for row in bad:
        for pointer, message in row.errors:
            print(
                f"{row.where} ({row.title or 'untitled'}): {pointer.strip('/') or 'row'}: {message}"
            )
    print(f"{len(rows)} event(s) read, {len(bad)} with errors, {stored} imported.")
    if bad and not stored:
        print("Nothing was imported; fix the rows above, or pass --valid-only.")
    return 1 if bad else 0
