"""Helpers for tests that subscribe and poll feeds like a calendar client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp.test_utils import TestClient

from tests.support.icaljs import parse_ics
from tests.support.openapi import ApiClient


@dataclass
class Polled:
    status: int
    headers: Any
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def make_segment(api: ApiClient, slug: str = "news", **fields: Any) -> dict[str, Any]:
    answer = await api.post(
        "/api/v1/segments", {"slug": slug, "name": fields.pop("name", "Shop news"), **fields}
    )
    assert answer.status == 201, answer.text
    return dict(answer.body)


async def add_event(api: ApiClient, slug: str, **fields: Any) -> dict[str, Any]:
    answer = await api.post(f"/api/v1/segments/{slug}/events", fields)
    assert answer.status == 201, answer.text
    return dict(answer.body)


async def subscribe(
    api: ApiClient, workspace: str, slug: str, timezone: str | None = None, lang: str | None = None
) -> dict[str, str]:
    body = {"timezone": timezone} if timezone else {}
    if lang:
        body["lang"] = lang
    answer = await api.request(
        "POST", f"/s/{workspace}/{slug}", json_body=body, headers={"Accept": "application/json"}
    )
    assert answer.status == 201, answer.text
    return dict(answer.body)


async def poll(client: TestClient, feed_url: str, headers: dict[str, str] | None = None,  # type: ignore[type-arg]
               method: str = "GET") -> Polled:  # fmt: skip
    # Identity unless a test asks otherwise (aiohttp's client offers gzip by default).
    all_headers = {"Accept-Encoding": "identity", **(headers or {})}
    async with client.request(
        method, path_of(feed_url), headers=all_headers, auto_decompress=False
    ) as r:
        return Polled(r.status, r.headers, await r.read())


def read(polled: Polled, **bounds: Any) -> dict[str, Any]:
    """The feed read by ical.js, with no help for VTIMEZONE quirks: what Thunderbird sees."""
    assert polled.status == 200, polled.status
    parsed = parse_ics(polled.body, raw_vtimezones=True, **bounds)
    assert parsed["errors"] == [], parsed["errors"]
    return parsed
