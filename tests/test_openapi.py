"""The OpenAPI document is valid, complete, and served; the docs page needs nothing external."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate

from web.openapi import openapi_document


def test_document_is_valid_openapi_3_1() -> None:
    document = openapi_document()
    assert document["openapi"] == "3.1.0"
    validate(document)


async def test_every_route_is_documented_and_every_documented_route_exists(
    client: TestClient,
) -> None:  # type: ignore[type-arg]
    documented = {
        (method.upper(), path)
        for path, item in openapi_document()["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    served = set()
    for route in client.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("formatter") or info.get("path")
        if route.method == "HEAD" or not path:
            continue
        if (path.startswith("/api/v1/") and path != "/api/v1/openapi.json") or path == "/healthz":
            served.add((route.method, path))
        if path == "/s/{workspace}/{segment}":
            served.add((route.method, path))  # the landing page, and its POST answers JSON too
    assert served == documented


async def test_served_document_matches(client: TestClient) -> None:  # type: ignore[type-arg]
    async with client.get("/api/v1/openapi.json") as answer:
        assert answer.status == 200
        assert await answer.json() == openapi_document()


async def test_docs_page_lists_every_operation_without_third_party_requests(
    client: TestClient,
) -> None:  # type: ignore[type-arg]
    async with client.get("/api/docs") as answer:
        assert answer.status == 200 and answer.content_type == "text/html"
        html = await answer.text()
    for path, item in openapi_document()["paths"].items():
        for method in item:
            if method in ("get", "post", "patch", "delete"):
                assert f"{method.upper()}</span> <code>{path}</code>" in html
    # No script, stylesheet, image or font from anywhere but this server.
    external = re.findall(r"""(?:src|href)=["']?(https?:)?//""", html)
    assert external == []
    assert "<script" not in html
