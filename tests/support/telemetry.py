"""Writing recorded polls now, instead of waiting for the background interval."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from calserver.appkeys import CLOCK, CONFIG, RECORDER, SESSIONS


async def settle(client: TestClient) -> None:  # type: ignore[type-arg]
    """Flush recorded polls and views, then run the lifecycle sweep at the app's 'now'."""
    app = client.app
    await app[RECORDER].flush(app[SESSIONS], app[CLOCK].now())
    await app[RECORDER].maintain(
        app[SESSIONS], app[CONFIG].thresholds, app[CLOCK].now(), app[CONFIG].poll_retention_hours
    )
