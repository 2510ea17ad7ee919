"""POST /api/v1/links: a personalized subscribe link that binds the subscription to a contact."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from calserver.appkeys import CLOCK, CONFIG, SIGNER
from calserver.links import LINK_PURPOSE
from calserver.validation import Checker
from storage import segments as segment_store
from storage.contacts import contact_for
from web.api.common import json_response, read_json_object, transaction, workspace_of
from web.api.contacts import EXTERNAL_ID
from web.subscribe import SRC_RE

LINK_FIELDS = {"external_id", "segments", "src", "expires_in", "create_contact"}
DEFAULT_EXPIRY = 30 * 86400
MAX_EXPIRY = 366 * 86400
MAX_SEGMENTS = 20


def _parse(body: dict[str, Any]) -> tuple[str, list[str], str, int, bool]:
    c = Checker(body)
    c.unknown_fields(LINK_FIELDS)
    external_id = c.text("external_id", max_length=200, required=True)
    if external_id and not EXTERNAL_ID.match(external_id):
        c.fail("external_id", "use 1-200 letters, digits and . _ : @ -")
    slugs = body.get("segments")
    if not isinstance(slugs, list) or not slugs or not all(isinstance(s, str) for s in slugs):
        c.fail("segments", "give a non-empty list of segment slugs")
        slugs = []
    elif len(slugs) > MAX_SEGMENTS:
        c.fail("segments", f"at most {MAX_SEGMENTS} segments")
    src = c.text("src", max_length=32) or ""
    if src and not SRC_RE.match(src):
        c.fail("src", "use 1-32 lowercase letters, digits, _ or -")
    expires = body.get("expires_in", DEFAULT_EXPIRY)
    if isinstance(expires, bool) or not isinstance(expires, int) or not 60 <= expires <= MAX_EXPIRY:
        c.fail("expires_in", f"seconds from 60 to {MAX_EXPIRY}")
        expires = DEFAULT_EXPIRY
    create = bool(c.boolean("create_contact"))
    c.done()
    return str(external_id), list(dict.fromkeys(slugs)), src, int(expires), create


async def create(request: web.Request) -> web.Response:
    external_id, slugs, src, expires_in, create_contact = _parse(await read_json_object(request))
    workspace = workspace_of(request)
    now = request.app[CLOCK].now()
    async with transaction(request) as session:
        contact = await contact_for(session, workspace.id, external_id, create_contact, now)
        segment_ids = [
            (await segment_store.get_segment(session, workspace.id, slug)).id for slug in slugs
        ]
    expires_at = now + timedelta(seconds=expires_in)
    payload = {
        "w": workspace.id,
        "c": contact.id,
        "s": segment_ids,
        "r": src,
        "x": int(expires_at.timestamp()),
    }
    token = request.app[SIGNER].sign(LINK_PURPOSE, payload)
    url = f"{request.app[CONFIG].base_url}/p/{token}"
    return json_response(
        {
            "url": url,
            "qr_svg_url": url + "/qr.svg",
            "qr_png_url": url + "/qr.png",
            "expires_at": expires_at.isoformat(),
        },
        status=201,
    )
