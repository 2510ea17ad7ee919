"""Password hashing for dashboard users: scrypt from the standard library.

The stored form names its parameters ("scrypt$N$r$p$salt$hash"), so they can be raised
later without locking out existing users.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import cache

# 2**15 with r=8 costs 32 MiB and about 50 ms: OWASP's scrypt floor is 2**17 x 1 or
# an equivalent; 2**15 x 8 is above it.
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
MAX_MEMORY = 64 * 1024 * 1024
MIN_PASSWORD = 10
MAX_PASSWORD = 1024


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=MAX_MEMORY, dklen=32)


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_PASSWORD:
        return f"use at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"use at most {MAX_PASSWORD} characters"
    return None


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt" or len(password) > MAX_PASSWORD:
            return False
        computed = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(computed, _unb64(digest))


@cache
def dummy_hash() -> str:
    """Checked against when the account does not exist, so that an unknown e-mail address
    costs the same time as a wrong password and the two cannot be told apart."""
    return hash_password(secrets.token_urlsafe(16))
