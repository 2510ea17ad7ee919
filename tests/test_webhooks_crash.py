"""A server killed (SIGKILL) after committing a change but before sending its webhook: the
next process sends it, once, with the same event id (at-least-once from a durable outbox)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from calserver.config import Config
from storage.engine import create_engine
from storage.models import OutboxMessage
from tests.conftest import TEST_SECRET
from tests.support.processes import http, run
from tests.test_recorder_crash import start, stop


class Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append(
            {"id": self.headers["Calserver-Event-Id"], "payload": json.loads(body)}
        )  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


async def outbox(database_url: str) -> list[tuple[str, bool]]:
    engine = create_engine(Config({"database_url": database_url, "secrets": [TEST_SECRET]}))
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(OutboxMessage.event_id, OutboxMessage.delivered_at)
            )
            return [(event_id, delivered is not None) for event_id, delivered in rows.all()]
    finally:
        await engine.dispose()


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CALSERVER_")}
    return {**base, "CALSERVER_DATA_DIR": str(tmp_path / "data"), "CALSERVER_DATABASE_URL": database_url,
            "CALSERVER_DEMO": "false", "CALSERVER_WEBHOOK_ALLOW_PRIVATE": "true"}  # fmt: skip


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.shutdown()
    server.server_close()


def test_killed_between_commit_and_send(
    env: dict[str, str], database_url: str, receiver: Receiver
) -> None:
    key = run(["workspace", "create", "acme"], env).stdout.strip().splitlines()[-1]
    # The first process never gets round to sending: its sender waits an hour.
    process, base = start({**env, "CALSERVER_WEBHOOK_POLL_SECONDS": "3600"})
    try:
        assert (
            http(
                f"{base}/api/v1/webhooks",
                key,
                {"url": receiver.url, "events": ["subscription.created"]},
            )[0]
            == 201
        )
        assert http(f"{base}/api/v1/segments", key, {"slug": "news", "name": "News"})[0] == 201
        assert (
            http(f"{base}/s/acme/news", None, {})[0] == 201
        )  # commits the subscription and its message
    finally:
        stop(process, signal.SIGKILL)
    [(event_id, delivered)] = asyncio.run(outbox(database_url))
    assert not delivered and receiver.received == []
    process, base = start({**env, "CALSERVER_WEBHOOK_POLL_SECONDS": "0.2"})
    try:
        # Marked delivered only after the receiver took it; never sent again after that.
        deadline = time.monotonic() + 15
        while asyncio.run(outbox(database_url)) != [(event_id, True)]:
            assert time.monotonic() < deadline, receiver.received
            time.sleep(0.05)
    finally:
        stop(process, signal.SIGTERM)
    assert [r["id"] for r in receiver.received] == [event_id]
    assert receiver.received[0]["payload"]["type"] == "subscription.created"
    assert asyncio.run(outbox(database_url)) == [(event_id, True)]
