"""/dav/: Radicale's WSGI application, run from aiohttp in its own bounded thread pool.

Everything that could hurt the server is settled on the event loop before Radicale sees
the request: the rate limit, the body size (read whole, at most caldav_max_body_bytes),
XML with a DOCTYPE (entity bombs), dot segments in the path, and the token — a request
without a valid one gets 401 at once, so Radicale's per-failure sleeps never run and a
burst of bad tokens cannot occupy the pool. After Radicale answers, the request counts as
a poll (200 when items were sent, 304 otherwise) and personal events sent are receipts.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import html
import io
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any, cast
from urllib.parse import unquote

import radicale.config
from aiohttp import web
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as DefusedET
from radicale.app import Application

from calserver.appkeys import CLOCK, CONFIG, LOOKUP, RECORDER, SIGNER
from calserver.links import FEED_PURPOSE, dav_username, manage_path
from calserver.ratelimit import RateLimiter
from feeds.ics import fold_link
from storage.davsync import sync_engine
from storage.families import family_of
from storage.lifecycle import ENDED
from web.dav import plugin
from web.dav.calendar import CalendarCache
from web.feed import local_day, settings_of, unlock_reward
from web.problems import OUTAGE, RETRY_AFTER
from web.subscribe import client_address

PREFIX = "/dav"
REALM = "calserver CalDAV"
_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
# Signed tokens look like PAYLOAD.SIGNATURE; they are cut out of Radicale's log lines.
_TOKEN = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{16,}")
# The REPORTs Radicale answers for a calendar; any other gets RFC 3253's 403 supported-report.
REPORTS = frozenset({
    "calendar-query", "calendar-multiget", "sync-collection", "free-busy-query",
    "expand-property", "principal-property-search", "principal-search-property-set",
})  # fmt: skip
_ROOT = re.compile(rb"^\s*(?:<\?.*?\?>\s*)?(?:<!--.*?-->\s*)*<(?:[\w.-]+:)?([\w.-]+)", re.S)
_UNSUPPORTED_REPORT = (
    b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<D:error xmlns:D="DAV:"><D:supported-report/></D:error>'
)
_COMPRESS_MIN_BYTES = 1024
# XML bodies are read by expat before Radicale sees them: nesting and the number of filters
# bound the work Radicale's (recursive) filter evaluation may do.
MAX_XML_DEPTH = 32
MAX_XML_ELEMENTS = 20_000
MAX_FILTERS = 64
_FILTERS = frozenset(
    "{urn:ietf:params:xml:ns:caldav}" + name
    for name in ("comp-filter", "prop-filter", "param-filter", "text-match", "time-range")
)
_HOP_BY_HOP = {"content-length", "connection", "transfer-encoding", "keep-alive"}


class _RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _TOKEN.sub("[token]", record.getMessage())
        record.args = ()
        return True


def _radicale_configuration(context: plugin.DavContext, max_body: int) -> Any:
    configuration = radicale.config.load()

    def bound(cls: Any) -> Any:
        return lambda conf: cls(conf)

    configuration.update(
        {
            "server": {"max_content_length": str(max_body), "delay_on_error": "0",
                       "max_resource_size": str(max_body * 8 // 10)},
            "auth": {"type": bound(plugin.Auth), "delay": "0", "cache_logins": "False",
                     "realm": REALM},
            "rights": {"type": bound(plugin.Rights), "permit_delete_collection": "False",
                       "permit_overwrite_collection": "False"},
            "storage": {"type": bound(plugin.Storage)},
            "web": {"type": "none"},
            "logging": {"mask_passwords": "True"},
        },
        "calserver",
        privileged=True,
    )  # fmt: skip
    return configuration


class DavServer:
    """Radicale and what its requests need; one per application."""

    def __init__(self, app: web.Application) -> None:
        config = app[CONFIG]
        self.signer, self.clock, self.recorder = app[SIGNER], app[CLOCK], app[RECORDER]
        self.lookup = app[LOOKUP]
        self.base_url = config.base_url
        self.max_body = config.caldav_max_body_bytes
        self.limiter = RateLimiter(config.caldav_rate_limit)
        self.pool = ThreadPoolExecutor(config.caldav_threads, thread_name_prefix="calserver-dav")
        # Queries that evaluate filters or expand occurrences have their own lane, so a burst
        # of expensive ones waits for itself and never holds up other clients' syncs.
        self.query_pool = ThreadPoolExecutor(
            max(1, config.caldav_threads // 4), thread_name_prefix="calserver-dav-query"
        )
        self.engine = sync_engine(config, config.caldav_threads)
        self.context = plugin.DavContext(
            self.engine, settings_of(app), self.clock, CalendarCache(config.feed_cache_entries)
        )
        self.radicale = Application(_radicale_configuration(self.context, self.max_body))
        self.app = app

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.query_pool.shutdown(wait=True, cancel_futures=True)
        self.engine.dispose()


DAV = web.AppKey("dav", DavServer)


async def dav_server(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: Radicale's pool and synchronous engine live as long as the app."""
    logger = logging.getLogger("radicale")
    if not any(isinstance(f, _RedactTokens) for f in logger.filters):
        logger.addFilter(_RedactTokens())
    # Radicale logs every request path (which holds the token) at INFO.
    logger.setLevel(max(logging.WARNING, logger.getEffectiveLevel()))
    server = DavServer(app)
    app[DAV] = server
    yield
    await asyncio.get_running_loop().run_in_executor(None, server.close)


