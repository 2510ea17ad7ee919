"""Password hashing for dashboard users: argon2id (argon2-cffi) with its recommended
parameters (RFC 9106's low-memory profile: t=3, 64 MiB, p=4).

Hashes written by earlier releases (scrypt, "scrypt$N$r$p$salt$hash") are still verified,
and ``needs_rehash`` tells the sign-in to store an argon2id hash in their place, as it does
for argon2 hashes whose parameters are below the current ones.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from feeds.i18n import say_n

MIN_PASSWORD = 10
MAX_PASSWORD = 1024
_HASHER = PasswordHasher()  # argon2-cffi's defaults are RFC 9106's low-memory profile
_SCRYPT_MAX_MEMORY = 64 * 1024 * 1024


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_PASSWORD:
        return say_n(
            "use at least %(num)s character", "use at least %(num)s characters", MIN_PASSWORD
        )
    if len(password) > MAX_PASSWORD:
        return say_n(
            "use at most %(num)s character", "use at most %(num)s characters", MAX_PASSWORD
        )
    return None


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _verify_scrypt(password: str, stored: str) -> bool:
    """An earlier release's hash, until its owner signs in again."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = hashlib.scrypt(
            password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p),
            maxmem=_SCRYPT_MAX_MEMORY, dklen=32,
        )  # fmt: skip
    except ValueError:
        return False
    return hmac.compare_digest(computed, _unb64(digest))


def verify_password(password: str, stored: str) -> bool:
    if len(password) > MAX_PASSWORD:
        return False
    if stored.startswith("scrypt$"):
        return _verify_scrypt(password, stored)
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when a hash that just verified should be replaced by a current one."""
    return stored.startswith("scrypt$") or _HASHER.check_needs_rehash(stored)


@cache
def dummy_hash() -> str:
    """Checked against when the account does not exist, so that an unknown e-mail address
    costs the same time as a wrong password and the two cannot be told apart."""
    return hash_password(secrets.token_urlsafe(16))
