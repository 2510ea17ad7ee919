"""POST /api/v1/links: a personalized subscribe link that binds the subscription to a contact."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from calserver.appkeys import CLOCK, CONFIG, SIGNER
from calserver.links import LINK_PURPOSE
from calserver.shapes.crm import Link, LinkInput
from calserver.shapes.fields import check_body
from storage import segments as segment_store
from storage.contacts import contact_for
from web.api.common import json_response, read_json_object, transaction, workspace_of


def _parse(body: Any) -> tuple[str, list[str], str, int, bool]:
    link = check_body(LinkInput, body)
    slugs = list(dict.fromkeys(link.segments))
    return link.external_id, slugs, link.src or "", link.expires_in, link.create_contact


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
        Link,
        {
            "url": url,
            "qr_svg_url": url + "/qr.svg",
            "qr_png_url": url + "/qr.png",
            "expires_at": expires_at.isoformat(),
        },
        status=201,
    )
