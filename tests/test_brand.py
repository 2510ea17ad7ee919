"""The workspace's brand: the logo upload's checks, its caching, the colour's stylesheet,
and the logo, colour and footer on every subscriber page (both stores)."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
import segno
from aiohttp import FormData
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from calserver.appkeys import SESSIONS
from calserver.brand import LOGO_MAX_BYTES, BrandError, brand_css, check_logo, contrast
from storage.models import Workspace, WorkspaceLogo
from tests.conftest import Tenant
from tests.support.admin import add_user, form_token, sign_in
from tests.support.feeds import add_event, make_segment, subscribe

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10" fill="#c00"/></svg>'
GOOD_SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" '
    b'xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 20 20"><title>Acme</title>'
    b'<defs><linearGradient id="g"><stop offset="0" stop-color="#fff"/></linearGradient></defs>'
    b'<circle cx="10" cy="10" r="9" fill="url(#g)" style="stroke: url(#g)"/>'
    b'<use xlink:href="#g"/><text x="2" y="15">A</text></svg>'
)
HOSTILE_SVG = {
    "script": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "handler": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>',
    "foreign": b'<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><p xmlns="http://www.w3.org/1999/xhtml">x</p></foreignObject></svg>',
    "image": b'<svg xmlns="http://www.w3.org/2000/svg"><image href="https://tracker.example/p.png"/></svg>',
    "use outside": b'<svg xmlns="http://www.w3.org/2000/svg"><use href="https://evil.example/x.svg#a"/></svg>',
    "xlink js": b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><a xlink:href="javascript:alert(1)"><rect/></a></svg>',
    "use js": b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><use xlink:href="javascript:alert(1)"/></svg>',
    "style url": b'<svg xmlns="http://www.w3.org/2000/svg"><rect style="fill: url(https://tracker.example/x)"/></svg>',
    "style element": b'<svg xmlns="http://www.w3.org/2000/svg"><style>@import url(https://x.example/a.css);</style></svg>',
    "set href": b'<svg xmlns="http://www.w3.org/2000/svg"><set attributeName="href" to="javascript:alert(1)"/></svg>',
    "entities": b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]><svg xmlns="http://www.w3.org/2000/svg"><text>&b;</text></svg>',
    "external entity": b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>',
    "not svg": b'<html xmlns="http://www.w3.org/1999/xhtml"><body onload="alert(1)"/></html>',
    "no namespace": b"<svg><script>alert(1)</script></svg>",
    "broken": b'<svg xmlns="http://www.w3.org/2000/svg"><rect',
}


def png() -> bytes:
    out = io.BytesIO()
    segno.make("acme").save(out, kind="png", scale=4)
    return out.getvalue()


def test_good_logos_pass() -> None:
    for body, kind in ((png(), "image/png"), (GOOD_SVG, "image/svg+xml"),
                       (b"\xff\xd8\xff\xe0" + b"\0" * 100, "image/jpeg")):  # fmt: skip
        logo = check_logo(body, kind + "; charset=binary")
        assert logo.body == body and logo.content_type == kind and len(logo.digest) == 64


@pytest.mark.parametrize("name", sorted(HOSTILE_SVG))
def test_hostile_svg_is_refused_with_a_reason(name: str) -> None:
    with pytest.raises(BrandError) as refused:
        check_logo(HOSTILE_SVG[name], "image/svg+xml")
    assert refused.value.status == 422 and str(refused.value)


def test_size_type_and_content_are_checked() -> None:
    with pytest.raises(BrandError) as big:
        check_logo(b"\x89PNG\r\n\x1a\n" + b"\0" * LOGO_MAX_BYTES, "image/png")
    assert big.value.status == 413 and "at most 256 KiB" in str(big.value)
    with pytest.raises(BrandError) as kind:
        check_logo(png(), "image/gif")
    assert kind.value.status == 415
    with pytest.raises(BrandError, match="not a PNG"):
        check_logo(GOOD_SVG, "image/png")
    with pytest.raises(BrandError, match="not a JPEG"):
        check_logo(png(), "image/jpeg")
    with pytest.raises(BrandError, match="empty"):
        check_logo(b"", "image/png")


def test_the_brand_colour_keeps_text_readable() -> None:
    dark_blue, yellow = brand_css("#0D47A1"), brand_css("#FFEB3B")
    assert "--brand: #0d47a1; --on-brand: #ffffff" in dark_blue
    assert "not (prefers-color-scheme: dark) { :root { --accent: #0d47a1" in dark_blue
    assert "(prefers-color-scheme: dark) { :root { --accent: #0d47a1" not in dark_blue.replace(
        "not (prefers", ""
    )
    # Yellow is unreadable as text on white: it paints the button (with black text) only.
    assert "--on-brand: #000000" in yellow and "--accent: #ffeb3b" in yellow
    assert "not (prefers-color-scheme: dark)" not in yellow
    assert contrast("#ffffff", "#000000") == pytest.approx(21)
    with pytest.raises(BrandError):
        brand_css("red; } body { display: none")


async def _upload(
    client: TestClient,  # type: ignore[type-arg]
    body: bytes | None,
    kind: str = "image/png",
    **fields: str,
) -> tuple[int, str]:
    token = await form_token(client, "/admin/brand")
    form = FormData()
    form.add_field("csrf", token)
    for name, value in {"brand_color": "", "footer": "", **fields}.items():
        form.add_field(name, value)
    if body is not None:
        form.add_field("logo", body, filename="logo", content_type=kind)
    async with client.post("/admin/brand", data=form) as answer:
        return answer.status, await answer.text()


async def _stored(client: TestClient) -> tuple[Any, int]:  # type: ignore[type-arg]
    async with client.app[SESSIONS]() as session:
        workspace = await session.scalar(select(Workspace).where(Workspace.slug == "acme"))
        logos = await session.scalar(select(func.count()).select_from(WorkspaceLogo))
        return workspace, int(logos or 0)


@pytest.fixture
async def signed_in(client: TestClient, tenant: Tenant) -> Tenant:  # type: ignore[type-arg]
    await add_user(client, "acme")
    status, _, _ = await sign_in(client)
    assert status == 200
    return tenant


async def test_logo_is_served_with_a_strong_etag_and_a_long_cache(
    client: TestClient,  # type: ignore[type-arg]
    signed_in: Tenant,
) -> None:
    image = png()
    status, html = await _upload(client, image, brand_color="#0D47A1", footer="Acme LLC, Moscow")
    assert status == 200 and "Saved." in html
    url = re.search(r'src="(/brand/acme/logo-[0-9a-f]{16}\.png)"', html)
    assert url, html
    async with client.get(url.group(1)) as logo:
        assert logo.status == 200 and logo.content_type == "image/png"
        assert await logo.read() == image
        etag = logo.headers["ETag"]
        assert re.fullmatch(r'"[0-9a-f]{64}"', etag)  # strong: no W/
        assert logo.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert logo.headers["X-Content-Type-Options"] == "nosniff"
    async with client.get(url.group(1), headers={"If-None-Match": etag}) as again:
        assert again.status == 304 and await again.read() == b""
        assert again.headers["ETag"] == etag
    # A new logo is a new URL; the old one is gone.
    status, html = await _upload(client, SVG, "image/svg+xml", brand_color="#0d47a1")
    new = re.search(r'src="(/brand/acme/logo-[0-9a-f]{16}\.svg)"', html)
    assert status == 200 and new
    async with client.get(url.group(1)) as old:
        assert old.status == 404
    async with client.get(new.group(1)) as svg:
        assert svg.status == 200 and svg.content_type == "image/svg+xml"
        assert "sandbox" in svg.headers["Content-Security-Policy"]
    async with client.get("/brand/color/0d47a1.css") as css:
        assert css.status == 200 and css.content_type == "text/css"
        assert "--brand: #0d47a1" in await css.text()
        assert css.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        css_etag = css.headers["ETag"]
    async with client.get("/brand/color/0d47a1.css", headers={"If-None-Match": css_etag}) as css:
        assert css.status == 304


async def test_oversize_and_hostile_logos_are_refused_and_nothing_changes(
    client: TestClient,  # type: ignore[type-arg]
    signed_in: Tenant,
) -> None:
    assert (await _upload(client, png(), footer="Kept"))[0] == 200
    before, count = await _stored(client)
    for body, kind, message in (
        (b"\x89PNG\r\n\x1a\n" + b"\0" * LOGO_MAX_BYTES, "image/png", "at most 256 KiB"),
        (HOSTILE_SVG["script"], "image/svg+xml", "The SVG contains &lt;script&gt;"),
        (HOSTILE_SVG["handler"], "image/svg+xml", "event handler (onload)"),
        (HOSTILE_SVG["image"], "image/svg+xml", "&lt;image&gt;"),
    ):
        status, html = await _upload(client, body, kind, footer="Changed")
        assert status == 422 and message in html, (kind, html[-2000:])
        after, count_after = await _stored(client)
        assert (after.logo_digest, after.footer, count_after) == (before.logo_digest, "Kept", count)
    status, html = await _upload(client, None, brand_color="blue")
    assert status == 422 and "#RRGGBB" in html


async def test_brand_on_every_subscriber_page_and_the_csp_kept(
    client: TestClient,  # type: ignore[type-arg]
    signed_in: Tenant,
) -> None:
    await make_segment(signed_in.api)
    await add_event(signed_in.api, "news", title="Sale", start="2026-03-10T10:00:00")
    status, _ = await _upload(client, png(), brand_color="#0d47a1", footer="Acme LLC <legal>")
    assert status == 200
    links = await subscribe(signed_in.api, "acme", "news")
    token = links["unsubscribe_url"].rsplit("/", 1)[1]
    pages = ["/s/acme/news", f"/subscribed/{token}", f"/m/{token}", f"/u/{token}"]
    for path in pages:
        async with client.get(path, headers={"Accept": "text/html"}) as page:
            html = await page.text()
            assert page.status == 200, path
            assert re.search(r'<img src="/brand/acme/logo-[0-9a-f]{16}\.png" alt="acme shop"', html)
            assert '<link rel="stylesheet" href="/brand/color/0d47a1.css">' in html
            assert '<footer class="brand-footer">Acme LLC &lt;legal&gt;</footer>' in html
            csp = page.headers["Content-Security-Policy"]
            assert "default-src 'self'" in csp and "style-src 'self';" in csp
            assert "http" not in csp
    async with client.post(f"/u/{token}", headers={"Accept": "text/html"}) as done:
        assert "Acme LLC &lt;legal&gt;" in await done.text()
    # Removing the logo and the colour takes them off the pages.
    token_form = await form_token(client, "/admin/brand")
    form = FormData()
    for name, value in (("csrf", token_form), ("brand_color", ""), ("footer", ""),
                        ("remove_logo", "on")):  # fmt: skip
        form.add_field(name, value)
    async with client.post("/admin/brand", data=form) as answer:
        assert answer.status == 200
    async with client.get("/s/acme/news") as page:
        html = await page.text()
        assert "/brand/" not in html and "brand-footer" not in html
    workspace, count = await _stored(client)
    assert (workspace.logo_digest, workspace.brand_color, count) == (None, None, 0)
