"""CSRF protection for every dashboard form.

The token lives inside the signed, HttpOnly session cookie, and every form carries it
in a hidden field. Another site can make a browser send the cookie, but it cannot read
the token to put it in the form, so a POST without the matching token is refused.
"""

from __future__ import annotations

import hmac
import secrets

from aiohttp import web

from feeds.i18n import N_

FIELD = "csrf"
HEADER = "X-CSRF-Token"
REFUSED = N_(
    "This form did not come from this dashboard, or it has expired. Reload the page and try again."
)


def new_token() -> str:
    return secrets.token_urlsafe(32)


async def submitted_token(request: web.Request) -> str | None:
    """The token a POST carries, in its form body or in the X-CSRF-Token header."""
    if header := request.headers.get(HEADER):
        return header
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            form = await request.post()  # aiohttp keeps the parsed form for the handler
        except (UnicodeDecodeError, ValueError):
            raise web.HTTPBadRequest(text="The form is not UTF-8 text.") from None
        value = form.get(FIELD)
        return value if isinstance(value, str) else None
    return None


async def check(request: web.Request, expected: str | None) -> None:
    """Raise 403 unless the POST carries the session's token."""
    sent = await submitted_token(request)
    # Tokens are ASCII (token_urlsafe): anything else cannot match, and cannot be encoded.
    if not expected or not sent or not sent.isascii():
        raise web.HTTPForbidden(text=REFUSED)
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise web.HTTPForbidden(text=REFUSED)
