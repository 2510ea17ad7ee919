"""Dashboard segment and event forms: the API's rules, errors next to fields, typed values kept."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from calserver.appkeys import CLOCK, RECORDER, SESSIONS
from tests.conftest import Tenant
from tests.support.admin import add_user, form_token, post_form, sign_in
from tests.support.feeds import make_segment, subscribe

EVENT = {
    "title": "Intro webinar",
    "start": "2026-03-10 19:00",
    "duration": "PT1H",
    "timezone": "Europe/Moscow",
    "alarms": "P1D, PT15M",
}


@pytest.fixture
async def admin(client: TestClient, tenant: Tenant) -> TestClient:  # type: ignore[type-arg]
    await add_user(client, "acme")
    status, _, _ = await sign_in(client)
    assert status == 200
    return client


def field_errors(page: str, name: str) -> list[str]:
    """The error messages shown right under one field."""
    match = re.search(rf'<ul class="field-errors" id="{name}-errors">(.*?)</ul>', page, re.S)
    return (
        [html.unescape(m) for m in re.findall(r"<li>(.*?)</li>", match.group(1))] if match else []
    )


def typed_value(page: str, name: str) -> str | None:
    match = re.search(rf'<input id="f-{name}" name="{name}"[^>]*value="([^"]*)"', page, re.S)
    return html.unescape(match.group(1)) if match else None


async def test_create_and_edit_a_segment(admin: TestClient, api: Any) -> None:  # type: ignore[type-arg]
    fields = {"name": "Webinars", "slug": "webinars", "timezone": "Europe/Moscow",
              "description": "Monthly talks", "color": "#1e88e5"}  # fmt: skip
    status, path, page = await post_form(admin, "/admin/new-segment", fields)
    assert (status, path) == (200, "/admin/segments/webinars") and "Saved." in page
    stored = (await api.get("/api/v1/segments/webinars")).body
    assert (stored["name"], stored["timezone"], stored["color"]) == (
        "Webinars",
        "Europe/Moscow",
        "#1E88E5",
    )
    embed = re.search(r'<textarea id="embed"[^>]*>(.*?)</textarea>', page, re.S)
    assert embed and html.unescape(embed.group(1)) == stored["embed_html"]  # ready to copy
    assert stored["subscribe_url"] + "?src=qr" in page

    changed = {**fields, "name": "Webinars 2027", "color": ""}
    status, path, page = await post_form(admin, path, changed)
    stored = (await api.get("/api/v1/segments/webinars")).body
    assert (stored["name"], stored["color"], stored["version"]) == ("Webinars 2027", None, 2)


async def test_segment_form_shows_each_error_next_to_its_field(
    admin: TestClient,  # type: ignore[type-arg]
    api: Any,
) -> None:
    await make_segment(api, "taken")
    bad = {"name": " ", "slug": "Bad Slug!", "timezone": "Mars/Olympus", "color": "blue"}
    status, _, page = await post_form(admin, "/admin/new-segment", bad)
    assert status == 422
    assert field_errors(page, "name") == ["must not be empty"]
    assert field_errors(page, "slug") == ["use 1-64 lowercase letters, digits and inner hyphens"]
    assert "unknown time zone 'Mars/Olympus'" in field_errors(page, "timezone")[0]
    assert field_errors(page, "color") == ["use a hex colour such as #1E88E5"]
    assert typed_value(page, "slug") == "Bad Slug!" and typed_value(page, "color") == "blue"
    assert "<option selected>Mars/Olympus</option>" in page  # the typed zone is kept too
    status, _, page = await post_form(admin, "/admin/new-segment", {"name": "X", "slug": "taken"})
    assert status == 409 and "already exists" in field_errors(page, "slug")[0]
    assert [s["slug"] for s in (await api.get("/api/v1/segments")).body["items"]] == ["taken"]


async def test_qr_download_encodes_the_qr_link(admin: TestClient, api: Any) -> None:  # type: ignore[type-arg]
    segment = await make_segment(api, "news")
    async with admin.get("/admin/segments/news/qr.svg") as svg:
        assert svg.status == 200 and svg.content_type == "image/svg+xml"
        assert svg.headers["Content-Disposition"] == 'attachment; filename="news-qr.svg"'
    async with admin.get("/admin/segments/news/qr.png") as png:
        assert (await png.read()).startswith(b"\x89PNG")
    async with admin.get("/admin/segments/news") as page:
        assert segment["subscribe_url"] + "?src=qr" in await page.text()


async def test_preview_does_not_count_a_landing_view(
    admin: TestClient,  # type: ignore[type-arg]
    api: Any,
) -> None:
    await make_segment(api, "news", name="Shop news")
    desktop = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/138.0 Safari/537.36"}
    async with admin.get("/admin/segments/news/preview", headers=desktop) as preview:
        assert preview.status == 200 and "Shop news" in await preview.text()
    async with admin.get("/s/acme/news", headers=desktop) as public:
        assert public.status == 200
    await admin.app[RECORDER].flush(admin.app[SESSIONS], admin.app[CLOCK].now())
    summary = (await api.get("/api/v1/stats/summary")).body
    assert summary["landing_views"] == 1  # the public page's view, not the preview's


async def test_event_editor_saves_what_the_api_would(admin: TestClient, api: Any) -> None:  # type: ignore[type-arg]
    await make_segment(api, "news", timezone="Europe/Moscow")
    status, path, page = await post_form(admin, "/admin/segments/news/events/new",
                                         {**EVENT, "repeat": "WEEKLY", "count": "4"})  # fmt: skip
    assert status == 200 and re.fullmatch(r"/admin/segments/news/events/\d+", path), path
    event = (await api.get(f"/api/v1/segments/news/events/{path.rsplit('/', 1)[1]}")).body
    assert event["start"] == "2026-03-10T19:00:00+03:00" and event["rrule"] == "FREQ=WEEKLY;COUNT=4"
    assert event["alarms"] == [{"before": "P1D"}, {"before": "PT15M"}]
    assert (
        typed_value(page, "alarms") == "P1D, PT15M"
        and typed_value(page, "start") == "2026-03-10 19:00"
    )

    edited = {**EVENT, "title": "Intro webinar (moved)", "start": "2026-03-11 19:00",
              "local_time": "on", "rrule": "FREQ=WEEKLY;COUNT=4"}  # fmt: skip
    status, _, page = await post_form(admin, path, edited)
    event = (await api.get(f"/api/v1/segments/news/events/{event['id']}")).body
    assert (event["title"], event["local_time"], event["sequence"]) == (
        "Intro webinar (moved)",
        True,
        1,
    )
    token = await form_token(admin, path)
    async with admin.post(path + "/delete", data={"csrf": token}) as deleted:
        assert deleted.status == 200
    assert (await api.get("/api/v1/segments/news/events")).body["items"] == []


INVALID = [
    ({"timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
    ({"end": "2026-03-10 18:00", "duration": ""}, "end", "must be after start"),
    ({"end": "2026-03-10 20:00"}, "duration", "give end or duration, not both"),
    ({"local_time": "on", "start": "2026-03-10T19:00:00+03:00"}, "start", "without an offset"),
    ({"timezone": "America/New_York", "start": "2026-03-08 02:30"}, "start", "does not exist"),
    ({"start": "next tuesday"}, "start", "ISO 8601"),
    ({"start": ""}, "start", "is required"),
    ({"title": ""}, "title", "must not be empty"),
    ({"url": "ftp://example.com/x"}, "url", "http or https"),
    ({"duration": "1 hour"}, "duration", "ISO 8601 duration"),
    ({"rrule": "FREQ=SOMETIMES"}, "rrule", ""),
    ({"rrule": "FREQ=MINUTELY"}, "rrule", ""),
    ({"rrule": "FREQ=HOURLY"}, "rrule", ""),
    ({"rrule": "FREQ=DAILY;COUNT=20000"}, "rrule", ""),
    ({"rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}, "rrule", ""),
    ({"alarms": ", ".join(f"PT{n}M" for n in range(1, 12))}, "alarms", "at most 10"),
    ({"alarms": "-PT5M"}, "alarms", "after the event starts"),
    ({"alarms": "P40D"}, "alarms", "28 days"),
    ({"all_day": "on", "local_time": "on", "start": "2026-03-10"}, "local_time", "all-day"),
    ({"all_day": "on", "start": "2026-03-10", "duration": "PT3H"}, "duration", "whole days"),
]


@pytest.mark.parametrize(("change", "field", "message"), INVALID)
async def test_event_form_shows_the_api_error_next_to_the_field(
    admin: TestClient,  # type: ignore[type-arg]
    api: Any,
    change: dict[str, str],
    field: str,
    message: str,
) -> None:
    await make_segment(api, "news", timezone="Europe/Moscow")
    form = {**EVENT, **change}
    status, _, page = await post_form(admin, "/admin/segments/news/events/new", form)
    assert status == 422
    errors = field_errors(page, field)
    assert errors and message in " ".join(errors), (field, errors)
    for name in ("title", "start", "duration", "end", "alarms", "rrule", "url"):
        if name in form and typed_value(page, name) is not None:
            assert typed_value(page, name) == form[name], name
    assert (await api.get("/api/v1/segments/news/events")).body["items"] == []


async def test_quiet_hours_warning_names_the_subscribers_zone(
    admin: TestClient,  # type: ignore[type-arg]
    api: Any,
    tenant: Tenant,
) -> None:
    await make_segment(api, "news", timezone="Europe/Moscow")
    await subscribe(api, "acme", "news", timezone="Asia/Vladivostok")
    # 10:00 in Moscow is 17:00 in Vladivostok; an alarm 12 hours before rings at 05:00 there
    # (quiet hours 22:00-08:00) and at 22:00 in Moscow, which is allowed.
    status, _, page = await post_form(admin, "/admin/segments/news/events/new",
                                      {**EVENT, "start": "2026-03-10 10:00", "alarms": "PT12H, PT1H"})  # fmt: skip
    assert status == 200
    warnings = re.findall(r'<p class="warning" role="status">(.*?)</p>', page, re.S)
    assert len(warnings) == 1, warnings
    assert "The alarm 12 hours before" in warnings[0] and "05:00 in Asia/Vladivostok" in warnings[0]


async def test_a_segment_named_new_has_its_own_page(admin: TestClient, api: Any) -> None:  # type: ignore[type-arg]
    await make_segment(api, "new", name="New arrivals")
    async with admin.get("/admin/segments/new") as response:
        assert response.status == 200 and "<h1>New arrivals</h1>" in await response.text()
