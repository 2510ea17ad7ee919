"""The channels this server may send through, read from a TOML file.

Each table names one channel instance: its ``type`` (a module of calserver/channels), its
``price`` per message, optionally the ``workspaces`` allowed to use it, and the type's own
settings. A string value ``"env:NAME"`` is read from the environment variable NAME, so the
file itself need not hold secrets::

    [sms]
    type = "sms_http"
    price = "2.40"
    url = "https://gateway.example/send"
    auth = { type = "bearer", token = "env:SMS_TOKEN" }

The file is ``channels_file`` (default: ``DATA_DIR/channels.toml``, when it exists).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import aiohttp

from calserver.channels import BaseChannel, ChannelError, load
from calserver.config import Config

CALENDAR = "calendar"
NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_META = {"type", "price", "workspaces"}


@dataclass(frozen=True)
class ChannelEntry:
    name: str
    type: str
    price: Decimal
    workspaces: frozenset[str] | None  # None: every workspace
    settings: Mapping[str, Any]

    def allowed_for(self, workspace_slug: str) -> bool:
        return self.workspaces is None or workspace_slug in self.workspaces

    def describe(self) -> dict[str, Any]:
        """What the API may show: never the settings (they hold credentials)."""
        return {"name": self.name, "type": self.type, "price": float(self.price)}


def _from_env(value: Any, where: str) -> Any:
    if isinstance(value, str) and value.startswith("env:"):
        name = value[4:]
        if name not in os.environ:
            raise ChannelError(f"{where}: environment variable {name} is not set")
        return os.environ[name]
    if isinstance(value, Mapping):
        return {k: _from_env(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_from_env(v, where) for v in value]
    return value


def _price(value: Any, where: str) -> Decimal:
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        price = Decimal(-1)
    if isinstance(value, bool) or not price.is_finite() or price < 0:
        raise ChannelError(f"{where}.price must be a number of at least 0")
    return price


def _entry(name: str, table: Any) -> ChannelEntry:
    if not NAME.match(name) or name == CALENDAR:
        raise ChannelError(f"channel name {name!r}: use a-z, 0-9, _ and - (not 'calendar')")
    if not isinstance(table, Mapping):
        raise ChannelError(f"{name}: must be a table")
    kind = table.get("type")
    if not isinstance(kind, str):
        raise ChannelError(f"{name}.type is required (webhook, sms_http, email_smtp, telegram)")
    workspaces = table.get("workspaces")
    if workspaces is not None and (
        not isinstance(workspaces, list) or not all(isinstance(w, str) for w in workspaces)
    ):
        raise ChannelError(f"{name}.workspaces must be a list of workspace slugs")
    settings = _from_env({k: v for k, v in table.items() if k not in _META}, name)
    entry = ChannelEntry(
        name, kind, _price(table.get("price", 0), name),
        frozenset(workspaces) if workspaces is not None else None, settings,
    )  # fmt: skip
    load(kind, {**settings, "price": str(entry.price)})  # checks the settings now, not at send
    return entry


class Registry:
    """The configured channels by name, each built once with the shared HTTP client."""

    def __init__(self, entries: Mapping[str, ChannelEntry]):
        self.entries = dict(entries)
        self._readers: dict[str, BaseChannel] = {}

    @classmethod
    def from_tables(cls, tables: Mapping[str, Any]) -> Registry:
        return cls({name: _entry(name, table) for name, table in tables.items()})

    def names_for(self, workspace_slug: str) -> list[str]:
        return [n for n, e in self.entries.items() if e.allowed_for(workspace_slug)]

    def get(self, name: str, workspace_slug: str) -> ChannelEntry | None:
        entry = self.entries.get(name)
        return entry if entry is not None and entry.allowed_for(workspace_slug) else None

    def build(self, name: str, http: aiohttp.ClientSession | None) -> BaseChannel:
        entry = self.entries[name]
        return load(entry.type, {**entry.settings, "price": str(entry.price)}, http)

    def reader(self, name: str) -> BaseChannel:
        """The channel for reading its delivery reports (it never sends: no HTTP client)."""
        if name not in self._readers:
            self._readers[name] = self.build(name, None)
        return self._readers[name]


def channels_path(config: Config) -> Path | None:
    if config.channels_file:
        return Path(config.channels_file)
    default = config.data_path / "channels.toml"
    return default if default.exists() else None


def load_registry(config: Config) -> Registry:
    """The channels file's channels; an empty registry when there is no file."""
    path = channels_path(config)
    if path is None:
        return Registry({})
    try:
        tables = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ChannelError(f"channels file {path}: {exc}") from None
    return Registry.from_tables(tables)
