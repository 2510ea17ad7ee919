"""Loading the configuration: defaults < TOML file < CALSERVER_* environment < CLI flags."""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from calserver.config_fields import ConfigFields
from calserver.options import OPTIONS, OPTIONS_BY_NAME, SECTIONS, Option
from feeds.i18n import languages, supported
from storage.families import Thresholds, parse_thresholds

log = logging.getLogger(__name__)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_LOG_LEVELS = {"debug", "info", "warning", "error"}
# Feed URLs are BASE/f/TOKEN.ics with a token of about 40 characters.
MAX_BASE_URL = 140


class ConfigError(ValueError):
    """A configuration value is missing, of the wrong type, or out of range."""


class Config(ConfigFields):
    """The validated configuration. Options are read as attributes: ``config.port``.

    Values are typed by their declaration in ``calserver.options`` (``ConfigFields``, generated
    from it, tells mypy); ``sources`` says where each value came from (default, file, env or
    flag) for the start-up log.
    """

    def __init__(self, values: Mapping[str, Any], sources: Mapping[str, str] | None = None):
        unknown = set(values) - set(OPTIONS_BY_NAME)
        if unknown:
            raise ConfigError(f"unknown option(s): {', '.join(sorted(unknown))}")
        merged = {option.name: option.default for option in OPTIONS}
        merged.update({name: coerce(OPTIONS_BY_NAME[name], v) for name, v in values.items()})
        _check_ranges(merged)
        self._values = merged
        self.sources = dict(sources or {})

    if not TYPE_CHECKING:  # hidden from mypy, which reads the typed ConfigFields instead

        def __getattr__(self, name: str) -> Any:
            try:
                return self.__dict__["_values"][name]
            except KeyError:
                raise AttributeError(name) from None

    def replace(self, **changes: Any) -> Config:
        """A copy with some options changed (used by tests and the CLI)."""
        return Config({**self._values, **changes}, self.sources)

    @property
    def process_count(self) -> int:
        """The `workers` option as a number of processes (``auto``: one per CPU core)."""
        return process_count(self.workers)

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    @property
    def thresholds(self) -> dict[str, Thresholds]:
        return parse_thresholds(self.lifecycle_thresholds)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return str(self.database_url)
        return f"sqlite+aiosqlite:///{(self.data_path / 'calserver.db').resolve()}"

    @property
    def base_url(self) -> str:
        """Public base URL without a trailing slash, for links that leave the server."""
        return Config.base_url_for(self._values)

    @staticmethod
    def base_url_for(values: Mapping[str, Any]) -> str:
        if values["public_url"]:
            return str(values["public_url"]).rstrip("/")
        host = "127.0.0.1" if values["host"] in ("0.0.0.0", "::") else values["host"]  # noqa: S104
        return f"http://{host}:{values['port']}"

    def describe(self) -> list[str]:
        """One line per option that is not at its default, secrets masked."""
        lines = []
        for option in OPTIONS:
            source = self.sources.get(option.name, "default")
            if source == "default":
                continue
            value = "***" if option.secret else self._values[option.name]
            lines.append(f"{option.name} = {value!r} (from {source})")
        return lines


def coerce(option: Option, value: Any) -> Any:
    """Turn a TOML, env or flag value into the option's type, or raise ConfigError."""
    where = f"option {option.name!r}"
    if option.type == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if option.type in ("int", "float"):
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            return int(value) if option.type == "int" else float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if option.type == "list":
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return list(value)
        raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


def process_count(value: str) -> int:
    text = str(value).strip().lower()
    if text == "auto":
        return max(os.cpu_count() or 1, 1)
    if text.isdigit() and 1 <= int(text) <= 256:
        return int(text)
    raise ConfigError("option 'workers': a number of processes from 1 to 256, or auto")


def _check_ranges(values: Mapping[str, Any]) -> None:
    process_count(values["workers"])
    if not 0 <= values["port"] <= 65535:
        raise ConfigError(f"option 'port': {values['port']} is not a TCP port")
    if values["log_level"].lower() not in _LOG_LEVELS:
        raise ConfigError(f"option 'log_level': choose one of {', '.join(sorted(_LOG_LEVELS))}")
    if values["max_body_bytes"] < 1024:
        raise ConfigError("option 'max_body_bytes': must be at least 1024")
    for name, low, high in (
        ("feed_refresh_minutes", 5, 7 * 24 * 60),
        ("feed_retention_days", 0, 3650),
        ("feed_cache_entries", 1, 1_000_000),
        ("subscribe_rate_limit", 0, 1_000_000),
        ("admin_session_hours", 1, 24 * 31),
        ("admin_sign_in_rate_limit", 0, 1_000_000),
        ("caldav_threads", 1, 64),
        ("caldav_max_body_bytes", 1024, 16_777_216),
        ("caldav_rate_limit", 0, 1_000_000),
        ("poll_flush_seconds", 0.05, 3600),
        ("poll_retention_hours", 1, 24 * 3650),
        ("webhook_poll_seconds", 0.05, 3600),
        ("webhook_timeout_seconds", 1, 60),
        ("cascade_batch_size", 1, 10_000),
        ("deliver_margin_minutes", 0, 7 * 24 * 60),
        ("cascade_concurrency", 1, 1_000),
        ("cascade_lease_seconds", 1, 3600),
        ("cascade_poll_seconds", 0.05, 3600),
    ):
        if not low <= values[name] <= high:
            raise ConfigError(f"option {name!r}: must be between {low} and {high}")
    try:
        parse_thresholds(values["lifecycle_thresholds"])
    except ValueError as error:
        raise ConfigError(f"option 'lifecycle_thresholds': {error}") from None
    if len(Config.base_url_for(values)) > MAX_BASE_URL:
        raise ConfigError(
            f"option 'public_url': at most {MAX_BASE_URL} characters, so feed URLs stay "
            "under 200 (Google Calendar fails silently on long URLs)"
        )
    if supported(values["language"]) != values["language"]:
        raise ConfigError(f"option 'language': choose one of {', '.join(languages())}")
    if values["database_pool_size"] < 1:
        raise ConfigError("option 'database_pool_size': must be at least 1")


def read_toml(path: Path) -> dict[str, Any]:
    """Options from a TOML file; keys may sit at the top or in their section's table."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
    flat: dict[str, Any] = {}
    for key, value in document.items():
        if key in SECTIONS and isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    unknown = set(flat) - set(OPTIONS_BY_NAME)
    if unknown:
        raise ConfigError(f"config file {path}: unknown option(s): {', '.join(sorted(unknown))}")
    return flat


def load_config(
    toml_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> Config:
    """Merge the sources in order of precedence; later sources win."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    if toml_path is not None:
        for name, value in read_toml(toml_path).items():
            values[name], sources[name] = value, f"file {toml_path}"
    for option in OPTIONS:
        if environ is not None and option.env_var in environ:
            values[option.name], sources[option.name] = environ[option.env_var], "env"
    for name, value in (flags or {}).items():
        if value is not None:
            values[name], sources[name] = value, "flag"
    return Config(values, sources)
