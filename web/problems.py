"""RFC 9457 problem details for the API, readable pages for people."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from aiohttp import web
from markupsafe import escape
from sqlalchemy.orm.exc import StaleDataError

from calserver.appkeys import CONFIG
from calserver.validation import FieldErrors
from feeds.i18n import DEFAULT_LANGUAGE, N_, supported, texts
from storage.errors import Conflict, NotFound, unavailable
from web.accesslog import redact
from web.language import ADMIN_COOKIE, LANGUAGE_KEY, choose, remember

log = logging.getLogger(__name__)
OUTAGE = N_("The database cannot be reached right now; try again shortly.")
RETRY_AFTER = "30"  # seconds
PROBLEM_TYPE_BASE = "urn:calserver:problem:"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_SLUGS = {
    400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
    405: "method-not-allowed", 406: "not-acceptable", 409: "conflict",
    413: "body-too-large", 415: "unsupported-media-type", 422: "invalid-fields",
    429: "too-many-requests", 500: "internal-error", 503: "unavailable",
}  # fmt: skip


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: list[tuple[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + _SLUGS.get(status, str(status)),
        "title": title or _reason(status),
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = [
            {"pointer": "#" + pointer, "detail": message} for pointer, message in errors
        ]
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type="application/problem+json",
        headers=headers,
    )


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


PAGE_PREFIXES = ("/s/", "/p/", "/u/", "/m/", "/subscribed/", "/admin")


def wants_page(request: web.Request) -> bool:
    """People get pages; the API and machines get problem+json."""
    accept = request.headers.get("Accept", "")
    if request.path.startswith("/api/") or "application/json" in accept:
        return False
    if request.content_type == "application/json":  # a program posting JSON (subscribe)
        return False
    return request.path.startswith(PAGE_PREFIXES) or "text/html" in accept


# What a person's error page says, by status (the API's problems keep HTTP's own phrases).
PAGE_HEADINGS = {
    400: N_("Bad request"), 401: N_("Sign-in needed"), 403: N_("Access denied"),
    404: N_("Page not found"), 405: N_("This action is not supported here"),
    409: N_("Conflict"), 410: N_("This link no longer works"), 413: N_("Too much data"),
    415: N_("Unsupported data"), 422: N_("Some fields need fixing"),
    429: N_("Too many requests"), 500: N_("Server error"), 503: N_("Service unavailable"),
}  # fmt: skip
SOMETHING_WRONG = N_("Something went wrong")
SOME_FIELDS = N_("Some fields are invalid.")
SERVER_FAILED = N_("The server failed to answer; the error is logged.")
REMOVED_MEANWHILE = N_("Another request removed this at the same time.")


def error_page(
    status: int,
    detail: str,
    headers: dict[str, str] | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> web.Response:
    """A small page in the person's language. A detail with no translation is left out of
    a page in another language than the default: a Russian reader never meets English."""
    t = texts(language)
    heading = t.gettext(PAGE_HEADINGS.get(status, SOMETHING_WRONG))
    translated = t.catalog.gettext(detail)
    if translated == detail and t.language != DEFAULT_LANGUAGE and detail:
        translated = ""
    html = (
        f"<!doctype html><html lang={t.language}><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{status} {escape(heading)}</title>"
        "<body style='font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem'>"
        f"<h1>{escape(heading)}</h1><p>{escape(translated)}</p></body></html>"
    )
    return web.Response(status=status, text=html, content_type="text/html", headers=headers)


def _page_language(request: web.Request) -> str:
    chosen = request.get(LANGUAGE_KEY)
    if chosen is None and request.path.startswith("/admin"):
        # The dashboard's own switch, as its pages read it.
        chosen = supported(request.query.get("lang")) or supported(
            request.cookies.get(ADMIN_COOKIE)
        )
    return chosen or choose(request, request.app[CONFIG].language)


def _answer(request: web.Request, status: int, detail: str, **kwargs: Any) -> web.Response:
    if wants_page(request):
        page = error_page(status, detail, kwargs.get("headers"), _page_language(request))
        remember(request, page)
        return page
    return problem(status, detail, **kwargs)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except FieldErrors as error:
        return _answer(request, error.status, SOME_FIELDS, errors=error.errors)
    except NotFound as error:
        return _answer(request, 404, str(error))
    except Conflict as error:
        return _answer(request, 409, str(error))
    except StaleDataError:
        # A change to a row another request deleted meanwhile (a trigger whose contact was
        # erased while it was being patched): it is gone, as a read a moment later would say.
        return _answer(request, 404, REMOVED_MEANWHILE)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        headers = {
            k: v
            for k, v in error.headers.items()
            if k in ("Allow", "Retry-After", "WWW-Authenticate")
        }
        detail = (
            error.text
            if error.text and not error.text.startswith(f"{error.status}:")
            else error.reason
        )
        return _answer(request, error.status, detail, headers=headers)
    except Exception as error:
        if unavailable(error):  # an outage, not a bug: the client should simply retry
            log.warning("database unavailable on %s: %s", request.method, error)
            return _answer(request, 503, OUTAGE, headers={"Retry-After": RETRY_AFTER})
        log.exception("unhandled error on %s %s", request.method, redact(request.path))
        return _answer(request, 500, SERVER_FAILED)
