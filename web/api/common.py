"""Helpers shared by the API handlers: body reading, authentication, transactions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from calserver.appkeys import CHECK_POOL, CLOCK, CONFIG, LOOKUP, SESSIONS, WORKSPACE
from calserver.validation import FieldErrors
from storage.lookup import WorkspaceRow
from storage.workspaces import KEY_PREFIX, LAST_USED_RESOLUTION, hash_key, touch_key
from web.problems import Handler

T = TypeVar("T")
# Expanding a recurrence rule stops by itself (calserver/recurrence.py caps dateutil's walk);
# the deadline still answers a client that waited long enough.
CPU_CHECK_TIMEOUT = 2.0
PUBLIC_API_PATHS = {"/api/v1/openapi.json"}


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object, or a 400/413 problem."""
    raw = await request.read()  # aiohttp raises 413 past client_max_size
    if not raw.strip():
        raise web.HTTPBadRequest(text="The request body is empty; send a JSON object.")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="The request body must be a JSON object.")
    return body


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(data, status=status, headers=headers, dumps=_dumps)


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


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
        raise FieldErrors([("/rrule", "the rule takes too long to expand; simplify it")]) from None


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
