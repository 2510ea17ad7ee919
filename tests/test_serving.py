"""`calserver serve --workers N`: several processes on one port, one database."""

from __future__ import annotations

import asyncio
import os
import re
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from calserver.appkeys import CONFIG
from calserver.config import Config, ConfigError
from calserver.webhooks import webhook_sender
from tests.support.icaljs import parse_ics
from tests.support.processes import fetch, http, run, serving
from web.app import create_app
from web.serving import shares_senders

PROCESS_ID = re.compile(r"^calserver_process_id (\d+)$", re.M)
FEED_REQUESTS = re.compile(r"^calserver_feed_requests_total\{[^}]*\} (\d+)$", re.M)


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CALSERVER_")}
    return {**base, "CALSERVER_DATA_DIR": str(tmp_path / "data"), "CALSERVER_DATABASE_URL": database_url,
            "CALSERVER_DEMO": "false"}  # fmt: skip


def feed_requests_by_process(base: str, want: int = 2) -> dict[int, int]:
    """Scrape /metrics on fresh connections until ``want`` processes answered: pid -> feed
    requests it served."""
    seen: dict[int, int] = {}
    for _ in range(400):
        status, body = fetch(f"{base}/metrics")
        assert status == 200
        text = body.decode()
        pid = int(PROCESS_ID.search(text).group(1))  # type: ignore[union-attr]
        seen[pid] = sum(int(n) for n in FEED_REQUESTS.findall(text))
        if len(seen) >= want:
            return seen
    raise AssertionError(f"only {len(seen)} process(es) answered")


def titles(base: str, feed_path: str) -> list[str]:
    status, body = fetch(base + feed_path)
    assert status == 200
    return sorted(event["summary"] for event in parse_ics(body)["events"])


def test_changes_through_one_process_are_served_by_the_others(env: dict[str, str]) -> None:
    key = run(["workspace", "create", "acme"], env).stdout.strip().splitlines()[-1]
    with serving(["--workers", "2"], env) as (base, lines):
        assert "(2 processes)" in "\n".join(lines)
        assert http(f"{base}/api/v1/segments", key, {"slug": "news", "name": "News"})[0] == 201
        status, event = http(f"{base}/api/v1/segments/news/events", key,
                             {"title": "First", "start": "2027-01-10T10:00:00"})  # fmt: skip
        assert status == 201
        status, links = http(f"{base}/s/acme/news", None, {"timezone": "Europe/Berlin"})
        assert status == 201
        feed_path = urlsplit(links["feed_url"]).path
        polls = 0
        before: dict[int, int] = {}
        while len(before) < 2 or min(before.values()) == 0:  # both processes cached the body
            for _ in range(10):
                assert titles(base, feed_path) == ["First"]
                polls += 1
            before = feed_requests_by_process(base)
            assert polls < 400
        pids = set(before)

        # One process takes the change; every later poll, whichever process answers, has it.
        assert http(f"{base}/api/v1/segments/news/events/{event['id']}", key,
                    {"title": "Renamed"}, method="PATCH")[0] == 200  # fmt: skip
        after = dict(before)
        while any(after[pid] == before[pid] for pid in pids):
            for _ in range(10):
                assert titles(base, feed_path) == ["Renamed"]
                polls += 1
            after = {**after, **feed_requests_by_process(base)}
            assert set(after) == pids and polls < 800
    for pid in pids:  # a graceful stop of all
        assert not Path(f"/proc/{pid}").exists()

    # Each process wrote its recorded polls when it stopped: none is lost.
    with serving([], env) as (base, _):
        status, daily = http(f"{base}/api/v1/stats/daily", key)
        assert status == 200
        assert sum(day.get("polls", 0) for day in daily["days"]) == polls


def test_the_process_count_option(tmp_path: Path) -> None:
    config = Config({"data_dir": str(tmp_path)})
    assert config.process_count == 1
    assert config.replace(workers="3").process_count == 3
    assert config.replace(workers="auto").process_count == (os.cpu_count() or 1)
    for wrong in ("0", "-1", "two", "257"):
        with pytest.raises(ConfigError, match="workers"):
            config.replace(workers=wrong)


def test_only_postgresql_shares_the_senders(tmp_path: Path) -> None:
    """On SQLite one process sends webhooks and runs the cascade; on PostgreSQL all do."""
    sqlite = Config({"data_dir": str(tmp_path)})
    assert not shares_senders(sqlite)
    assert shares_senders(sqlite.replace(database_url="postgresql+asyncpg://u@localhost/db"))
    quiet = create_app(sqlite.replace(secrets=["s" * 32]), senders=False)
    assert quiet[CONFIG].cascade_worker is False
    assert webhook_sender not in quiet.cleanup_ctx
    assert webhook_sender in create_app(sqlite.replace(secrets=["s" * 32])).cleanup_ctx


def test_connections_opened_at_once_are_shared_by_the_processes(env: dict[str, str]) -> None:
    """A burst of connections (a load balancer's pool, wrk's 32) spreads over the processes:
    each has its own listening socket on the port (SO_REUSEPORT), so the kernel deals the
    connections out, where on one shared socket the process that woke first took them all."""
    with serving(["--workers", "2"], env) as (base, _):
        host, port = urlsplit(base).hostname, urlsplit(base).port
        assert host is not None and port is not None

        async def open_all() -> list[int]:
            # Every connection is open before any request goes out: the kernel has dealt
            # them all out by then, as it does a burst.
            streams = await asyncio.gather(
                *(asyncio.open_connection(host, port) for _ in range(32))
            )
            request = f"GET /metrics HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
            for _, writer in streams:
                writer.write(request.encode())
            texts = [(await reader.read()).decode() for reader, _ in streams]
            for _, writer in streams:
                writer.close()
            return [int(PROCESS_ID.search(text).group(1)) for text in texts]  # type: ignore[union-attr]

        served = Counter(asyncio.run(open_all()))
        assert len(served) == 2 and min(served.values()) >= 4, served
