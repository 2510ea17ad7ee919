"""The operator's home page at / : a page for a person, never a raw JSON 404."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from calserver.appkeys import SESSIONS
from calserver.clock import FrozenClock
from calserver.config import Config
from calserver.demo import ensure_demo
from web.app import create_app

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Accept-Language": "en"}


async def _get(client: TestClient, path: str, **headers: str) -> tuple[int, str, str]:  # type: ignore[type-arg]
    async with client.get(path, headers={**BROWSER, **headers}) as answer:
        return answer.status, answer.content_type, await answer.text()


async def test_home_page_links_the_dashboard_and_the_api_docs(client: TestClient) -> None:  # type: ignore[type-arg]
    status, kind, html = await _get(client, "/")
    assert (status, kind) == (200, "text/html")
    assert 'href="/admin"' in html and 'href="/api/docs"' in html
    assert "calendar" in html.lower()
    assert 'id="demo"' not in html  # demo mode is off in the tests' configuration
    for path in ("/admin", "/api/docs"):
        async with client.get(path, headers=BROWSER, allow_redirects=True) as linked:
            assert linked.status == 200 and linked.content_type == "text/html"


async def test_home_page_in_russian(client: TestClient) -> None:  # type: ignore[type-arg]
    status, _, html = await _get(client, "/", **{"Accept-Language": "ru-RU,ru;q=0.9"})
    assert status == 200
    assert 'lang="ru"' in html and "Панель управления" in html
    assert "Dashboard" not in html and "API documentation" not in html


async def test_demo_mode_links_the_demo_segment(
    aiohttp_client: Any, config: Config, clock: FrozenClock
) -> None:
    client = await aiohttp_client(create_app(config.replace(demo=True), clock=clock))
    status, _, html = await _get(client, "/")
    assert status == 200 and 'id="demo"' not in html  # no demo workspace yet
    async with client.app[SESSIONS].begin() as session:
        await ensure_demo(session, config)
    status, _, html = await _get(client, "/")
    assert 'href="/s/demo/news"' in html
    status, kind, landing = await _get(client, "/s/demo/news")
    assert (status, kind) == (200, "text/html") and "What you will get" in landing


async def test_unknown_paths_are_pages_for_browsers_and_problems_for_programs(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    status, kind, html = await _get(client, "/nothing-here")
    assert (status, kind) == (404, "text/html") and "Page not found" in html
    async with client.get("/nothing-here", headers={"Accept": "application/json"}) as answer:
        assert answer.status == 404 and answer.content_type == "application/problem+json"
