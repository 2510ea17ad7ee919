"""The statistics and subscribers pages on a small known story; the SVG chart helpers."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import Tenant
from tests.support.admin import add_user, sign_in
from tests.support.agents import AGENTS, BROWSERS
from tests.support.feeds import make_segment, poll
from tests.support.telemetry import settle
from web.admin.charts import PATTERNS, Bar, bar_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
async def story(client: TestClient, tenant: Tenant) -> TestClient:  # type: ignore[type-arg]
    """5 people view the page, 3 subscribe (2 from a QR code), 2 add it, 1 leaves."""
    await make_segment(tenant.api)
    for n in range(5):
        src = "qr" if n < 3 else "site"
        async with client.get(f"/s/acme/news?src={src}", headers={"User-Agent": BROWSERS[n % 3]}):
            pass
    feeds = []
    for src in ("qr", "qr", "site"):
        async with client.post(
            f"/s/acme/news?src={src}", data={"client": "apple"}, allow_redirects=False
        ) as answer:
            token = answer.headers["Location"].split("/")[2].split("?")[0]
        feeds.append(token)
    await poll(client, f"/f/{feeds[0]}.ics", {"User-Agent": AGENTS["apple-ios"][0]})
    await poll(client, f"/f/{feeds[1]}.ics", {"User-Agent": AGENTS["google"][0]})
    async with client.post(f"/u/{feeds[1]}"):
        pass
    await settle(client)
    await add_user(client, "acme")
    await sign_in(client)
    return client


def _cell(page: str, cell_id: str) -> str:
    match = re.search(rf'id="{cell_id}">([^<]*)<', page)
    assert match, cell_id
    return match.group(1)


def _bars(page: str, chart_id: str) -> dict[str, str]:
    svg = re.search(rf'<svg id="{chart_id}".*?</svg>', page, re.S)
    assert svg, chart_id
    root = ET.fromstring(svg.group(0))
    return {g.get("data-label", ""): g.get("data-value", "") for g in root.iter(f"{SVG}g")}


async def test_statistics_page_shows_the_story(story: TestClient) -> None:  # type: ignore[type-arg]
    async with story.get("/admin/stats?from=2026-03-01&to=2026-03-02") as response:
        assert response.status == 200
        page = await response.text()
    assert [_cell(page, f"n-{name}") for name in
            ("landing_views", "subscribe_clicks", "activated", "unsubscribed", "active")] == [
        "5", "3", "2", "1", "1"]  # fmt: skip
    assert _bars(page, "funnel") == {"Landing views": "5", "Subscribe clicks": "3",
                                     "Activated (first poll)": "2", "Active at the end": "1"}  # fmt: skip
    assert _cell(page, "r-subscribe_conversion") == "60.0 %"
    assert _cell(page, "r-unsubscribe_rate") == "50.0 %"
    assert _cell(page, "r-lapse_rate") == "0.0 %"
    by_src = _bars(page, "by-src")
    assert set(by_src) == {"qr", "site"}
    assert "2 subscribed, 1 active" in page and "1 subscribed, 0 active" in page
    assert set(_bars(page, "by-family")) == {"(none)", "apple-ios", "google"}
    points = re.findall(r'class="point"[^>]*data-label="([^"]+)" data-value="([^"]+)"', page)
    assert points == [("2026-03-01", "0"), ("2026-03-02", "1")]


async def test_statistics_page_names_a_bad_date_next_to_its_field(story: TestClient) -> None:  # type: ignore[type-arg]
    async with story.get("/admin/stats?from=2026-03-05&to=2026-03-01") as response:
        assert response.status == 400
        page = await response.text()
    assert re.search(r'id="from-errors"><li>from must not be after to</li>', page)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"active", "unsubscribed", "created"}),
        ("?status=active", {"active"}),
        ("?family=google", {"unsubscribed"}),
        ("?src=site", {"created"}),
        ("?src=site&status=active", set()),
        ("?segment=news&family=apple-ios", {"active"}),
    ],
)
async def test_subscribers_table_filters(story: TestClient, query: str, expected: set[str]) -> None:  # type: ignore[type-arg]
    async with story.get("/admin/subscribers" + query) as response:
        page = await response.text()
    table = re.search(r'<table id="subscribers">.*?</table>', page, re.S)
    assert table
    assert set(re.findall(r'<span class="badge">(\w+)</span>', table.group(0))) == expected


def test_bar_chart_escapes_labels_and_tells_bars_apart_without_colour() -> None:
    svg = bar_chart("c", "Sources", [Bar("<script>", 3, "3"), Bar("qr", 6, "6 people")])
    root = ET.fromstring(str(svg))  # well-formed: the label is escaped, not markup
    assert root.get("role") == "img" and root.find(f"{SVG}title").text == "Sources"  # type: ignore[union-attr]
    rects = [r for r in root.iter(f"{SVG}rect") if r.get("fill", "").startswith("url(")]
    assert [r.get("fill") for r in rects] == ["url(#c-p0)", "url(#c-p1)"]
    assert len(root.findall(f"{SVG}defs/{SVG}pattern")) == len(PATTERNS)
    widths = [float(r.get("width", "0")) for r in rects]
    assert widths[1] == pytest.approx(2 * widths[0])  # lengths are proportional
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "<script>" in texts and "6 people" in texts
    assert "Sources" in str(svg) and "<script>" not in str(svg)


def test_line_chart_plots_each_day_higher_for_more() -> None:
    root = ET.fromstring(str(line_chart("a", "Active", [("d1", 0), ("d2", 4), ("d3", 2)])))
    points = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "point"]
    ys = [float(r.get("y", "0")) for r in points]
    assert ys[1] < ys[2] < ys[0]  # SVG y grows downwards
    assert [r.get("data-value") for r in points] == ["0", "4", "2"]
