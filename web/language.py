"""Which language a person's page speaks (docs/languages.md).

In order: ``?lang=`` (the page's language switch links carry it, and the answer keeps it in
a cookie), then that cookie, then the browser's ``Accept-Language`` by its q-values, then
the default of whatever is shown (a segment's, its workspace's, or the server's).
"""

from __future__ import annotations

from aiohttp import web

from feeds.i18n import language_name, languages, supported

COOKIE = "lang"
ADMIN_COOKIE = "admin_lang"  # the dashboard's own switch (web/admin/render.py)
COOKIE_MAX_AGE = 365 * 86400
LANGUAGE_KEY = web.RequestKey("language", str)
# Pages in several languages: shared caches must keep them apart.
VARY = "Accept-Language, Cookie"


def from_accept_language(header: str) -> str | None:
    """The best supported language of an Accept-Language header (RFC 9110 12.5.4)."""
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")[:50]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        language = supported(tag)
        if language and 0 < quality <= 1:
            ranked.append((-quality, index, language))
    return min(ranked)[2] if ranked else None


def explicit(request: web.Request) -> str | None:
    """A choice the person made: ``?lang=`` first, then the switch's cookie."""
    return supported(request.query.get("lang")) or supported(request.cookies.get(COOKIE))


def choose(request: web.Request, default: str | None = None) -> str:
    """The page's language; also remembered on the request for the error page and the cookie."""
    language = (
        explicit(request)
        or from_accept_language(request.headers.get("Accept-Language", ""))
        or supported(default)
        or languages()[0]
    )
    request[LANGUAGE_KEY] = language
    return language


def remember(request: web.Request, response: web.StreamResponse) -> None:
    """Keep a ``?lang=`` choice in a cookie, so the next page (and the form's POST) speak it."""
    response.headers["Vary"] = VARY
    language = request.get(LANGUAGE_KEY)
    if language:
        response.headers["Content-Language"] = language
    chosen = supported(request.query.get("lang"))
    if chosen and chosen != supported(request.cookies.get(COOKIE)):
        response.set_cookie(
            COOKIE, chosen, max_age=COOKIE_MAX_AGE, path="/", httponly=True, samesite="Lax",
            secure=request.secure,
        )  # fmt: skip


def switch(request: web.Request, current: str) -> list[tuple[str, str, str]]:
    """(code, own name, link) of every other language: the page's language switch."""
    links = []
    for code in languages():
        if code != current:
            query = {**request.query, "lang": code}
            links.append((code, language_name(code), str(request.rel_url.with_query(query))))
    return links
