"""vdirsyncer, a real sync client, mirrors the CalDAV calendar into a folder and follows a
change and a deletion on the next run."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path

from aiohttp.test_utils import TestClient
from icalendar import Calendar

from calserver.clock import FrozenClock
from tests.conftest import Tenant
from tests.support.feeds import add_event, make_segment, poll, subscribe

CONFIG = """[general]
status_path = "{status}"

[pair shop]
a = "shop_remote"
b = "shop_local"
collections = ["from a"]
conflict_resolution = "a wins"

[storage shop_remote]
type = "caldav"
url = "{url}"
username = "{username}"
password = "{password}"
read_only = true

[storage shop_local]
type = "filesystem"
path = "{folder}"
fileext = ".ics"
"""


async def _run(config: Path, command: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "vdirsyncer", "-c", str(config), command, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    # discover asks before it creates the local folder of each calendar it finds.
    output, _ = await asyncio.wait_for(process.communicate(b"y\n" * 4), timeout=120)
    assert process.returncode == 0, output.decode()
    return output.decode()


def _folder(folder: Path) -> dict[str, str]:
    """UID -> SUMMARY of the series, for every file vdirsyncer wrote."""
    found = {}
    for path in folder.glob("*.ics"):
        for event in Calendar.from_ical(path.read_bytes()).walk("VEVENT"):
            if "RECURRENCE-ID" not in event:
                found[str(event["UID"])] = str(event["SUMMARY"])
    return found


async def test_vdirsyncer_mirrors_the_calendar_and_follows_changes(
    client: TestClient,
    tenant: Tenant,
    clock: FrozenClock,
    tmp_path: Path,  # type: ignore[type-arg]
) -> None:
    await make_segment(tenant.api, timezone="Europe/Berlin")
    kept = await add_event(tenant.api, "news", title="Tasting", start="2026-03-19T10:00:00",
                           rrule="FREQ=WEEKLY;COUNT=4", alarms=[{"before": "PT30M"}])  # fmt: skip
    changed = await add_event(tenant.api, "news", title="Sale", start="2026-04-10T09:00:00")
    gone = await add_event(tenant.api, "news", title="Talk", start="2026-04-20T18:00:00")
    links = await subscribe(tenant.api, tenant.slug, "news", "Europe/Berlin")
    local = tmp_path / "calendars"
    local.mkdir()
    folder = local / "calendar"  # the collection vdirsyncer discovered, by its name
    config = tmp_path / "vdirsyncer.conf"
    config.write_text(CONFIG.format(
        status=tmp_path / "status", folder=local, username=links["caldav_username"],
        password=links["caldav_password"], url=client.make_url("/dav/"),
    ))  # fmt: skip

    discovered = await _run(config, "discover")
    assert "calendar" in discovered, discovered
    await _run(config, "sync")
    feed = Calendar.from_ical((await poll(client, links["feed_url"])).body)
    assert _folder(folder) == {
        str(e["UID"]): str(e["SUMMARY"]) for e in feed.walk("VEVENT") if "RECURRENCE-ID" not in e
    }
    assert len(_folder(folder)) == 3

    clock.advance(timedelta(hours=1))
    await tenant.api.patch(f"/api/v1/segments/news/events/{changed['id']}", {"title": "Sale -30%"})
    await tenant.api.delete(f"/api/v1/segments/news/events/{gone['id']}")
    clock.advance(timedelta(minutes=1))
    await _run(config, "sync")
    assert _folder(folder) == {kept["uid"]: "Tasting", changed["uid"]: "Sale -30%"}
