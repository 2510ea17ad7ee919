"""Hostile input on the subscriber's pages, the feed and the QR codes: bodies that are not
UTF-8, lone surrogates, deep JSON, odd ids and tokens. Every answer is a 4xx (or the page
itself), never a 5xx, and the database is unchanged."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from tests.conftest import Tenant
from tests.support.db import snapshot
from tests.support.feeds import make_segment, path_of, subscribe

FORM = "application/x-www-form-urlencoded"
BAD_BODIES: list[tuple[bytes, str]] = [
    (b"tz=\xff\xfe&src=\xff", FORM),
    (b"\xff\xfe\x00", FORM),
    (b'{"timezone": "\\ud800", "src": "\\udfff"}', "application/json"),
    (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    (b'{"timezone": ' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"}", "application/json"),
    (b"\xff\xfe{}", "application/json"),
    (b"--b\r\nContent-Disposition: form-data; name=\"tz\"\r\n\r\n\xff\r\n--b--\r\n",
     "multipart/form-data; boundary=b"),
]  # fmt: skip


async def _status(client: TestClient, method: str, path: str, body: bytes = b"",  # type: ignore[type-arg]
                  content_type: str = FORM, accept: str = "text/html") -> int:  # fmt: skip
    headers = {"Content-Type": content_type, "Accept": accept}
    async with client.request(method, path, data=body, headers=headers,
                              allow_redirects=False) as answer:  # fmt: skip
        await answer.read()
        return answer.status


async def test_no_page_input_gets_a_5xx_or_changes_anything(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
) -> None:
    await make_segment(tenant.api)
    links = await subscribe(tenant.api, tenant.slug, "news")
    token = path_of(links["feed_url"]).split("/")[2].removesuffix(".ics")
    before = await snapshot(client)
    pages = [f"/s/{tenant.slug}/news", f"/m/{token}"]  # /u/ reads no body: POST unsubscribes
    for path in pages:
        for body, content_type in BAD_BODIES:
            for accept in ("text/html", "application/json"):
                status = await _status(client, "POST", path, body, content_type, accept)
                assert 400 <= status < 500, (path, body[:40], status)
    for segment in ("%C2%B2", "99999999999999999999999999", "1" * 5000, "-1", "\u0661"):
        status = await _status(client, "POST", f"/m/{token}", f"tz=UTC&segment={segment}".encode())
        assert 400 <= status < 500, (segment, status)
    odd = ["%FF", "%C2%B2", "x" * 5000, "%00", "a.b", "%ED%A0%80"]
    for raw in odd:
        for path in (f"/f/{raw}.ics", f"/m/{raw}", f"/u/{raw}", f"/p/{raw}", f"/subscribed/{raw}",
                     f"/s/{raw}/{raw}", f"/s/{tenant.slug}/news?src={raw}&tz={raw}",
                     f"/s/{raw}/news/qr.svg", f"/p/{raw}/qr.png", f"/dav/{raw}/calendar/"):  # fmt: skip
            status = await _status(client, "GET", path)
            assert status < 500, (path, status)
            assert path.startswith("/s/acme/news?") or 400 <= status < 500, (path, status)
    assert await snapshot(client) == before
