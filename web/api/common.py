"""Helpers shared by the API handlers: body reading, authentication, transactions."""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from calserver.appkeys import CHECK_POOL, CLOCK, CONFIG, LOOKUP, SESSIONS, WORKSPACE
from calserver.shapes.fields import check_body
from calserver.shapes.queries import Query, id_in_path
from calserver.validation import FieldErrors
from feeds.i18n import say
from storage.lookup import WorkspaceRow
from storage.workspaces import KEY_PREFIX, LAST_USED_RESOLUTION, hash_key, touch_key
from web.problems import Handler

T = TypeVar("T")
Q = TypeVar("Q", bound=Query)
# Expanding a recurrence rule stops by itself (feeds/recurrence.py caps dateutil's walk);
# the deadline still answers a client that waited long enough.
CPU_CHECK_TIMEOUT = 2.0
PUBLIC_API_PATHS = {"/api/v1/openapi.json"}


MAX_JSON_DEPTH = 32
# A JSON escape of a UTF-16 surrogate: valid only as half of a pair, which Python joins.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object, or a 400/413 problem."""
    raw = await request.read()  # aiohttp raises 413 past client_max_size
    if not raw.strip():
        raise web.HTTPBadRequest(text="The request body is empty; send a JSON object.")
    return parse_json_object(raw)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """UTF-8 JSON holding an object, nested at most 32 deep, with valid Unicode strings and
    finite numbers; anything else is a 400 that says what is wrong."""
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_no_constant, parse_float=_number)
    except RecursionError:
        body = None  # deeper than Python's own stack: refused below like any deep body
        _too_deep()
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="The request body must be a JSON object.")
    # Cheap guards first: a body with few brackets and no surrogate escape needs no walk.
    deep = raw.count(b"{") + raw.count(b"[") > MAX_JSON_DEPTH
    if deep or _SURROGATE_ESCAPE.search(raw):
        _inspect(body, 1)
    return body


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _number(text: str) -> float | int:
    """JSON has one number type: 60.0 is the integer 60 (as JSON Schema says); a number
    too large for a float is refused, not read as infinity."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is out of range")
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _too_deep() -> None:
    raise web.HTTPBadRequest(text=f"The request body nests deeper than {MAX_JSON_DEPTH} levels.")


def _inspect(node: Any, depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        _too_deep()
    if isinstance(node, str):
        try:
            node.encode("utf-8")
        except UnicodeEncodeError:
            raise web.HTTPBadRequest(
                text="The request body holds a lone UTF-16 surrogate (\\ud800-\\udfff); "
                "strings must be valid Unicode."
            ) from None
    elif isinstance(node, dict):
        for key, value in node.items():
            _inspect(key, depth)
            _inspect(value, depth + 1)
    elif isinstance(node, list):
        for item in node:
            _inspect(item, depth + 1)


def json_response(
    shape: type[BaseModel], data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """An answer through its declared shape (calserver/shapes/): what the document says is
    what is sent, and pydantic's serializer writes it (no slower than json.dumps)."""
    body = shape.model_validate(data).model_dump_json(by_alias=True, exclude_unset=True)
    return web.Response(text=body, status=status, headers=headers, content_type="application/json")


@asynccontextmanager
async def transaction(request: web.Request) -> AsyncIterator[AsyncSession]:
    """One transaction per change: it commits whole or, on any error, leaves nothing behind."""
    async with request.app[SESSIONS].begin() as session:
        yield session


def workspace_of(request: web.Request) -> WorkspaceRow:
    return request[WORKSPACE]


async def run_cpu_check(request: web.Request, func: Callable[..., T], *args: Any) -> T:
    """Run a CPU-heavy validation off the event loop (not in the rendering pool), with a deadline."""
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(request.app[CHECK_POOL], func, *args)
    try:
        return await asyncio.wait_for(future, CPU_CHECK_TIMEOUT)
    except TimeoutError:
        raise FieldErrors(
            [("/rrule", say("the rule takes too long to expand; simplify it"))]
        ) from None


def id_of(request: web.Request, name: str, what: str) -> int:
    """The id in the path, or 404: ids are ASCII digits within 64 bits (a "²" or a number
    past 2**63 is no id, not an error of the server)."""
    raw = request.match_info[name]
    value = id_in_path(raw)
    if value is None:
        raise web.HTTPNotFound(text=f"no {what} {raw[:40]!r}")
    return value


class BadQuery(FieldErrors):
    """A bad query string: 400, every error named; ``pointer`` and ``message`` are the
    first one's (the dashboard shows it next to its field)."""

    def __init__(self, errors: list[tuple[str, str]]):
        super().__init__(errors, status=400)
        self.pointer, self.message = errors[0][0].lstrip("/"), errors[0][1]


def query_of(request: web.Request, model: type[Q], *, form: bool = False) -> Q:
    """The query string as ``model``; a dashboard form's empty fields count as left out."""
    raw = {k: v for k, v in request.query.items() if not (form and v == "")}
    try:
        return check_body(model, raw)
    except FieldErrors as error:
        raise BadQuery(error.errors) from None


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    return key.strip() if scheme.lower() == "bearer" and key.strip() else None


@web.middleware
async def api_auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/api/v1/") or request.path in PUBLIC_API_PATHS:
        return await handler(request)
    key = _bearer(request)
    challenge = {"WWW-Authenticate": 'Bearer realm="calserver"'}
    if key is None:
        raise web.HTTPUnauthorized(
            text="Send an admin API key: Authorization: Bearer KEY.", headers=challenge
        )
    # One prepared statement on the lookup's own connection: every API call pays for it.
    owner = (
        await request.app[LOOKUP].key(hash_key(key))
        if key.startswith(KEY_PREFIX) and len(key) <= 100
        else None
    )
    if owner is None:
        raise web.HTTPUnauthorized(text="The API key is not valid.", headers=challenge)
    now = request.app[CLOCK].now()
    if owner.last_used_at is None or now - owner.last_used_at > LAST_USED_RESOLUTION:
        async with request.app[SESSIONS].begin() as session:
            await touch_key(session, owner.key_id, now)
    request[WORKSPACE] = owner.workspace
    return await handler(request)


@web.middleware
async def body_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a declared oversize body before reading a byte of it."""
    limit = request.app[CONFIG].max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    return await handler(request)
