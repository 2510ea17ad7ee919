"""schemathesis against the real server: `calserver serve` on 127.0.0.1 with two seeded
workspaces, every check on, the rules in tests/schemathesis.toml.

The test suite runs a short session (tests/test_api_fuzz.py); a long one by hand:

    .venv/bin/python -m tests.support.fuzz --minutes 10            # random seed, SQLite
    .venv/bin/python -m tests.support.fuzz --minutes 10 --seed 7   # a seed to replay
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.processes import http, run, serving

CONFIG = Path(__file__).resolve().parent.parent / "schemathesis.toml"
ST = Path(sys.executable).parent / "st"
WORKSPACES = ("acme", "globex")


def server_env(data_dir: Path, database_url: str | None = None) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CALSERVER_")}
    return {
        **base,
        "CALSERVER_DATA_DIR": str(data_dir),
        "CALSERVER_DATABASE_URL": database_url or f"sqlite+aiosqlite:///{data_dir}/fuzz.db",
    }


def _seed(url: str, key: str) -> None:
    """What the operations with ids in their paths find (tests/schemathesis.toml names them):
    segment "news" with event 1, contact "c1" with a trigger, and a subscriber."""
    steps = [
        ("POST", "/api/v1/segments", {"slug": "news", "name": "News"}),
        ("POST", "/api/v1/segments/news/events", {"title": "Sale", "start": "2026-06-01T10:00:00"}),
        ("PUT", "/api/v1/contacts/c1", {"phone": "+79161234567"}),
        ("POST", "/api/v1/triggers", {"external_id": "c1", "idempotency_key": "seed",
                                      "event": {"title": "Visit", "start": "2026-06-02T10:00:00"}}),
    ]  # fmt: skip
    for method, path, body in steps:
        status, answer = http(url + path, key, body, method)
        assert status < 300, (path, status, answer)
    status, _ = http(f"{url}/s/{WORKSPACES[0]}/news", None, {"timezone": "Europe/Moscow"}, "POST")
    assert status in (201, 404), status


@contextmanager
def seeded_server(
    data_dir: Path, database_url: str | None = None
) -> Iterator[tuple[str, list[str]]]:
    """A fresh server with two workspaces, each seeded; its URL and the two API keys."""
    env = server_env(data_dir, database_url)
    keys = []
    for slug in WORKSPACES:
        created = run(["workspace", "create", slug], env)
        assert created.returncode == 0, created.stderr
        keys.append(created.stdout.strip().splitlines()[-1])
    with serving(["--no-demo"], env) as (url, _):
        for key in keys:
            _seed(url, key)
        yield url, keys


def schemathesis(
    url: str,
    key: str,
    *,
    seed: int,
    max_examples: int | None = None,
    minutes: float | None = None,
    workers: int = 2,
) -> subprocess.CompletedProcess[str]:
    """One `st run` with every check (the config file turns them all on); its exit code is 0
    when it found nothing."""
    command = [
        str(ST), "--config-file", str(CONFIG), "run", f"{url}/api/v1/openapi.json",
        "-H", f"Authorization: Bearer {key}", "--seed", str(seed),
        "--workers", str(workers), "--no-color",
    ]  # fmt: skip
    if max_examples is not None:
        command += ["--max-examples", str(max_examples)]
    if minutes is not None:
        command += ["--max-time", str(int(minutes * 60))]
    # schemathesis keeps a cache in its working directory: not in the repository.
    return subprocess.run(
        command, capture_output=True, text=True, check=False, cwd=tempfile.gettempdir()
    )


def main() -> int:
    parser = argparse.ArgumentParser(description="A schemathesis session against a fresh server.")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--seed", type=int, default=None, help="default: a random one")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    with (
        tempfile.TemporaryDirectory() as tmp,
        seeded_server(Path(tmp), args.database_url) as (
            url,
            keys,
        ),
    ):
        result = schemathesis(url, keys[0], seed=seed, minutes=args.minutes)
        status, _ = http(f"{url}/healthz")
    print(result.stdout, result.stderr, sep="\n")
    print(f"seed {seed}; /healthz {status}; schemathesis exit code {result.returncode}")
    return 0 if result.returncode == 0 and status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
