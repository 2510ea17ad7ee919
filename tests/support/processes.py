"""Running the real `calserver` command in subprocesses on 127.0.0.1."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CALSERVER = [sys.executable, "-m", "web"]
LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


def run(
    args: list[str], env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CALSERVER, *args], env=env, input=stdin if stdin is not None else "",
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@contextmanager
def serving(
    args: list[str], env: dict[str, str], *, with_log: bool = False
) -> Iterator[tuple[str, list[str]]]:
    """Start `calserver serve` on a free port; yield its URL and the lines it printed (with
    its log on stderr too when ``with_log``: keep the requests few then, as nobody reads on)."""
    # Without ``with_log`` the log goes to a file nobody reads, unless the server fails: then
    # its end is in the assertion (a child of `serve --workers` that dies says why there).
    log_file = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed in finally)
    process = subprocess.Popen(
        [*CALSERVER, "serve", "--port", "0", *args], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if with_log else log_file, text=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if match := LISTENING.search(line):
                yield match.group(1), lines
                break
        else:
            raise AssertionError(f"server did not start: {lines}")
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=20)
        if process.stdout is not None:
            process.stdout.close()
        log_file.seek(0)
        log_tail = log_file.read()[-6000:]
        log_file.close()
        assert code == 0, f"calserver serve exited with {code}; its log ends:\n{log_tail}"


def http(
    url: str, key: str | None = None, body: Any = None, method: str | None = None
) -> tuple[int, Any]:
    """A JSON request; returns (status, parsed body)."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers.update({"Content-Type": "application/json", "Accept": "application/json"})
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, _decode(answer.headers.get("Content-Type", ""), answer.read())
    except urllib.error.HTTPError as error:
        return error.code, _decode(error.headers.get("Content-Type", ""), error.read())


def _decode(content_type: str, body: bytes) -> Any:
    return json.loads(body) if "json" in content_type else body.decode()


def fetch(url: str) -> tuple[int, bytes]:
    """A plain GET, as a calendar client polls."""
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
