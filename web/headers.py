"""Security headers on every answer, set when it is prepared (error pages included).

Pages set their own CSP (web/subscribe.py, web/admin/render.py); any other HTML answer
(error pages, /api/docs) gets a strict one that allows inline styles only. Nothing calserver
serves is meant to be framed. The dicts are built once: the feed's hot path pays one update.
"""

from __future__ import annotations

from aiohttp import web

EVERY_ANSWER = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
HTML_DEFAULTS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' "
    "data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
}


async def security_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    headers = response.headers
    for name, value in EVERY_ANSWER.items():
        if name not in headers:
            headers[name] = value
    if response.content_type == "text/html":
        for name, value in HTML_DEFAULTS.items():
            if name not in headers:
                headers[name] = value
