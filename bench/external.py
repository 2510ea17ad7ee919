"""What the benchmarks against a separate bare process share: `calserver serve` and a bare
aiohttp app each in their own process pinned to one core, `wrk` pinned to the other, server
CPU read from /proc (every thread and every child process), interleaved phases.

The load generator is `wrk` from Debian (`apt-get install wrk`), an external C program, so
the client costs the server's core nothing. See bench/README.md.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CALSERVER = [sys.executable, "-m", "web"]
LISTENING = re.compile(r"listening on (http://[\d.]+:\d+)")
BARE_APP = str(Path(__file__).resolve().parent / "bare_app.py")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cores() -> tuple[str | None, str | None]:
    """(server core, load core): the first and the last CPU, or no pinning on one CPU."""
    count = os.cpu_count() or 1
    return ("0", str(count - 1)) if count > 1 and shutil.which("taskset") else (None, None)


def pinned(command: list[str], core: str | None) -> list[str]:
    return ["taskset", "-c", core, *command] if core is not None else command


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) and of its live children."""
    total = 0.0
    for each in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


@dataclass
class Load:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise RuntimeError(f"wrk printed a latency of {text!r}")
    return float(match.group(1)) * _UNIT[match.group(2)]


def run_wrk(url: str, headers: dict[str, str], seconds: float, connections: int,
            core: str | None, threads: int = 1) -> Load:  # fmt: skip
    """`wrk` with ``connections`` connections for ``seconds``, pinned to ``core``."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (see bench/README.md)")
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{round(seconds)}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(
        pinned([*command, url], core),
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    done = re.search(r"(\d+) requests in ([\d.]+)(ms|s)", out)
    if done is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    elapsed = float(done.group(2)) / (1000 if done.group(3) == "ms" else 1)
    p50 = re.search(r"^\s+50(?:\.000)?%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99(?:\.000)?%\s+(\S+)", out, re.M)
    errors = " ".join(
        line.strip() for line in out.splitlines() if "errors" in line or "Non-2xx" in line
    )
    return Load(int(done.group(1)), elapsed, _ms(p50.group(1)) if p50 else 0.0,
                _ms(p99.group(1)) if p99 else 0.0, errors)  # fmt: skip


def calserver_env(data: str, database_url: str = "", **options: str) -> dict[str, str]:
    env = {
        **os.environ,
        "CALSERVER_DATA_DIR": data,
        "CALSERVER_DEMO": "false",
        "CALSERVER_LOG_LEVEL": "warning",
        "CALSERVER_PUBLIC_URL": "https://cal.example.test",
    }
    env.pop("CALSERVER_DATABASE_URL", None)
    if database_url:
        env["CALSERVER_DATABASE_URL"] = database_url
    env.update({f"CALSERVER_{k.upper()}": v for k, v in options.items()})
    return env


def create_workspace(env: dict[str, str], slug: str = "bench") -> str:
    """`calserver workspace create`; returns its admin key."""
    done = subprocess.run([*CALSERVER, "workspace", "create", slug], env=env,
                          capture_output=True, text=True, check=True)  # fmt: skip
    return done.stdout.strip().splitlines()[-1]


@contextmanager
def process(command: list[str], env: dict[str, str] | None = None) -> Iterator[tuple[int, str]]:
    """Start a server that prints "listening on URL"; yield (pid, base URL); stop it."""
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        base = ""
        for line in server.stdout:
            if match := LISTENING.search(line):
                base = match.group(1)
                break
        if not base:
            raise RuntimeError(f"{command[:4]} did not start")
        yield server.pid, base
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stdout is not None:
            server.stdout.close()


_SCRATCH = itertools.count()


@contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """A fresh database on the PostgreSQL server of ``server_url`` (its URL), dropped after;
    with an empty URL, yields "" (the caller uses SQLite)."""
    if not server_url:
        yield ""
        return
    import asyncio

    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    name = f"calserver_bench_{os.getpid()}_{next(_SCRATCH)}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def run(sql: str) -> None:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run(f"CREATE DATABASE {name}"))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(run(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def postgres_pids() -> list[int]:
    """Every PostgreSQL process on this machine (the bench's own server, from scripts/pg)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def settle(seconds: float) -> None:
    """Let a server finish what a phase left behind (a poll flush) before its CPU is read."""
    time.sleep(seconds)
