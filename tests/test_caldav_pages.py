"""The landing page's "Add as CalDAV account" leads to a page with working credentials."""

from __future__ import annotations

from html.parser import HTMLParser

from aiohttp.test_utils import TestClient

from tests.conftest import Tenant
from tests.support.dav import dav_client, in_thread
from tests.support.feeds import add_event, make_segment


class Fields(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "input" and values.get("id"):
            self.values[str(values["id"])] = str(values.get("value") or "")


async def test_caldav_account_from_the_landing_page(client: TestClient, tenant: Tenant) -> None:  # type: ignore[type-arg]
    await make_segment(tenant.api, timezone="Europe/Berlin")
    event = await add_event(tenant.api, "news", title="Opening", start="2026-03-10T10:00:00")
    async with client.get("/s/acme/news") as page:
        landing = await page.text()
    assert "Add as CalDAV account" in landing and 'name="client" value="caldav"' in landing
    form = {"client": "caldav", "src": "site", "tz": "Europe/Berlin"}
    async with client.post("/s/acme/news", data=form, allow_redirects=False) as answer:
        assert answer.status == 303
        location = answer.headers["Location"]
    assert location.endswith("?via=caldav")
    async with client.get(location) as page:
        html = await page.text()
    assert "Add CalDAV Account" in html and "DAVx⁵" in html and "Thunderbird" in html
    fields = Fields()
    fields.feed(html)
    server = fields.values["caldav-server"]
    assert server == "https://cal.example.test/dav/"
    links = {
        "caldav_username": fields.values["caldav-user"],
        "caldav_password": fields.values["caldav-password"],
    }

    def uids() -> list[str]:
        with dav_client(client, links) as dav:
            calendar = dav.principal().calendars()[0]
            return [str(e.icalendar_component["UID"]) for e in calendar.events()]

    assert await in_thread(uids) == [event["uid"]]
