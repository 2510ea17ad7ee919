"""Signing secrets and the token serializer built from them.

Feed URLs carry signed tokens, so the secret must survive restarts: it comes from
the configuration (env) or from a file, and is created once in the data directory
when neither exists. Several secrets allow rotation: the first signs, all verify.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import json
import os
import secrets
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

from itsdangerous import BadData, URLSafeSerializer, URLSafeTimedSerializer

from calserver.config import Config, ConfigError

MIN_SECRET_LENGTH = 16
VERIFIED_CACHE = 65536
_UNDECIDED = object()  # the quick check leaves the token to itsdangerous


def secret_path(config: Config) -> Path:
    return Path(config.secret_file) if config.secret_file else config.data_path / "secret"


def load_secrets(config: Config, *, create: bool = True) -> list[str]:
    """The signing secrets, newest first. Creates DATA_DIR/secret when none is configured."""
    if config.secrets:
        found = list(config.secrets)
    else:
        path = secret_path(config)
        if not path.exists():
            if config.secret_file or not create:
                raise ConfigError(f"secret file {path} does not exist")
            _create_secret_file(path)
        found = [
            line.strip()
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
        if not found:
            raise ConfigError(f"secret file {path} holds no secret")
    short = [s for s in found if len(s) < MIN_SECRET_LENGTH]
    if short:
        raise ConfigError(f"signing secrets must be at least {MIN_SECRET_LENGTH} characters long")
    return found


def _create_secret_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written in full under a private name, then linked into place: a process starting
    # beside us either finds no file or a whole one, never an empty one, and link()
    # refuses to replace a secret another process put there first.
    fd, temporary = tempfile.mkstemp(prefix=".secret-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # the other process's secret stands
            os.link(temporary, path)
    finally:
        os.unlink(temporary)


class TokenSigner:
    """Signs and verifies small payloads for URLs, with one salt per purpose."""

    def __init__(self, secret_list: list[str]):
        if not secret_list:
            raise ConfigError("at least one signing secret is needed")
        # itsdangerous signs with the *last* key of a list and verifies with all of them.
        self._keys = list(reversed(secret_list))
        self._serializers: dict[str, URLSafeSerializer] = {}
        self._signing_keys: dict[str, bytes] = {}  # per purpose, the newest secret's HMAC key
        # Feed polls verify the same tokens again and again; remember the good ones.
        self._verified: OrderedDict[tuple[str, str], Any] = OrderedDict()

    def _serializer(self, purpose: str) -> URLSafeSerializer:
        serializer = self._serializers.get(purpose)
        if serializer is None:
            serializer = self._serializers[purpose] = URLSafeSerializer(
                self._keys, salt=f"calserver.{purpose}"
            )
        return serializer

    def sign(self, purpose: str, payload: Any) -> str:
        return str(self._serializer(purpose).dumps(payload))

    def verify(self, purpose: str, token: str) -> Any | None:
        """The payload, or None when the token is tampered, foreign or malformed."""
        key = (purpose, token)
        if key in self._verified:
            self._verified.move_to_end(key)
            return self._verified[key]
        payload = self._quick(purpose, token)
        if payload is _UNDECIDED:
            try:
                payload = self._serializer(purpose).loads(token)
            except (BadData, UnicodeError, ValueError):
                return None  # never cached, so a flood of bad tokens cannot evict good ones
        self._verified[key] = payload
        if len(self._verified) > VERIFIED_CACHE:
            self._verified.popitem(last=False)
        return payload

    def _quick(self, purpose: str, token: str) -> Any:
        """The payload of a token as ``sign`` makes it (the newest secret, an uncompressed
        payload), checked without itsdangerous's layers: a feed polled across a million
        subscribers misses the cache above on nearly every poll, and itsdangerous derives its
        key and decodes through several calls each time (~15 µs against ~3). Anything else —
        an older secret, a compressed payload, any mismatch — is ``_UNDECIDED`` and left to
        itsdangerous, so what is accepted is exactly what itsdangerous accepts."""
        value, dot, signature = token.rpartition(".")
        if not dot or value.startswith("."):
            return _UNDECIDED
        try:
            signed = value.encode()
            mac = hmac.digest(self._signing_key(purpose), signed, "sha1")
            if not hmac.compare_digest(
                base64.urlsafe_b64encode(mac).rstrip(b"="), signature.encode()
            ):
                return _UNDECIDED
            raw = base64.urlsafe_b64decode(signed + b"=" * (-len(signed) % 4))
            # Feed tokens carry a subscription id: canonical digits are that integer.
            if raw.isdigit() and (raw[:1] != b"0" or raw == b"0"):
                return int(raw)
            return json.loads(raw)
        except ValueError:  # binascii.Error, JSONDecodeError and UnicodeError among them
            return _UNDECIDED

    def _signing_key(self, purpose: str) -> bytes:
        key = self._signing_keys.get(purpose)
        if key is None:
            serializer = self._serializer(purpose)
            key = self._signing_keys[purpose] = serializer.make_signer(serializer.salt).derive_key()
        return key

    def timed(self, purpose: str) -> URLSafeTimedSerializer:
        """A serializer whose tokens carry their signing time (dashboard sessions expire)."""
        return URLSafeTimedSerializer(self._keys, salt=f"calserver.{purpose}")
