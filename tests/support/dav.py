"""Helpers for CalDAV tests: the real python `caldav` client, run in a thread beside the
test server, and raw WebDAV requests for the edge cases no client sends."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import Any, TypeVar

import caldav
from aiohttp.test_utils import TestClient

T = TypeVar("T")


def dav_client(client: TestClient, links: dict[str, str], **kwargs: Any) -> caldav.DAVClient:  # type: ignore[type-arg]
    """An account as a phone sets it up: the server address, the user name and the password."""
    return caldav.DAVClient(
        url=str(client.make_url("/dav/")), username=links["caldav_username"],
        password=links["caldav_password"], enable_rfc6764=False, **kwargs,
    )  # fmt: skip


async def in_thread(work: Callable[[], T]) -> T:
    """The caldav library blocks; the server runs on this test's event loop."""
    return await asyncio.to_thread(work)


def basic(links: dict[str, str], password: str | None = None) -> dict[str, str]:
    pair = f"{links['caldav_username']}:{password or links['caldav_password']}"
    return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


def calendar_path(links: dict[str, str]) -> str:
    return f"/dav/{links['caldav_password']}/calendar/"


SYNC_REPORT = """<?xml version="1.0" encoding="utf-8"?>
<D:sync-collection xmlns:D="DAV:">
  <D:sync-token>{token}</D:sync-token>
  <D:sync-level>1</D:sync-level>
  <D:prop><D:getetag/></D:prop>
</D:sync-collection>"""


async def dav(client: TestClient, method: str, path: str, body: str | bytes = b"",  # type: ignore[type-arg]
              headers: dict[str, str] | None = None) -> tuple[int, str, Any]:  # fmt: skip
    data = body.encode() if isinstance(body, str) else body
    async with client.request(method, path, data=data, headers=headers or {}) as answer:
        return answer.status, await answer.text(), answer.headers
