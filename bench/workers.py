"""Both cores: `calserver serve --workers 2` against `--workers 1`, in the same run.

Two servers on their own data directories (or scratch PostgreSQL databases), each with the
same 50-event segment and one subscription; nothing is pinned (the point is to use both
cores), and wrk (2 threads, 32 connections) loads one server at a time, alternating, for a
304 and a 200 of the feed. Reports requests per second (the figure `--workers` is for) and
server CPU per request (all processes of the server, from /proc).

    .venv/bin/python bench/workers.py
    .venv/bin/python bench/workers.py --database-url "$CALSERVER_TEST_POSTGRES_URL"
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from external import (
    CALSERVER,
    calserver_env,
    create_workspace,
    process,
    run_wrk,
    scratch_database,
    settle,
    tree_cpu,
)
from feed import setup

FLUSH_SECONDS = 5.0


def main(args: argparse.Namespace) -> None:
    with ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="calserver-bench-workers-"))
        servers: dict[int, tuple[int, str, str]] = {}
        for count in (1, 2):
            data = Path(tmp) / str(count)
            data.mkdir()
            url = stack.enter_context(scratch_database(args.database_url))
            env = calserver_env(str(data), url, poll_flush_seconds=str(FLUSH_SECONDS),
                                workers=str(count))  # fmt: skip
            key = create_workspace(env)
            pid, base = stack.enter_context(process([*CALSERVER, "serve", "--port", "0"], env))
            path, etag, _ = asyncio.run(setup(base, key, 50))
            servers[count] = (pid, base + path, etag)
        results: dict[tuple[int, str], list[tuple[float, float]]] = {}
        for r in range(args.rounds + 1):  # round 0 warms up and is discarded
            for count in (1, 2) if r % 2 else (2, 1):
                pid, url, etag = servers[count]
                for kind, headers in (("304", {"If-None-Match": etag}), ("200", {})):
                    before = tree_cpu(pid)
                    load = run_wrk(url, headers, args.seconds, 32, None, threads=2)
                    settle(FLUSH_SECONDS + 0.5)
                    us = (tree_cpu(pid) - before) / load.requests * 1e6
                    if r:
                        results.setdefault((count, kind), []).append((load.rps, us))
                    print(
                        f"round {r}: --workers {count} {kind}: {load.rps:,.0f} req/s, {us:.1f} µs CPU"
                    )
    med = statistics.median
    print("\n| request | --workers 1 req/s | --workers 2 req/s | ratio | CPU µs (1 / 2) |")
    print("|---|---:|---:|---:|---:|")
    for kind in ("304", "200"):
        one, two = results[(1, kind)], results[(2, kind)]
        rps1, rps2 = med(x for x, _ in one), med(x for x, _ in two)
        print(f"| {kind} | {rps1:,.0f} | {rps2:,.0f} | {rps2 / rps1:.2f}× "
              f"| {med(u for _, u in one):.1f} / {med(u for _, u in two):.1f} |")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default="", help="PostgreSQL server; empty: SQLite")
    args: Any = parser.parse_args()
    main(args)
