"""Typed keys of the dashboard: the signed-in session and the sign-in limiter."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from calserver.ratelimit import RateLimiter
from storage.lookup import WorkspaceRow


@dataclass(frozen=True)
class AdminSession:
    """Who is signed in: a workspace's user, or someone holding one of its admin keys."""

    workspace: WorkspaceRow
    who: str  # the user's e-mail address, or "key csk_…" with the key's prefix
    csrf: str
    # (slug, name, codes left) of reward pools at or below storage.rewards.POOL_LOW: a banner.
    low_pools: tuple[tuple[str, str, int], ...] = ()


SIGN_IN_LIMITER = web.AppKey("admin_sign_in_limiter", RateLimiter)
ADMIN = web.RequestKey("admin", AdminSession)
# The CSRF token of the request's session (also before sign-in, for the sign-in form).
CSRF = web.RequestKey("admin_csrf", str)
