"""The access log of `calserver serve --access-log`: one line per request, tokens and keys
redacted; without the option, no line at all."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.support.processes import CALSERVER, LISTENING
from web.accesslog import redact


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CALSERVER_")}
    return {**base, "CALSERVER_DATA_DIR": str(tmp_path / "data"),
            "CALSERVER_DATABASE_URL": database_url}  # fmt: skip


def _serve_and_poll(env: dict[str, str], *flags: str) -> tuple[list[str], str]:
    """Serve with the demo, subscribe and poll the feed; the server's output and the token."""
    process = subprocess.Popen(
        [*CALSERVER, "serve", "--port", "0", *flags], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []
    try:
        for line in process.stdout:
            lines.append(line)
            if match := LISTENING.search(line):
                url = match.group(1)
                break
        request = urllib.request.Request(
            f"{url}/s/demo/news", data=b"{}", method="POST",
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as answer:
            feed_url = json.loads(answer.read())["feed_url"]
        token = feed_url.rsplit("/", 1)[1].removesuffix(".ics")
        path = feed_url.split("/", 3)[3]
        with urllib.request.urlopen(f"{url}/{path}", timeout=10) as answer:
            assert answer.status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=20)
    return lines + rest.splitlines(), token


def test_one_redacted_line_per_request_when_asked(env: dict[str, str]) -> None:
    lines, token = _serve_and_poll(env, "--access-log")
    # Lines are written in batches: one record, one line per request.
    logged = "\n".join(lines).split("calserver.access: ", 1)[1]
    assert re.search(r"^[\d:.]+ POST /s/demo/news 201 \d+ [\d.]+ms$", logged, re.M)
    assert re.search(r"^[\d:.]+ GET /f/\[token\]\.ics 200 \d+ [\d.]+ms$", logged, re.M)
    assert not any(token in line for line in lines)
    quiet, _ = _serve_and_poll(env)
    assert not any("calserver.access" in line for line in quiet)


def test_tokens_and_keys_are_redacted_wherever_they_are() -> None:
    assert redact("/dav/MQ.abcdefghijklmnop1234/calendar/e1.ics") == "/dav/[token]/calendar/e1.ics"
    assert redact("/m/MQ.abcdefghijklmnop1234?x=1") == "/m/[token]?x=1"
    assert redact("/dlr/sms/anything-at-all") == "/dlr/sms/[token]"
    assert redact("/f/MQ.abcdefghijklmnop1234.ics") == "/f/[token].ics"
    assert redact("/p/xyz/qr.png") == "/p/[token]/qr.png"
    assert redact("/s/demo/news?k=csk_secretsecret") == "/s/demo/news?k=[token]"
    assert redact("/api/v1/segments/news/events") == "/api/v1/segments/news/events"
