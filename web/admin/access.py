"""API keys and users: who may use the API and the dashboard."""

from __future__ import annotations

import asyncio

from aiohttp import web

from calserver.appkeys import CLOCK, SESSIONS
from calserver.passwords import hash_password, password_problem
from feeds.i18n import say
from storage.errors import Conflict
from storage.users import create_user, list_users
from storage.workspaces import add_key, list_keys, revoke_key, workspace_by_slug
from web.admin.render import form_of, page, see_other
from web.api.common import workspace_of


async def _page(request: web.Request, status: int = 200, **context: object) -> web.Response:
    workspace = workspace_of(request)
    async with request.app[SESSIONS]() as session:
        keys = await list_keys(session, await workspace_by_slug(session, workspace.slug))
        users = await list_users(session, workspace.id)
    context.setdefault("form", {})
    context.setdefault("errors", {})
    context.setdefault("new_key", None)
    return page(request, "access.html", section="access", status=status, keys=keys, users=users,
                **context)  # fmt: skip


async def access_page(request: web.Request) -> web.Response:
    return await _page(request, saved=request.query.get("saved"))


async def create_key(request: web.Request) -> web.Response:
    form = await form_of(request)
    label = form.get("label", "").strip()[:200]
    async with request.app[SESSIONS].begin() as session:
        workspace = await workspace_by_slug(session, workspace_of(request).slug)
        key = await add_key(session, workspace, label, request.app[CLOCK].now())
    # Shown once, on this answer to the POST; only its prefix is kept.
    return await _page(request, new_key=key)


async def revoke(request: web.Request) -> web.Response:
    prefix = (await form_of(request)).get("prefix", "")
    async with request.app[SESSIONS].begin() as session:
        workspace = await workspace_by_slug(session, workspace_of(request).slug)
        await revoke_key(session, workspace, prefix, request.app[CLOCK].now())
    raise see_other("/admin/access?saved=revoked")


async def add_user(request: web.Request) -> web.Response:
    form = await form_of(request)
    email, password = form.get("email", "").strip(), form.get("password", "")
    errors: dict[str, list[str]] = {}
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        errors["email"] = [say("give an e-mail address such as ana@example.com")]
    if problem := password_problem(password):
        errors["password"] = [problem]
    if not errors:
        password_hash = await asyncio.to_thread(hash_password, password)
        try:
            async with request.app[SESSIONS].begin() as session:
                await create_user(session, workspace_of(request).id, email, password_hash,
                                  request.app[CLOCK].now())  # fmt: skip
        except Conflict:
            errors["email"] = [
                say("user %(email)s already exists in this workspace", email=repr(email))
            ]
    if errors:
        return await _page(request, 422, form={"email": email}, errors=errors)
    raise see_other("/admin/access?saved=user")
