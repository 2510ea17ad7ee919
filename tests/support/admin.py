"""Signing in to the dashboard as a browser does, with the aiohttp test client."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from aiohttp.test_utils import TestClient

from calserver.appkeys import SESSIONS
from calserver.passwords import hash_password
from storage.users import create_user
from storage.workspaces import workspace_by_slug
from tests.conftest import START

PASSWORD = "correct horse battery"
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def add_user(
    client: TestClient,  # type: ignore[type-arg]
    workspace: str,
    email: str = "owner@acme.test",
    password: str = PASSWORD,
) -> None:
    async with client.app[SESSIONS].begin() as session:
        found = await workspace_by_slug(session, workspace)
        await create_user(session, found.id, email, _hashed(password), START)


@cache
def _hashed(password: str) -> str:
    """argon2id takes a fifth of a second by design: hashed once per password per test run
    (each test's database is its own, and test_admin_auth checks that hashes are salted)."""
    return hash_password(password)


async def form_token(client: TestClient, path: str) -> str:  # type: ignore[type-arg]
    async with client.get(path) as response:
        assert response.status == 200, await response.text()
        return csrf_of(await response.text())


async def post_form(
    client: TestClient,  # type: ignore[type-arg]
    path: str,
    fields: dict[str, Any],
    *,
    token_from: str | None = None,
) -> tuple[int, str, str]:
    """POST a form with the CSRF token of the page it lives on; (status, final URL, body)."""
    token = await form_token(client, token_from or path)
    async with client.post(path, data={"csrf": token, **fields}) as response:
        return response.status, str(response.url.path), await response.text()


async def sign_in(
    client: TestClient,  # type: ignore[type-arg]
    workspace: str = "acme",
    email: str = "owner@acme.test",
    password: str = PASSWORD,
) -> tuple[int, str, str]:
    return await post_form(
        client, "/admin/sign-in", {"workspace": workspace, "email": email, "password": password}
    )
