"""Configuration: precedence, types, the example file and the docs agree with the declarations."""

from __future__ import annotations

from pathlib import Path

import pytest

from calserver.config import Config, ConfigError, load_config
from calserver.options import (
    OPTIONS,
    render_config_fields,
    render_example_toml,
    render_markdown_table,
)
from web.cli import build_parser, config_from_args

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_give_a_zero_config_start() -> None:
    config = Config({})
    assert config.host == "127.0.0.1" and config.port == 8080
    assert config.resolved_database_url.startswith("sqlite+aiosqlite:///")
    assert config.resolved_database_url.endswith("/data/calserver.db")
    assert config.base_url == "http://127.0.0.1:8080"


def test_precedence_defaults_file_env_flags(tmp_path: Path) -> None:
    toml = tmp_path / "calserver.toml"
    toml.write_text('[server]\nport = 9000\nhost = "0.0.0.0"\nlog_level = "debug"\n')
    env = {"CALSERVER_PORT": "9100", "CALSERVER_LOG_LEVEL": "warning"}
    config = load_config(toml, env, {"port": 9200})
    assert config.port == 9200  # flag beats env
    assert config.log_level == "warning"  # env beats file
    assert config.host == "0.0.0.0"  # file beats default
    assert config.data_dir == "data"  # default
    assert config.sources["port"] == "flag" and config.sources["log_level"] == "env"


def test_cli_flags_and_env_reach_every_command(tmp_path: Path) -> None:
    parser = build_parser()
    for argv in (
        ["serve"],
        ["migrate"],
        ["workspace", "create", "x"],
        ["key", "create", "--workspace", "x"],
    ):
        args = parser.parse_args([*argv, "--data-dir", str(tmp_path), "--no-demo"])
        config = config_from_args(args, {"CALSERVER_DATABASE_URL": "postgresql+asyncpg://u@h/db"})
        assert config.data_dir == str(tmp_path) and config.demo is False
        assert config.resolved_database_url == "postgresql+asyncpg://u@h/db"


def test_env_values_are_typed() -> None:
    config = load_config(
        None,
        {"CALSERVER_DEMO": "off", "CALSERVER_SECRETS": "new-secret-aaaaaaaa, old-secret-bbbbbbbb"},
    )
    assert config.demo is False
    assert config.secrets == ["new-secret-aaaaaaaa", "old-secret-bbbbbbbb"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CALSERVER_PORT": "eighty"}, "port"),
        ({"CALSERVER_PORT": "70000"}, "port"),
        ({"CALSERVER_DEMO": "maybe"}, "demo"),
        ({"CALSERVER_LOG_LEVEL": "loud"}, "log_level"),
        ({"CALSERVER_MAX_BODY_BYTES": "10"}, "max_body_bytes"),
    ],
)
def test_bad_values_name_the_option(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(None, env)


def test_unknown_or_broken_file(tmp_path: Path) -> None:
    typo = tmp_path / "typo.toml"
    typo.write_text("prot = 80\n")
    with pytest.raises(ConfigError, match="prot"):
        load_config(typo, {})
    broken = tmp_path / "broken.toml"
    broken.write_text("port = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken, {})
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml", {})


def test_example_file_is_generated_from_the_declarations() -> None:
    assert (ROOT / "config.example.toml").read_text() == render_example_toml()


def test_typed_fields_are_generated_from_the_declarations() -> None:
    # mypy reads Config's option types from this file; it must list every option as declared.
    assert (ROOT / "calserver" / "config_fields.py").read_text() == render_config_fields()
    config = Config({})
    for option in OPTIONS:
        expected = {"str": str, "int": int, "float": (int, float), "bool": bool, "list": list}
        assert isinstance(getattr(config, option.name), expected[option.type]), option.name


def test_example_file_uncommented_is_valid_and_equals_the_defaults(tmp_path: Path) -> None:
    lines = []
    for line in (ROOT / "config.example.toml").read_text().splitlines():
        if line.startswith("[") or (line.startswith("# ") and " = " in line and "env:" not in line):
            lines.append(line.removeprefix("# "))
    (tmp_path / "all.toml").write_text("\n".join(lines))
    assert load_config(tmp_path / "all.toml", {}).as_dict() == Config({}).as_dict()


def test_docs_describe_every_option() -> None:
    docs = (ROOT / "docs" / "config.md").read_text()
    assert render_markdown_table() in docs
    for option in OPTIONS:
        assert f"`{option.name}`" in docs, option.name
        assert option.env_var in docs, option.env_var
        assert option.flag in docs, option.flag
