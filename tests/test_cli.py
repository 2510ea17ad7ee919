"""The real `calserver` command, as a person runs it (subprocesses on 127.0.0.1)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import CALSERVER, http, run, serving

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CALSERVER_")}
    return {
        **base,
        "CALSERVER_DATA_DIR": str(tmp_path / "data"),
        "CALSERVER_DATABASE_URL": database_url,
    }


def test_workspace_and_key_commands_print_usable_keys(env: dict[str, str]) -> None:
    created = run(["workspace", "create", "acme", "--name", "ACME"], env)
    assert created.returncode == 0, created.stderr
    first_key = created.stdout.strip().splitlines()[-1]
    assert first_key.startswith("csk_")
    again = run(["workspace", "create", "acme"], env)
    assert again.returncode == 2 and "already exists" in again.stderr

    added = run(["key", "create", "--workspace", "acme", "--label", "crm"], env)
    second_key = added.stdout.strip().splitlines()[-1]
    assert second_key.startswith("csk_") and second_key != first_key
    listed = run(["key", "list", "--workspace", "acme"], env).stdout
    assert first_key[:12] in listed and second_key[:12] in listed and "crm" in listed
    assert second_key not in listed  # only the prefix is ever shown again

    with serving(["--no-demo"], env) as (url, _):
        assert http(f"{url}/api/v1/workspace", first_key) == http(
            f"{url}/api/v1/workspace", second_key
        )
        assert http(f"{url}/api/v1/workspace", first_key)[1]["name"] == "ACME"
        revoked = run(["key", "revoke", "--workspace", "acme", second_key[:12]], env)
        assert revoked.returncode == 0, revoked.stderr
        assert http(f"{url}/api/v1/workspace", second_key)[0] == 401
        assert http(f"{url}/api/v1/workspace", first_key)[0] == 200
    assert run(["key", "create", "--workspace", "nope"], env).returncode == 2


def test_first_start_creates_the_demo_and_restarts_keep_the_secret(
    env: dict[str, str], tmp_path: Path
) -> None:
    with serving([], env, with_log=True) as (url, lines):
        # A quiet first start: the settings echoed, no warnings, no migration chatter, and
        # last a box with the link, the key and the address.
        assert not [line for line in lines if "WARNING" in line.upper() or "alembic" in line]
        box = lines[next(i for i, line in enumerate(lines) if line.startswith("┌")) :]
        assert all(line.startswith("│") for line in box[1:]) and "listening on" in box[-1]
        [key] = [m.group() for line in box if (m := re.search(r"csk_[\w-]{40,}", line))]
        assert any("/s/demo/news" in line for line in box)
        assert http(f"{url}/healthz") == (200, {"status": "ok"})
        status, segments = http(f"{url}/api/v1/segments", key)
        assert status == 200 and [s["slug"] for s in segments["items"]] == ["news"]
        status, events = http(f"{url}/api/v1/segments/news/events", key)
        assert len(events["items"]) == 2
    secret = (tmp_path / "data" / "secret").read_text()
    with serving([], env) as (url, lines):
        assert not any("csk_" in line for line in lines)  # the demo is made once
        assert http(f"{url}/api/v1/segments", key)[0] == 200
    assert (tmp_path / "data" / "secret").read_text() == secret


def test_migrate_and_config_errors(env: dict[str, str], tmp_path: Path) -> None:
    migrated = run(["migrate"], env)
    assert migrated.returncode == 0 and "up to date" in migrated.stdout
    bad = run(["migrate"], {**env, "CALSERVER_PORT": "eighty"})
    assert bad.returncode == 2 and "port" in bad.stderr
    wrong_driver = run(["migrate"], {**env, "CALSERVER_DATABASE_URL": "mysql://x@y/z"})
    assert wrong_driver.returncode == 2 and "not supported" in wrong_driver.stderr


def test_default_data_dir_is_relative_to_where_it_runs(tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CALSERVER_")}
    result = subprocess.run(
        [*CALSERVER, "workspace", "create", "solo"], cwd=tmp_path, env=base,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "calserver.db").exists()


def test_every_command_the_readme_lists_runs_as_written() -> None:
    readme = (ROOT / "README.md").read_text()
    listed = re.findall(r"`scripts/calserver ([a-z ]+?)(?: [A-Z\[-]|`)", readme)
    assert {"serve", "worker", "migrate", "workspace create", "user create", "import"} <= set(
        listed
    )
    for command in set(listed):
        shown = subprocess.run(
            [str(ROOT / "scripts" / "calserver"), *command.split(), "--help"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert shown.returncode == 0 and "usage: calserver" in shown.stdout, (command, shown)
