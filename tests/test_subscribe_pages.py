"""The landing page, the subscribe POST, QR codes and the embed snippet."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from calserver.appkeys import SESSIONS
from calserver.clock import FrozenClock
from calserver.config import Config
from storage.models import Subscription
from tests.conftest import Tenant, _tenant
from tests.support.feeds import add_event, make_segment, path_of, poll, read
from web.app import create_app

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Version/18.0 Mobile/15E148 Safari/604.1"
ANDROID = (
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36"
)
WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
CHROME_IOS = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 CriOS/131.0 Mobile/15E148 Safari/604.1"
MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15"
)


class Buttons(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.clients: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "button" and values.get("data-client"):
            self.clients.append(str(values["data-client"]))


async def count_subscriptions(client: TestClient) -> int:  # type: ignore[type-arg]
    async with client.app[SESSIONS]() as session:
        return int(await session.scalar(select(func.count(Subscription.id))) or 0)


@pytest.fixture
async def news(tenant: Tenant) -> dict[str, Any]:
    segment = await make_segment(tenant.api, timezone="Europe/Moscow", color="#FDD835")
    await add_event(tenant.api, "news", title="Weekly tip", start="2026-03-05T10:00:00", local_time=True,
                    rrule="FREQ=WEEKLY;COUNT=8", alarms=[{"before": "PT15M"}])  # fmt: skip
    return segment


@pytest.mark.parametrize(
    ("agent", "first"),
    [
        (IPHONE, "apple"),
        (MAC, "apple"),
        (ANDROID, "android"),
        (WINDOWS, "outlook"),
        (LINUX, "google"),
        (CHROME_IOS, "copy"),
    ],
)
async def test_landing_orders_buttons_by_device_and_creates_nothing(
    client: TestClient,
    news: dict[str, Any],
    agent: str,
    first: str,  # type: ignore[type-arg]
) -> None:
    async with client.get("/s/acme/news?src=sms", headers={"User-Agent": agent}) as page:
        assert page.status == 200 and page.content_type == "text/html"
        html = await page.text()
    parser = Buttons()
    parser.feed(html)
    assert parser.clients[0] == first
    assert sorted(parser.clients) == sorted(
        ["apple", "google", "outlook", "office365", "android", "copy"]
    )
    assert 'name="src" value="sms"' in html and 'method="post"' in html
    assert (
        "Weekly tip" in html
        and "4 events in the next 30 days" in html
        and "15 minutes before" in html
    )
    assert "unsubscribe link" in html
    assert await count_subscriptions(client) == 0  # previewers and scanners fetch GETs


async def test_form_subscribe_redirects_to_the_links_page(
    client: TestClient, news: dict[str, Any]
) -> None:  # type: ignore[type-arg]
    form = {"client": "google", "src": "qr", "tz": "Asia/Vladivostok"}
    async with client.post("/s/acme/news", data=form, allow_redirects=False) as answer:
        assert answer.status == 303
        location = answer.headers["Location"]
    assert location.startswith("/subscribed/") and location.endswith("?via=google")
    async with client.get(location) as page:
        html = await page.text()
        assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "calendar.google.com/calendar/r?cid=webcal" in html and "From URL" in html
    token = location.split("/")[2].split("?")[0]
    feed = read(await poll(client, f"https://cal.example.test/f/{token}.ics"))
    assert feed["events"][0]["tzid"] == "Asia/Vladivostok"
    async with client.app[SESSIONS]() as session:
        row = (await session.scalars(select(Subscription))).one()
    assert (row.src, row.client, row.timezone) == ("qr", "google", "Asia/Vladivostok")


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd"])
async def test_a_bad_browser_zone_falls_back_to_the_segment(
    client: TestClient, news: dict[str, Any], zone: str
) -> None:  # type: ignore[type-arg]
    async with client.post(
        "/s/acme/news", data={"client": "copy", "tz": zone}, allow_redirects=False
    ) as answer:
        assert answer.status == 303
    async with client.app[SESSIONS]() as session:
        assert (await session.scalars(select(Subscription.timezone))).one() == "Europe/Moscow"


async def test_unknown_segment_is_a_readable_page(client: TestClient, news: dict[str, Any]) -> None:  # type: ignore[type-arg]
    for path in ("/s/acme/nope", "/s/nobody/news", "/s/acme/nope/qr.svg"):
        async with client.get(path) as page:
            assert page.status == 404 and page.content_type == "text/html"
            assert "does not exist" in await page.text()
    async with client.post("/s/acme/nope", data={"client": "apple"}) as page:
        assert page.status == 404
    assert await count_subscriptions(client) == 0
    async with client.put("/s/acme/news") as page:
        assert page.status == 405


async def test_business_text_is_escaped_on_the_page(client: TestClient, tenant: Tenant) -> None:  # type: ignore[type-arg]
    await make_segment(
        tenant.api, name='<script>alert("x")</script>', description="<img src=x onerror=alert(1)>"
    )
    await add_event(tenant.api, "news", title="<b>bold</b> & co", start="2026-03-10T10:00:00")
    async with client.get("/s/acme/news") as page:
        html = await page.text()
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "&lt;b&gt;bold&lt;/b&gt; &amp; co" in html


async def test_subscribe_flood_is_rate_limited(
    aiohttp_client: Any, config: Config, clock: FrozenClock
) -> None:
    client = await aiohttp_client(create_app(config.replace(subscribe_rate_limit=3), clock=clock))
    tenant = await _tenant(client, "acme")
    await make_segment(tenant.api)
    statuses = []
    for _ in range(5):
        async with client.post(
            "/s/acme/news", data={"client": "copy"}, allow_redirects=False
        ) as answer:
            statuses.append(answer.status)
            if answer.status == 429:
                assert int(answer.headers["Retry-After"]) >= 1
                assert "Too many" in await answer.text()
    assert statuses == [303, 303, 303, 429, 429]
    assert await count_subscriptions(client) == 3


async def test_json_subscribe_bad_body(client: TestClient, news: dict[str, Any]) -> None:  # type: ignore[type-arg]
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    async with client.post("/s/acme/news", data=b"{nope", headers=headers) as answer:
        assert answer.status == 400 and answer.content_type == "application/problem+json"
    async with client.post("/s/acme/news", data=b"[]", headers=headers) as answer:
        assert answer.status == 400
    assert await count_subscriptions(client) == 0


async def test_qr_codes_and_embed_snippet(client: TestClient, news: dict[str, Any]) -> None:  # type: ignore[type-arg]
    assert news["qr_svg_url"] == news["subscribe_url"] + "/qr.svg"
    async with client.get(path_of(news["qr_svg_url"])) as svg:
        assert svg.status == 200 and svg.content_type == "image/svg+xml"
        assert (await svg.text()).lstrip().startswith(("<?xml", "<svg"))
    sizes = []
    for scale in (1, 8, 40):
        async with client.get(path_of(news["qr_png_url"]) + f"?scale={scale}") as png:
            assert png.status == 200 and png.content_type == "image/png"
            body = await png.read()
            assert body[:8] == b"\x89PNG\r\n\x1a\n"
            sizes.append(int.from_bytes(body[16:20], "big"))  # IHDR width
    assert sizes[0] < sizes[1] < sizes[2]
    for bad in ("0", "41", "1000000", "x", "-1"):
        async with client.get(path_of(news["qr_png_url"]) + f"?scale={bad}") as answer:
            assert answer.status == 400
    snippet = news["embed_html"]
    assert snippet.startswith(f'<a href="{news["subscribe_url"]}?src=button"')
    assert "<script" not in snippet and "http" not in snippet.split('href="', 1)[1].split('"', 1)[1]
    assert "color:#000" in snippet  # dark text on the light yellow #FDD835
