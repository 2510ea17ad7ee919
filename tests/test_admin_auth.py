"""Dashboard sign-in: passwords, admin keys, the session cookie, CSRF, the rate limit."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from calserver.appkeys import SESSIONS
from calserver.config import Config
from calserver.passwords import hash_password, needs_rehash, verify_password
from storage.models import User
from tests.conftest import Tenant
from tests.support.admin import PASSWORD, add_user, csrf_of, form_token, post_form, sign_in
from tests.support.processes import run


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CALSERVER_")}
    return {
        **base,
        "CALSERVER_DATA_DIR": str(tmp_path / "data"),
        "CALSERVER_DATABASE_URL": database_url,
    }


def test_passwords_are_argon2id_hashes_that_verify_only_the_password() -> None:
    stored = hash_password(PASSWORD)
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert stored != hash_password(PASSWORD)  # salted
    assert verify_password(PASSWORD, stored)
    assert not verify_password(PASSWORD + "!", stored)
    assert not verify_password(PASSWORD, "$argon2id$broken")
    assert not verify_password(PASSWORD, "scrypt$broken")
    # RFC 9106's low-memory profile: 64 MiB, 3 passes, 4 lanes.
    assert "m=65536,t=3,p=4" in stored and not needs_rehash(stored)


def _old_scrypt_hash(password: str) -> str:
    """What the previous release stored (scrypt N=2^15, r=8, p=1)."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**15, r=8, p=1, maxmem=2**26, dklen=32)

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return f"scrypt${2**15}$8$1${b64(salt)}${b64(digest)}"


async def test_an_old_scrypt_hash_signs_in_and_is_upgraded(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
) -> None:
    await add_user(client, "acme")
    async with client.app[SESSIONS].begin() as session:
        user = (await session.scalars(select(User))).one()
        user.password_hash = _old_scrypt_hash(PASSWORD)
    assert needs_rehash(_old_scrypt_hash(PASSWORD))
    wrong = await sign_in(client, password=PASSWORD + "!")
    assert wrong[0] == 401
    async with client.app[SESSIONS]() as session:
        assert (await session.scalars(select(User))).one().password_hash.startswith("scrypt$")
    status, path, _ = await sign_in(client)
    assert status == 200 and path == "/admin/segments"
    async with client.app[SESSIONS]() as session:
        upgraded = (await session.scalars(select(User))).one().password_hash
    assert upgraded.startswith("$argon2id$") and verify_password(PASSWORD, upgraded)
    client.session.cookie_jar.clear()
    assert (await sign_in(client))[1] == "/admin/segments"  # the new hash signs in too


async def test_user_signs_in_sees_pages_and_signs_out(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
) -> None:
    async with client.get("/admin/segments", allow_redirects=False) as anonymous:
        assert anonymous.status == 303 and anonymous.headers["Location"] == "/admin/sign-in"
    await add_user(client, "acme")
    token = await form_token(client, "/admin/sign-in")
    fields = {"csrf": token, "workspace": "acme", "email": "Owner@ACME.test", "password": PASSWORD}
    async with client.post("/admin/sign-in", data=fields, allow_redirects=False) as signed:
        assert signed.status == 303 and signed.headers["Location"] == "/admin/segments"
        cookie = signed.cookies["calserver_admin"]
        assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/admin"
        assert int(cookie["max-age"]) == 12 * 3600
        assert "owner" not in cookie.value  # signed ids, nothing readable about the person
    async with client.get("/admin/segments") as segments:
        html = await segments.text()
    assert "owner@acme.test" in html and "acme shop" in html
    assert csrf_of(html) != token  # a new token with the new session
    async with client.app[SESSIONS]() as session:
        user = await session.scalar(select(User))
        assert user is not None and user.last_sign_in_at is not None

    status, path, _ = await post_form(client, "/admin/sign-out", {}, token_from="/admin/segments")
    assert (status, path) == (200, "/admin/sign-in")
    async with client.get("/admin/segments", allow_redirects=False) as after:
        assert after.status == 303


async def test_wrong_password_and_unknown_user_get_the_same_answer(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
) -> None:
    await add_user(client, "acme")
    wrong = await sign_in(client, password="not the password")
    unknown = await sign_in(client, email="nobody@acme.test")
    no_workspace = await sign_in(client, workspace="nowhere")
    # The same page, but for the CSRF token and the fields as they were typed.
    answers = [
        (status, re.sub(r'value="[^"]*"', "", body))
        for status, _, body in (wrong, unknown, no_workspace)
    ]
    assert answers[0][0] == 401 and "Wrong workspace, e-mail address or password." in answers[0][1]
    assert answers[0] == answers[1] == answers[2]
    assert 'value="nobody@acme.test"' in unknown[2]  # what was typed is kept
    async with client.get("/admin/segments", allow_redirects=False) as still_out:
        assert still_out.status == 303


