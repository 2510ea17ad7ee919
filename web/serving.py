"""`calserver serve --workers N`: N processes answering on one port.

The parent binds the listening socket, brings the schema up to date once, then forks N
children that accept on that same socket (the kernel hands each connection to one of them).
Each child builds its own app: its own lookup connection, feed cache and poll recorder —
caches stay coherent through the versions every poll reads. On SQLite, one database file
with one writer at a time, only the first child runs the cascade worker and the webhook
sender; on PostgreSQL every child does (claims and leases keep them from sending anything
twice). SIGTERM or SIGINT to the parent stops every child gracefully (each writes its
recorded polls); if a child dies, the parent stops the others and exits non-zero.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import socket
from collections.abc import Callable, Sequence
from multiprocessing.connection import wait
from typing import Any

from aiohttp import web
from sqlalchemy.engine import make_url

from calserver.config import Config
from web.dispatch import Runner

log = logging.getLogger("calserver")
STOP_SECONDS = 30.0


def shares_senders(config: Config) -> bool:
    """Whether every process may run the cascade worker and webhook sender (PostgreSQL)."""
    return make_url(config.resolved_database_url).get_dialect().name == "postgresql"


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def serve_processes(
    config: Config,
    count: int,
    make_app: Callable[[Config, bool], web.Application],
    announce: Callable[[int], None],
) -> int:
    """Fork ``count`` children serving ``make_app(config, runs_senders)`` on one socket."""
    sock = listening_socket(config.host, config.port)
    shared = shares_senders(config)
    context = multiprocessing.get_context("fork")  # the children inherit the bound socket
    children = [
        context.Process(
            target=_child,
            args=(make_app, config, shared or index == 0, sock),
            name=f"calserver-serve-{index}",
        )
        for index in range(count)
    ]
    stop: list[int] = []
    previous = {
        signum: signal.signal(signum, lambda signum, frame: stop.append(signum))
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        for child in children:
            child.start()
        announce(sock.getsockname()[1])
        while not stop and all(child.is_alive() for child in children):
            wait([child.sentinel for child in children], timeout=0.5)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        died = [child.name for child in children if not child.is_alive()]
        _stop_all(children)
        sock.close()
    if not stop and died:
        log.error("%s stopped unexpectedly; stopped the others", ", ".join(died))
        return 1
    return 0


def _stop_all(children: Sequence[Any]) -> None:
    for child in children:
        if child.is_alive():
            os.kill(child.pid, signal.SIGTERM)
    for child in children:
        child.join(STOP_SECONDS)
        if child.is_alive():
            log.error("%s did not stop in %s s; killed", child.name, STOP_SECONDS)
            child.kill()
            child.join()


def _child(
    make_app: Callable[[Config, bool], web.Application],
    config: Config,
    runs_senders: bool,
    sock: socket.socket,
) -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)  # the loop's handlers take over below
    asyncio.run(_serve_socket(make_app(config, runs_senders), sock))


async def _serve_socket(app: web.Application, sock: socket.socket) -> None:
    runner = Runner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopped.set)
        await stopped.wait()
    finally:
        await runner.cleanup()
