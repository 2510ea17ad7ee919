"""Where webhooks may go: not to private, loopback, link-local or other special addresses
(SSRF), unless the operator allows it. Checked when an endpoint is registered, before each
send, and again for the address each connection actually uses (DNS may change)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from feeds.i18n import say

RESOLVE_TIMEOUT = 10.0
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public_address(address: str | IPAddress) -> bool:
    """False for private, loopback, link-local, multicast, reserved and unspecified addresses
    (and anything else not globally routable, such as 100.64.0.0/10); also for unparsable text."""
    try:
        ip = address if not isinstance(address, str) else ipaddress.ip_address(address)
    except ValueError:
        return False
    candidates: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv4 inside IPv6 (::ffff:127.0.0.1, 6to4) is judged by the IPv4 address too.
        candidates += [v4 for v4 in (ip.ipv4_mapped, ip.sixtofour) if v4 is not None]
    return all(
        a.is_global
        and not (
            a.is_private or a.is_loopback or a.is_link_local or a.is_multicast
            or a.is_reserved or a.is_unspecified
        )
        for a in candidates
    )  # fmt: skip


class TargetRefused(OSError):
    """The webhook's host resolves to an address deliveries may not reach."""


async def check_target(
    url: str, allow_private: bool, *, unresolvable_ok: bool = False
) -> str | None:
    """Why ``url`` may not receive webhooks, or None if it may.

    Refuses schemes other than http(s), user info, and (unless ``allow_private``) hosts that
    are, or resolve to, non-public addresses. A host that does not resolve is refused too,
    unless ``unresolvable_ok`` (at send time, where that is an ordinary failed attempt).
    """
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return say("must not contain spaces or control characters")
    try:
        parsed = URL(url)
        netloc = urlsplit(url).netloc
    except (ValueError, TypeError):
        return say("is not a valid URL")
    if parsed.scheme not in ("http", "https") or not parsed.is_absolute():
        return say("must be an absolute http:// or https:// URL")
    if "@" in netloc or "\\" in netloc or parsed.raw_user is not None:
        return say("must not contain a user name or password")
    host = parsed.raw_host
    if not host:
        return say("must name a host")
    if allow_private:
        return None
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        if is_public_address(literal):
            return None
        return say("%(host)s is a private, loopback, link-local or reserved address", host=host)
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT):
            infos = await loop.getaddrinfo(host, parsed.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, TimeoutError):
        return None if unresolvable_ok else say("the host %(host)s does not resolve", host=host)
    for info in infos:
        address = str(info[4][0])
        if not is_public_address(address):
            return say(
                "%(host)s resolves to a private, loopback, link-local or reserved address",
                host=host,
            )
    return None


class GuardedResolver(AbstractResolver):
    """Checks every address a connection is about to use, so a name whose DNS changes
    between the check and the connection still cannot reach a private address."""

    def __init__(self, allow_private: Callable[[], bool]):
        self._inner = ThreadedResolver()
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not self._allow_private():
            for result in results:
                if not is_public_address(result["host"]):
                    raise TargetRefused(f"{host} resolves to a non-public address")
        return results

    async def close(self) -> None:
        await self._inner.close()
