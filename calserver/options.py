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
    Option("log_level", "info", "str", "Logging level: debug, info, warning or error.", "server"),
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
        "demo",
        True,
        "bool",
        "On first start with an empty database, create a demo workspace and print its admin key.",
        "server",
    ),
)

OPTIONS_BY_NAME = {option.name: option for option in OPTIONS}
SECTIONS = ("server", "database", "security")


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


if __name__ == "__main__":
    print(render_example_toml(), end="")
