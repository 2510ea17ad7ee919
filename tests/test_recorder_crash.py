"""Killing the server between flushes loses at most one interval of poll telemetry, never
a subscription."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from calserver.config import Config
from storage.engine import create_engine
from storage.models import Poll, Subscription
from tests.conftest import TEST_SECRET
from tests.support.processes import CALSERVER, LISTENING, fetch, http, run

FLUSH_SECONDS = 1.0


def start(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [*CALSERVER, "serve", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if match := LISTENING.search(line):
            return process, match.group(1)
    raise AssertionError("server did not start")


def stop(process: subprocess.Popen[str], sig: int) -> None:
    process.send_signal(sig)
    process.wait(timeout=20)
    if process.stdout is not None:
        process.stdout.close()


async def counts(database_url: str) -> tuple[int, int]:
    engine = create_engine(Config({"database_url": database_url, "secrets": [TEST_SECRET]}))
    try:
        async with engine.connect() as connection:
            polls = await connection.scalar(select(func.count(Poll.id)))
            subscriptions = await connection.scalar(select(func.count(Subscription.id)))
    finally:
        await engine.dispose()
    return int(polls or 0), int(subscriptions or 0)


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CALSERVER_")}
    return {**base, "CALSERVER_DATA_DIR": str(tmp_path / "data"), "CALSERVER_DATABASE_URL": database_url,
            "CALSERVER_DEMO": "false", "CALSERVER_POLL_FLUSH_SECONDS": str(FLUSH_SECONDS)}  # fmt: skip


def test_sigkill_between_flushes(env: dict[str, str], database_url: str) -> None:
    key = run(["workspace", "create", "acme"], env).stdout.strip().splitlines()[-1]
    process, base = start(env)
    try:
        assert http(f"{base}/api/v1/segments", key, {"slug": "news", "name": "News"})[0] == 201
        feeds = [
            urlsplit(http(f"{base}/s/acme/news", None, {})[1]["feed_url"]).path for _ in range(5)
        ]
        for path in feeds:
            assert fetch(base + path)[0] == 200
        deadline = time.monotonic() + 10 * FLUSH_SECONDS
        while asyncio.run(counts(database_url))[0] < len(feeds):  # until a flush has run
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for path in feeds * 2:
            assert fetch(base + path)[0] == 200
    finally:
        stop(process, signal.SIGKILL)  # no shutdown, no last flush
    polls, subscriptions = asyncio.run(counts(database_url))
    assert subscriptions == 5  # written by their own requests: never lost
    # The first five polls were flushed; the last ten may be lost, but no more than them.
    assert 5 <= polls <= 15
    process, base = start(env)
    try:
        assert fetch(base + feeds[0])[0] == 200  # links keep working after the crash
    finally:
        stop(process, signal.SIGTERM)
    assert asyncio.run(counts(database_url))[0] >= polls + 1  # a clean stop writes what is pending
