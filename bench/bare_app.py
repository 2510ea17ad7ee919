"""The baseline: a bare aiohttp app in its own process that answers with bytes from memory.

    python bench/bare_app.py BODY_FILE ETAG [PORT]

GET /200 sends the body as text/calendar; GET /304 sends a 304 with the ETag. No
middleware, no lookup, no recording: what any aiohttp server pays to answer at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

from aiohttp import web


async def main(body: bytes, etag: str, port: int) -> None:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="text/calendar")

    async def not_modified(request: web.Request) -> web.Response:
        return web.Response(status=304, headers={"ETag": etag})

    app = web.Application()
    app.router.add_get("/200", ok)
    app.router.add_get("/304", not_modified)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    print(f"bare app listening on http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    port = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(Path(sys.argv[1]).read_bytes(), sys.argv[2], port))
