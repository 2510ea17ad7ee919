"""Dashboard sign-in, the signed session cookie, and the middleware guarding /admin.

The session is a cookie signed with the server's rotatable secrets (itsdangerous, timed),
HttpOnly and SameSite=Lax. It names the workspace and the user or admin key it was opened
with; both are looked up again on every request, so deleting the user or revoking the key
ends the session at once.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from itsdangerous import BadSignature

from calserver.appkeys import CLOCK, CONFIG, LOOKUP, SESSIONS, SIGNER, WORKSPACE
from calserver.passwords import dummy_hash, hash_password, needs_rehash, verify_password
from feeds.i18n import N_
from storage.lookup import WorkspaceRow
from storage.models import ApiKey, User, Workspace
from storage.rewards import low_pools
from storage.users import anyone_has_a_password, user_for_sign_in
from storage.workspaces import KEY_PREFIX, hash_key
from web.admin import csrf
from web.admin.keys import ADMIN, CSRF, SIGN_IN_LIMITER, AdminSession
from web.admin.render import form_of, page, see_other, texts_of
from web.problems import Handler
from web.subscribe import client_address

COOKIE = "calserver_admin"
PURPOSE = "admin-session"
SIGN_IN = "/admin/sign-in"
PUBLIC_PATHS = {SIGN_IN}
WRONG = N_("Wrong workspace, e-mail address or password.")
WRONG_KEY = N_("This admin key is not valid.")
TOO_MANY = N_("Too many attempts. Wait a minute and try again.")


def workspace_row(workspace: Workspace) -> WorkspaceRow:
    return WorkspaceRow(
        workspace.id, workspace.slug, workspace.name, workspace.timezone,
        workspace.quiet_start, workspace.quiet_end, workspace.sms_price,
        workspace.currency, workspace.created_at, workspace.updated_at,
        bool(workspace.cascade_policy), workspace.language,
    )  # fmt: skip


def _read_cookie(request: web.Request) -> dict[str, Any] | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    max_age = request.app[CONFIG].admin_session_hours * 3600
    try:
        state = request.app[SIGNER].timed(PURPOSE).loads(raw, max_age=max_age)
    except (BadSignature, UnicodeError, ValueError):
        return None
    return state if isinstance(state, dict) and isinstance(state.get("c"), str) else None


def _write_cookie(
    request: web.Request, response: web.StreamResponse, state: dict[str, Any]
) -> None:
    response.set_cookie(
        COOKIE,
        request.app[SIGNER].timed(PURPOSE).dumps(state),
        max_age=request.app[CONFIG].admin_session_hours * 3600,
        path="/admin",
        httponly=True,
        samesite="Lax",
        secure=_secure(request),
    )


def _secure(request: web.Request) -> bool:
    """Mark the cookie Secure on HTTPS, including behind a TLS proxy that keeps the Host of
    public_url (a browser then only ever sends it over HTTPS)."""
    public = urlsplit(request.app[CONFIG].base_url)
    return request.secure or (public.scheme == "https" and request.host == public.netloc)


async def _resolve(request: web.Request, state: dict[str, Any]) -> AdminSession | None:
    """The signed-in session, if its workspace and its user or key still exist."""
    async with request.app[SESSIONS]() as session:
        workspace = await session.get(Workspace, state.get("w", 0))
        if workspace is None:
            return None
        if "u" in state:
            user = await session.get(User, state["u"])
            if user is None or user.workspace_id != workspace.id:
                return None
            who = user.email
        else:
            key = await session.get(ApiKey, state.get("k", 0))
            if key is None or key.revoked_at is not None or key.workspace_id != workspace.id:
                return None
            who = f"key {key.prefix}…"
        pools = tuple(await low_pools(session, workspace.id))
    return AdminSession(workspace_row(workspace), who, state["c"], pools)


@web.middleware
async def admin_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not (request.path == "/admin" or request.path.startswith("/admin/")):
        return await handler(request)
    state = _read_cookie(request)
    fresh = state is None
    if state is None:
        state = {"c": csrf.new_token()}
    if request.method == "POST":
        await csrf.check(request, None if fresh else state["c"])
    request[CSRF] = state["c"]
    if request.path not in PUBLIC_PATHS:
        admin = await _resolve(request, state) if "w" in state else None
        if admin is None:
            redirect = see_other(SIGN_IN)
            _write_cookie(request, redirect, {"c": state["c"]})
            raise redirect
        request[ADMIN] = admin
        request[WORKSPACE] = admin.workspace
    response = await handler(request)
    if fresh:
        _write_cookie(request, response, state)
    return response


async def sign_in_page(request: web.Request) -> web.Response:
    # A new install has no users yet: its one way in is the key printed at first start.
    async with request.app[SESSIONS]() as session:
        key_first = not await anyone_has_a_password(session)
    return page(
        request, "sign_in.html", section="sign-in", form={}, error=None, key_first=key_first
    )


def _limited(request: web.Request, account: str) -> bool:
    """One attempt counted per client address and per account (either may run out)."""
    limiter = request.app[SIGN_IN_LIMITER]
    by_address = limiter.allow("address:" + client_address(request))
    by_account = limiter.allow("account:" + account.lower())
    return not (by_address and by_account)


async def _check_password(request: web.Request, form: dict[str, str]) -> dict[str, Any] | None:
    async with request.app[SESSIONS].begin() as session:
        found = await user_for_sign_in(session, form.get("workspace", ""), form.get("email", ""))
        stored = found[0].password_hash if found else dummy_hash()
        # argon2id takes tens of milliseconds of CPU: off the event loop.
        password = form.get("password", "")
        ok = await asyncio.to_thread(verify_password, password, stored)
        if not ok or found is None:
            return None
        user, workspace = found
        if needs_rehash(stored):  # an older hash: the password is at hand to replace it
            user.password_hash = await asyncio.to_thread(hash_password, password)
        user.last_sign_in_at = request.app[CLOCK].now()
        return {"w": workspace.id, "u": user.id}


async def _check_key(request: web.Request, key: str) -> dict[str, Any] | None:
    if not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None
    owner = await request.app[LOOKUP].key(hash_key(key))
    return {"w": owner.workspace.id, "k": owner.key_id} if owner else None


async def sign_in(request: web.Request) -> web.Response:
    form = await form_of(request)
    key = form.get("key", "").strip()
    account = key[:12] if key else f"{form.get('workspace', '')}/{form.get('email', '')}"
    kept = {k: form.get(k, "") for k in ("workspace", "email")}
    t = texts_of(request)
    if _limited(request, account):
        response = page(request, "sign_in.html", section="sign-in", status=429, form=kept,
                        key_first=bool(key), error=t.gettext(TOO_MANY))  # fmt: skip
        response.headers["Retry-After"] = "60"
        return response
    state = await (_check_key(request, key) if key else _check_password(request, form))
    if state is None:
        return page(request, "sign_in.html", section="sign-in", status=401, form=kept,
                    key_first=bool(key), error=t.gettext(WRONG_KEY if key else WRONG))  # fmt: skip
    # A new CSRF token with the new session: a token seen before sign-in is worth nothing.
    state["c"] = csrf.new_token()
    response = see_other("/admin/segments")
    _write_cookie(request, response, state)
    raise response


async def sign_out(request: web.Request) -> web.Response:
    response = see_other(SIGN_IN)
    response.del_cookie(COOKIE, path="/admin")
    raise response


async def home(request: web.Request) -> web.Response:
    raise see_other("/admin/segments")
