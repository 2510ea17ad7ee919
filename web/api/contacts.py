"""/api/v1/contacts/{external_id}: PUT (create or replace), GET, DELETE (erase)."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from calserver.appkeys import CLOCK
from calserver.validation import Checker
from storage.contacts import erase_contact, get_contact, put_contact
from storage.models import Contact
from web.api.common import json_response, read_json_object, transaction, workspace_of
from web.api.languages import language_field

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
EMAIL = re.compile(
    r"^[^@\s\x00-\x1f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
TELEGRAM_CHAT = re.compile(r"^-?\d{1,20}$")
EXTERNAL_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,200}$")
MAX_ATTRIBUTES_BYTES = 16_384
CONTACT_FIELDS = {
    "phone",
    "email",
    "telegram_chat_id",
    "timezone",
    "locale",
    "attributes",
    "opt_out",
}
MAX_OPT_OUT = 16
CHANNEL_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


def contact_json(contact: Contact) -> dict[str, Any]:
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
    if not EXTERNAL_ID.match(external_id):
        raise web.HTTPNotFound(text="external ids are 1-200 letters, digits and . _ : @ -")
    return external_id


def parse_contact(body: dict[str, Any]) -> dict[str, Any]:
    c = Checker(body)
    c.unknown_fields(CONTACT_FIELDS)
    fields: dict[str, Any] = {}
    phone = c.text("phone", max_length=16)
    if phone is not None and not E164.match(phone):
        c.fail("phone", "use E.164: + then country code and number, digits only, e.g. +79161234567")
    fields["phone"] = phone
    email = c.text("email", max_length=254)
    if email is not None and not EMAIL.match(email):
        c.fail("email", "is not an e-mail address")
    fields["email"] = email.lower() if email else None
    chat = body.get("telegram_chat_id")
    if isinstance(chat, int) and not isinstance(chat, bool):
        chat = str(chat)
    if chat is not None and not (isinstance(chat, str) and TELEGRAM_CHAT.match(chat)):
        c.fail("telegram_chat_id", "is a Telegram chat id: a whole number")
    fields["telegram_chat_id"] = chat
    fields["timezone"] = c.timezone("timezone")
    fields["locale"] = language_field(c, "locale", nullable=True)
    attributes = body.get("attributes", {})
    if not isinstance(attributes, dict):
        c.fail("attributes", "must be an object")
    elif len(json.dumps(attributes)) > MAX_ATTRIBUTES_BYTES:
        c.fail("attributes", f"must be at most {MAX_ATTRIBUTES_BYTES} bytes of JSON")
    fields["attributes"] = attributes if isinstance(attributes, dict) else {}
    opt_out = body.get("opt_out", [])
    if (
        not isinstance(opt_out, list)
        or len(opt_out) > MAX_OPT_OUT
        or not all(isinstance(name, str) and CHANNEL_NAME.match(name) for name in opt_out)
    ):
        c.fail("opt_out", f'must be a list of at most {MAX_OPT_OUT} channel names, e.g. ["sms"]')
    fields["opt_out"] = sorted(set(opt_out)) if isinstance(opt_out, list) else []
    c.done()
    return fields


async def put(request: web.Request) -> web.Response:
    external_id = external_id_of(request)
    fields = parse_contact(await read_json_object(request))
    async with transaction(request) as session:
        contact, created = await put_contact(
            session, workspace_of(request).id, external_id, fields, request.app[CLOCK].now()
        )
        return json_response(contact_json(contact), status=201 if created else 200)


async def get(request: web.Request) -> web.Response:
    external_id = external_id_of(request)
    async with transaction(request) as session:
        contact = await get_contact(session, workspace_of(request).id, external_id)
        return json_response(contact_json(contact))


async def delete(request: web.Request) -> web.Response:
    external_id = external_id_of(request)
    async with transaction(request) as session:
        await erase_contact(
            session, await get_contact(session, workspace_of(request).id, external_id)
        )
    return web.Response(status=204)
