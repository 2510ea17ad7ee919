"""/api/v1/contacts/{external_id}: PUT (create or replace), GET, DELETE (erase)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from calserver.appkeys import CLOCK
from calserver.shapes.crm import Contact, ContactInput
from calserver.shapes.fields import EXTERNAL_ID_RE, check_body
from storage.contacts import erase_contact, get_contact, put_contact
from storage.models import Contact as ContactRow
from web.api.common import json_response, read_json_object, transaction, workspace_of


def contact_json(contact: ContactRow) -> dict[str, Any]:
    return {
        "external_id": contact.external_id,
        "phone": contact.phone,
        "email": contact.email,
        "telegram_chat_id": contact.telegram_chat_id,
        "timezone": contact.timezone,
        "locale": contact.locale,
        "attributes": contact.attributes,
        "opt_out": list(contact.opt_out or []),
        "created_at": contact.created_at.isoformat(),
        "updated_at": contact.updated_at.isoformat(),
    }


def external_id_of(request: web.Request) -> str:
    external_id = request.match_info["external_id"]
    if not EXTERNAL_ID_RE.fullmatch(external_id):
        raise web.HTTPNotFound(text="external ids are 1-200 letters, digits and . _ : @ -")
    return external_id


def parse_contact(body: Any) -> dict[str, Any]:
    """A contact's columns from a PUT body, or FieldErrors."""
    fields = check_body(ContactInput, body).model_dump()
    if isinstance(fields["telegram_chat_id"], int):
        fields["telegram_chat_id"] = str(fields["telegram_chat_id"])
    if fields["email"]:
        fields["email"] = fields["email"].lower()
    fields["opt_out"] = sorted(set(fields["opt_out"]))
    return fields


async def put(request: web.Request) -> web.Response:
    external_id = external_id_of(request)
    fields = parse_contact(await read_json_object(request))
    async with transaction(request) as session:
        contact, created = await put_contact(
            session, workspace_of(request).id, external_id, fields, request.app[CLOCK].now()
        )
        return json_response(Contact, contact_json(contact), status=201 if created else 200)


async def get(request: web.Request) -> web.Response:
    external_id = external_id_of(request)
    async with transaction(request) as session:
        contact = await get_contact(session, workspace_of(request).id, external_id)
        return json_response(Contact, contact_json(contact))


async def delete(request: web.Request) -> web.Response:
    external_id = external_id_of(request)
    async with transaction(request) as session:
        await erase_contact(
            session, await get_contact(session, workspace_of(request).id, external_id)
        )
    return web.Response(status=204)
