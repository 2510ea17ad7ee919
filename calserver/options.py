"""Every configuration option, declared once.

The list below feeds ``config.example.toml`` (see ``render_example_toml``), the
``CALSERVER_*`` environment variables and the CLI flags; a test checks that the
example file and ``docs/config.md`` agree with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

OptionType = Literal["str", "int", "float", "bool", "list"]


@dataclass(frozen=True)
class Option:
    name: str
    default: Any
    type: OptionType
    help: str
    section: str
    # Secrets are never echoed into logs or the example file's values.
    secret: bool = False

    @property
    def env_var(self) -> str:
        return "CALSERVER_" + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


OPTIONS: tuple[Option, ...] = (
    Option(
        "host",
        "127.0.0.1",
        "str",
        "Address to listen on. Use 0.0.0.0 only behind a firewall or proxy.",
        "server",
    ),
    Option("port", 8080, "int", "TCP port to listen on; 0 picks a free port.", "server"),
    Option(
        "public_url",
        "",
        "str",
        "Base URL clients reach the server at (https://cal.example.com). Empty: http://HOST:PORT.",
        "server",
    ),
    Option(
        "data_dir",
        "data",
        "str",
        "Directory for the SQLite database and the signing-secret file.",
        "server",
    ),
    Option(
        "workers",
        "1",
        "str",
        "Processes `calserver serve` runs on its one port: a number, or auto for one per CPU "
        "core (see docs/deployment.md).",
        "server",
    ),
    Option("log_level", "info", "str", "Logging level: debug, info, warning or error.", "server"),
    Option(
        "access_log",
        False,
        "bool",
        "Log one line per request (method, path with tokens redacted, status, size, time).",
        "server",
    ),
    Option(
        "max_body_bytes",
        1_048_576,
        "int",
        "Largest request body accepted; larger bodies get 413 before they are read.",
        "server",
    ),
    Option(
        "database_url",
        "",
        "str",
        "SQLAlchemy URL. Empty: SQLite in DATA_DIR/calserver.db. "
        "PostgreSQL: postgresql+asyncpg://user:password@host/db.",
        "database",
        secret=True,
    ),
    Option(
        "database_pool_size",
        10,
        "int",
        "Connections kept open per process (PostgreSQL).",
        "database",
    ),
    Option(
        "migrate_on_start",
        True,
        "bool",
        "Apply database migrations when the server starts.",
        "database",
    ),
    Option(
        "secrets",
        [],
        "list",
        "Signing secrets for feed and link tokens, newest first: the first signs, all verify. "
        "In the environment, separate them with commas. Empty: read SECRET_FILE.",
        "security",
        secret=True,
    ),
    Option(
        "secret_file",
        "",
        "str",
        "File with one signing secret per line, newest first. Empty: DATA_DIR/secret, "
        "created with a random secret on first start.",
        "security",
    ),
    Option(
        "admin_session_hours",
        12,
        "int",
        "Hours a sign-in to the /admin dashboard lasts before the password or key is asked again.",
        "security",
    ),
    Option(
        "admin_sign_in_rate_limit",
        10,
        "int",
        "Dashboard sign-in attempts allowed per minute, per client address and per account; "
        "more get 429. 0 turns it off.",
        "security",
    ),
    Option(
        "feed_refresh_minutes",
        60,
        "int",
        "Suggested poll interval written into feeds (REFRESH-INTERVAL, X-PUBLISHED-TTL).",
        "feeds",
    ),
    Option(
        "feed_retention_days",
        30,
        "int",
        "Days a past event stays in feeds after it ends.",
        "feeds",
    ),
    Option(
        "feed_cache_entries",
        2048,
        "int",
        "Rendered feed bodies kept in memory per process (one per segment set, zone and day).",
        "feeds",
    ),
    Option(
        "subscribe_rate_limit",
        20,
        "int",
        "Subscriptions one client address may create per minute; more get 429. 0 turns it off.",
        "feeds",
    ),
    Option(
        "poll_flush_seconds",
        5.0,
        "float",
        "How often recorded polls and page views are written; a crash loses at most this much telemetry.",
        "stats",
    ),
    Option(
        "poll_retention_hours",
        48,
        "int",
        "Hours raw poll rows are kept, for diagnostics; the statistics never read them (daily "
        "aggregates and each subscription's state are kept for good).",
        "stats",
    ),
    Option(
        "lifecycle_thresholds",
        "",
        "str",
        "Silence after which a subscription is dormant, then lapsed, per client family, over the "
        "defaults in docs/stats.md: 'google=4d/14d, apple-ios=36h/7d'.",
        "stats",
    ),
    Option(
        "metrics_token",
        "",
        "str",
        "Bearer token required for /metrics. Empty: /metrics answers only scrapers on this machine (loopback).",
        "stats",
        secret=True,
    ),
    Option(
        "webhook_allow_private",
        False,
        "bool",
        "Let webhooks reach private, loopback and link-local addresses (a receiver on this machine or network).",
        "webhooks",
    ),
    Option(
        "webhook_private_workspaces",
        [],
        "list",
        "Slugs of the workspaces whose webhooks may reach private, loopback and link-local addresses.",
        "webhooks",
    ),
    Option(
        "webhook_poll_seconds",
        1.0,
        "float",
        "How often each process looks for webhook messages to send.",
        "webhooks",
    ),
    Option(
        "webhook_timeout_seconds",
        10.0,
        "float",
        "Seconds a webhook receiver has to answer; slower counts as a failed attempt.",
        "webhooks",
    ),
    Option(
        "channels_file",
        "",
        "str",
        "TOML file naming the cascade's delivery channels and their credentials "
        "(docs/channels.md). Empty: DATA_DIR/channels.toml when it exists.",
        "cascade",
    ),
    Option(
        "deliver_margin_minutes",
        15,
        "int",
        "A trigger's default deliver_by: its first alarm minus this many minutes, so a fallback "
        "channel still arrives before the alarm rings.",
        "cascade",
    ),
    Option(
        "cascade_worker",
        True,
        "bool",
        "Run the cascade worker inside `calserver serve` (off when `calserver worker` runs it).",
        "cascade",
    ),
    Option(
        "cascade_batch_size",
        200,
        "int",
        "Triggers a cascade worker takes per round.",
        "cascade",
    ),
    Option(
        "cascade_concurrency",
        64,
        "int",
        "Messages a cascade worker has in flight at once.",
        "cascade",
    ),
    Option(
        "cascade_lease_seconds",
        60.0,
        "float",
        "How long a worker holds a trigger; after a crash another worker takes it over then. "
        "Every send must end within it, so keep it above the channels' timeouts.",
        "cascade",
    ),
    Option(
        "cascade_poll_seconds",
        1.0,
        "float",
        "How often an idle cascade worker looks for due triggers.",
        "cascade",
    ),
    Option(
        "caldav_threads",
        4,
        "int",
        "Worker threads running the CalDAV server (Radicale) under /dav/; more requests wait.",
        "feeds",
    ),
    Option(
        "caldav_max_body_bytes",
        262_144,
        "int",
        "Largest CalDAV request body (PROPFIND/REPORT XML); larger bodies get 413 unparsed.",
        "feeds",
    ),
    Option(
        "caldav_rate_limit",
        600,
        "int",
        "CalDAV requests per minute from one client address; 0 turns the limit off.",
        "feeds",
    ),
    Option(
        "trust_forwarded_for",
        False,
        "bool",
        "Take the client address from X-Forwarded-For (only behind a proxy that sets it).",
        "server",
    ),
    Option(
        "language",
        "en",
        "str",
        "Language of new workspaces' pages and of pages that belong to no workspace (error "
        "pages, dashboard sign-in), for browsers asking for none calserver speaks: en or ru.",
        "server",
    ),
    Option(
        "demo",
        True,
        "bool",
        "On first start with an empty database, create a demo workspace and print its admin key.",
        "server",
    ),
)

OPTIONS_BY_NAME = {option.name: option for option in OPTIONS}
SECTIONS = ("server", "database", "security", "feeds", "stats", "webhooks", "cascade")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def render_example_toml() -> str:
    """The text of config.example.toml: every option, commented out, with its default."""
    lines = [
        "# calserver configuration. Every option is listed with its default, commented out.",
        "# Precedence: defaults < this file (--config) < CALSERVER_* environment < CLI flags.",
        "# Keep secrets (database passwords, signing secrets) in the environment, not here.",
        "# Regenerate after changing calserver/options.py: python -m calserver.options",
    ]
    for section in SECTIONS:
        lines += ["", f"[{section}]"]
        for option in OPTIONS:
            if option.section != section:
                continue
            lines.append("")
            lines.append(f"# {option.help}")
            lines.append(f"# env: {option.env_var}   flag: {option.flag}")
            lines.append(f"# {option.name} = {_toml_value(option.default)}")
    return "\n".join(lines) + "\n"


def render_markdown_table() -> str:
    """The options tables of docs/config.md."""
    lines: list[str] = []
    for section in SECTIONS:
        lines += [
            "",
            f"### {section}",
            "",
            "| option | env | flag | type | default | what it does |",
        ]
        lines.append("|---|---|---|---|---|---|")
        for o in (o for o in OPTIONS if o.section == section):
            default = _toml_value(o.default)
            lines.append(
                f"| `{o.name}` | `{o.env_var}` | `{o.flag}` | {o.type} | `{default}` | {o.help} |"
            )
    return "\n".join(lines) + "\n"


_PYTHON_TYPES: dict[OptionType, str] = {
    "str": "str", "int": "int", "float": "float", "bool": "bool", "list": "list[str]",
}  # fmt: skip


def render_config_fields() -> str:
    """The text of calserver/config_fields.py: every option as a typed attribute, for mypy."""
    lines = [
        '"""Every option as a typed attribute of Config, so mypy checks each read.',
        "",
        "Generated from calserver/options.py: python -m calserver.options --fields > "
        "calserver/config_fields.py",
        '(a test keeps it in step)."""',
        "",
        "",
        "class ConfigFields:",
    ]
    lines += [f"    {o.name}: {_PYTHON_TYPES[o.type]}" for o in OPTIONS]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    if "--markdown" in sys.argv:
        print(render_markdown_table(), end="")
    elif "--fields" in sys.argv:
        print(render_config_fields(), end="")
    else:
        print(render_example_toml(), end="")
