"""Security headers on every answer; every HTML page (error pages and /api/docs included)
forbids framing."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from tests.conftest import Tenant
from tests.support.feeds import make_segment, path_of, subscribe


async def test_every_answer_has_nosniff_and_html_forbids_framing(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
) -> None:
    await make_segment(tenant.api)
    links = await subscribe(tenant.api, tenant.slug, "news")
    html = {"Accept": "text/html"}
    requests = [
        ("GET", "/healthz", {}), ("GET", path_of(links["feed_url"]), {}),
        ("GET", "/api/docs", {}), ("GET", "/api/v1/openapi.json", {}),
        ("GET", "/api/v1/segments", {}), ("GET", "/nowhere", html), ("GET", "/nowhere", {}),
        ("GET", "/admin/sign-in", {}), ("GET", "/admin/segments", html),
        ("GET", f"/s/{tenant.slug}/news", html), ("GET", "/s/nobody/none", html),
        ("GET", "/static/style.css", {}), ("PROPFIND", "/dav/", {}), ("GET", "/metrics", {}),
        ("POST", "/admin/sign-in", html),
    ]  # fmt: skip
    for method, path, headers in requests:
        async with client.request(method, path, headers=headers, allow_redirects=False) as answer:
            seen = answer.headers
            assert seen.get("X-Content-Type-Options") == "nosniff", (method, path)
            assert seen.get("Referrer-Policy"), (method, path)
            if answer.content_type == "text/html":
                assert "frame-ancestors 'none'" in seen.get("Content-Security-Policy", ""), path
                assert seen.get("X-Frame-Options") == "DENY", path
    async with client.get("/nowhere", headers=html) as answer:
        assert answer.status == 404 and answer.content_type == "text/html"
    async with client.get("/api/docs") as answer:
        assert answer.content_type == "text/html"