@lru_cache(maxsize=65536)
def _link(base_url: str, token: str) -> str:
    return fold_link(base_url + manage_path(token))


def _basic(header: str) -> tuple[str, str] | None:
    if not header.lower().startswith("basic "):
        return None
    try:
        login, _, password = (
            base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        return None
    return login, password


def _unauthorized() -> web.Response:
    return web.Response(
        status=401, text="A valid calendar token is needed.",
        headers={"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'},
    )  # fmt: skip


def _environ(request: web.Request, path: str, body: bytes, authorization: str) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": PREFIX,
        "PATH_INFO": path,
        "QUERY_STRING": request.query_string,
        "SERVER_PROTOCOL": f"HTTP/{request.version.major}.{request.version.minor}",
        "SERVER_NAME": request.url.host or "localhost",
        "SERVER_PORT": str(request.url.port or 80),
        "REMOTE_ADDR": "",  # addresses are not logged
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": request.headers.get("Content-Type", ""),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": request.url.scheme,
        "wsgi.errors": io.StringIO(),
    }
    for name, value in request.headers.items():
        key = "HTTP_" + name.upper().replace("-", "_")
        # Compression is aiohttp's (large answers only): Radicale would gzip every answer.
        if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH", "HTTP_AUTHORIZATION",
                       "HTTP_ACCEPT_ENCODING"):  # fmt: skip
            environ[key] = value
    if authorization:
        environ["HTTP_AUTHORIZATION"] = authorization
    return environ


def _run(server: DavServer, environ: dict[str, Any], dav: plugin.DavRequest | None) -> tuple[int, list[tuple[str, str]], bytes]:  # fmt: skip
    """In a pool thread: one Radicale request."""
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [int(status.split(" ", 1)[0]), headers]
        return lambda data: None

    if dav is None:
        chunks = server.radicale(environ, start_response)
    else:
        with plugin.serving(dav):
            chunks = server.radicale(environ, start_response)
    return started[0], started[1], b"".join(chunks)


class DavHandler:
    async def _body(self, request: web.Request, server: DavServer) -> bytes | web.Response:
        if (request.content_length or 0) > server.max_body:
            return web.Response(status=413, text="Request body too large.")
        chunks: list[bytes] = []
        size = 0
        while chunk := await request.content.read(server.max_body + 1 - size):
            chunks.append(chunk)
            size += len(chunk)
            if size > server.max_body:  # a body without a length, longer than allowed
                return web.Response(status=413, text="Request body too large.")
        body = b"".join(chunks)
        if b"\x00" in body:  # UTF-16 or -32: the DOCTYPE check below would not see one
            return web.Response(status=400, text="Request bodies must be UTF-8.")
        if _DOCTYPE.search(body):
            return web.Response(status=400, text="XML with a DOCTYPE or entities is refused.")
        if body.strip() and (refused := _xml_too_big(body)):
            return web.Response(status=400, text=refused)
        if request.method == "REPORT":
            root = _ROOT.match(body)
            if root is None or root.group(1).decode() not in REPORTS:
                return web.Response(
                    status=403, body=_UNSUPPORTED_REPORT,
                    content_type="application/xml", charset="utf-8",
                )  # fmt: skip
        return body

    async def _who(self, request: web.Request, server: DavServer, path: str) -> tuple[plugin.DavRequest | None, str] | web.Response:  # fmt: skip
        """The verified token (from Basic auth, or the first path segment)."""
        header = request.headers.get("Authorization", "")
        credentials = _basic(header) if header else None
        first = path.strip("/").split("/", 1)[0]
        if credentials is not None:
            token = credentials[1]
        elif header:
            return _unauthorized()
        elif first:
            token = first
        else:
            # Discovery without credentials: ask for them (OPTIONS needs none).
            return (None, "") if request.method == "OPTIONS" else _unauthorized()
        payload = server.signer.verify(FEED_PURPOSE, token)
        if type(payload) is not int:
            return _unauthorized()
        poll = await server.lookup.view(payload)
        if poll is None:  # a validly signed token of a deleted subscription
            return _unauthorized()
        if poll.reward_pending and poll.status not in ENDED:
            # Only a calendar app signs in to CalDAV with the token: a reward is earned here
            # as by a calendar app's first feed fetch.
            poll = await unlock_reward(server.app, server.lookup, poll, server.clock.now())
        authorization = header or "Basic " + base64.b64encode(f"{token}:{token}".encode()).decode()
        dav = plugin.DavRequest(
            server.context, token, dav_username(token), _link(server.base_url, token), poll,
            server.clock.now(), manage_url=server.base_url + manage_path(token),
        )  # fmt: skip
        return dav, authorization

    async def handle(self, request: web.Request) -> web.StreamResponse:
        server = request.app[DAV]
        if not server.limiter.allow(client_address(request)):
            return web.Response(
                status=429, text="Too many requests.", headers={"Retry-After": "60"}
            )
        raw = request.raw_path.split("?", 1)[0][len(PREFIX) :]
        path = unquote(raw) or "/"
        if any(part in ("..", ".") or "\\" in part for part in path.split("/")):
            return web.Response(status=400, text="Bad path.")
        who = await self._who(request, server, path)
        if isinstance(who, web.Response):
            return who
        dav, authorization = who
        body = await self._body(request, server)
        if isinstance(body, web.Response):
            return body
        if dav is not None and (unchanged := _unchanged_sync(request.method, path, body, dav)):
            # The most frequent CalDAV request — "anything new?" with nothing new — answered
            # here as Radicale would, without a pool thread or Radicale's request machinery.
            self._record(request, server, dav, 207, sent_data=False)
            return web.Response(
                status=207, body=unchanged, content_type="text/xml", charset="utf-8"
            )
        environ = _environ(request, path, body, authorization)
        loop = asyncio.get_running_loop()
        pool = server.query_pool if _is_query(request.method, body) else server.pool
        status, headers, answer = await loop.run_in_executor(pool, _run, server, environ, dav)
        if dav is not None and dav.database_down and status >= 500:
            return web.Response(status=503, text=OUTAGE, headers={"Retry-After": RETRY_AFTER})
        if dav is not None:
            self._record(request, server, dav, status, _sends_data(request.method, body))
        out = {name: value for name, value in headers if name.lower() not in _HOP_BY_HOP}
        response = web.Response(status=status, body=answer, headers=out)
        if len(answer) >= _COMPRESS_MIN_BYTES:
            response.enable_compression()  # only if the client accepts an encoding
        return response

    def _record(self, request: web.Request, server: DavServer, dav: plugin.DavRequest, status: int,
                sent_data: bool) -> None:  # fmt: skip
        """A CalDAV request is a poll; personal events whose data it sent are delivered."""
        poll = dav.poll
        if status >= 400:
            return
        family = family_of(request.headers.get("User-Agent", ""))
        now = dav.now
        day = local_day(now, poll.workspace_timezone)
        polled = 200 if dav.served_items else 304
        server.recorder.poll(
            poll.subscription_id, poll.workspace_id, day, now, polled, family, "caldav"
        )
        if dav.personal and sent_data:
            server.recorder.receipts(tuple(sorted(dav.personal)), now, family)