async def test_sign_in_attempts_are_rate_limited_per_account(
    aiohttp_client: Any,
    config: Config,
    clock: Any,
    tmp_path: Any,
) -> None:
    from storage.workspaces import create_workspace
    from tests.conftest import START
    from web.app import create_app

    client = await aiohttp_client(
        create_app(config.replace(admin_sign_in_rate_limit=3), clock=clock)
    )
    async with client.app[SESSIONS].begin() as session:
        await create_workspace(session, "acme", "acme shop", START)
    await add_user(client, "acme")
    for _ in range(3):
        status, _, _ = await sign_in(client, password="guess")
        assert status == 401
    status, _, body = await sign_in(client)  # even the right password waits now
    assert status == 429 and "Too many attempts" in body
    status, _, _ = await sign_in(client, email="nobody@acme.test")  # the address ran out too
    assert status == 429


async def test_admin_key_signs_in_and_revoking_it_ends_the_session(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
) -> None:
    status, _, body = await post_form(client, "/admin/sign-in", {"key": tenant.key[:-2] + "xx"})
    assert status == 401 and "This admin key is not valid." in body
    status, path, body = await post_form(client, "/admin/sign-in", {"key": tenant.key})
    assert (status, path) == (200, "/admin/segments") and f"key {tenant.key[:12]}" in body
    from storage.models import ApiKey

    async with client.app[SESSIONS].begin() as session:
        key = await session.scalar(
            select(ApiKey).where(ApiKey.key_hash == hashlib.sha256(tenant.key.encode()).hexdigest())
        )
        assert key is not None
        key.revoked_at = key.created_at
    async with client.get("/admin/segments", allow_redirects=False) as after:
        assert after.status == 303


async def test_a_post_without_the_csrf_token_is_refused(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    api: Any,
) -> None:
    await add_user(client, "acme")
    await sign_in(client)
    form = {"slug": "csrf", "name": "Forged", "timezone": "UTC"}
    async with client.post("/admin/new-segment", data=form) as missing:
        assert missing.status == 403 and "did not come from this dashboard" in await missing.text()
    async with client.post("/admin/new-segment", data={**form, "csrf": "x" * 43}) as wrong:
        assert wrong.status == 403
    assert (await api.get("/api/v1/segments")).body["items"] == []
    # The token of the page works; so does the header a script would send.
    token = await form_token(client, "/admin/new-segment")
    async with client.post("/admin/new-segment", data=form, headers={"X-CSRF-Token": token}) as ok:
        assert ok.status == 200 and str(ok.url.path) == "/admin/segments/csrf"
    # Signing in again without a token is refused as well (login CSRF).
    async with client.post("/admin/sign-in", data={"key": tenant.key}) as login:
        assert login.status == 403


def test_user_create_command_reads_the_password_from_stdin(env: dict[str, str]) -> None:
    assert run(["workspace", "create", "acme"], env).returncode == 0
    created = run(["user", "create", "--workspace", "acme", "Boss@Acme.test"], env,
                  stdin=PASSWORD + "\n")  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "boss@acme.test" in created.stdout
    again = run(["user", "create", "--workspace", "acme", "boss@acme.test"], env,
                stdin=PASSWORD + "\n")  # fmt: skip
    assert again.returncode == 2 and "already exists" in again.stderr
    short = run(["user", "create", "--workspace", "acme", "x@acme.test"], env, stdin="short\n")
    assert short.returncode == 2 and "at least 10 characters" in short.stderr
    missing = run(["user", "create", "--workspace", "nowhere", "x@acme.test"], env,
                  stdin=PASSWORD + "\n")  # fmt: skip
    assert missing.returncode == 2 and "no workspace" in missing.stderr


async def test_the_cookie_is_secure_when_reached_by_the_public_https_host(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
) -> None:
    # A TLS proxy in front forwards the public Host; the browser only has HTTPS to send on.
    headers = {"Host": "cal.example.test"}
    async with client.get("/admin/sign-in", headers=headers) as behind_proxy:
        assert behind_proxy.cookies["calserver_admin"]["secure"]
    async with client.get("/admin/sign-in") as direct:  # plain HTTP on 127.0.0.1
        assert not direct.cookies["calserver_admin"]["secure"]


async def test_a_new_install_offers_the_key_first(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
) -> None:
    async with client.get("/admin/sign-in") as before:
        page = await before.text()
    # No one has a password yet: the key form comes first, open, and says where the key is.
    assert page.index('id="f-key"') < page.index('id="f-workspace"')
    assert "<details open>" in page and "printed" in page
    fields = {"csrf": csrf_of(page), "key": "csk_mistyped"}
    async with client.post("/admin/sign-in", data=fields) as wrong:
        again = await wrong.text()
    assert wrong.status == 401 and again.index('id="f-key"') < again.index('id="f-workspace"')

    await add_user(client, "acme")
    async with client.get("/admin/sign-in") as after:
        page = await after.text()
    assert page.index('id="f-workspace"') < page.index('id="f-key"')
    assert "<details>" in page and "printed" not in page