def _xml_too_big(body: bytes) -> str | None:
    """Why an XML body is refused (too deep, too many elements or filters), or None; bodies
    that are not XML are left to Radicale, which answers them 400."""
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
    depth = elements = filters = 0
    try:
        for offset in range(0, len(body), 65536):
            parser.feed(body[offset : offset + 65536])
            for event, found in parser.read_events():  # type: ignore[misc]
                element = cast(ET.Element, found)
                if event == "end":
                    depth -= 1
                    element.clear()
                    continue
                depth, elements = depth + 1, elements + 1
                filters += element.tag in _FILTERS
                if depth > MAX_XML_DEPTH:
                    return f"XML nested deeper than {MAX_XML_DEPTH} elements is refused."
                if elements > MAX_XML_ELEMENTS or filters > MAX_FILTERS:
                    return (
                        f"XML with more than {MAX_XML_ELEMENTS} elements or {MAX_FILTERS} "
                        "filters is refused."
                    )
    except ET.ParseError:
        return None
    return None


def _unchanged_sync(method: str, path: str, body: bytes, dav: plugin.DavRequest) -> bytes | None:
    """Radicale's answer to a sync-collection REPORT on this request's calendar whose token
    says nothing changed; None for every other request (Radicale answers those)."""
    if method != "REPORT" or path.rstrip("/") != f"/{dav.token}/{plugin.CALENDAR}":
        return None
    try:
        root = DefusedET.fromstring(body)  # as Radicale parses it
    except (ET.ParseError, DefusedXmlException):
        return None
    old = root.findtext("{DAV:}sync-token") if root.tag == "{DAV:}sync-collection" else None
    if not old:
        return None
    try:
        _, unchanged = plugin.read_sync_token(dav, old.strip())
    except ValueError:
        return None  # Radicale answers 403 valid-sync-token
    if not unchanged:
        return None
    return _NO_CHANGE.replace(b"TOKEN", html.escape(old.strip()).encode())


_NO_CHANGE = (
    b"<?xml version='1.0' encoding='utf-8'?>\n"
    b'<multistatus xmlns="DAV:"><sync-token>TOKEN</sync-token></multistatus>'
)


def _is_query(method: str, body: bytes) -> bool:
    """A REPORT that evaluates filters (time ranges, text) or expands recurrences."""
    if method != "REPORT":
        return False
    root = _ROOT.match(body)
    return root is not None and root.group(1) in (b"calendar-query", b"free-busy-query")


def _sends_data(method: str, body: bytes) -> bool:
    """A GET, or a REPORT asking for calendar-data: an ETag listing is not a delivery."""
    return method == "GET" or (method == "REPORT" and b"calendar-data" in body)


async def well_known(request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently(PREFIX + "/")
