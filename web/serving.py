"""`calserver serve --workers N`: N processes answering on one port.

The parent reserves the port (a socket bound with SO_REUSEPORT, never listening), brings the
schema up to date once, then forks N children that each listen on the port with a socket of
their own: the kernel deals connections out among them. On one shared listening socket the
child that woke first accepted every connection waiting (asyncio takes up to 100 at a time),
so a burst — wrk's 32 connections, a load balancer's pool — went to one process and the
others idled. Without SO_REUSEPORT (not Linux) the children share the parent's socket.
The port is announced once every child listens.
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
import sys
from collections.abc import Callable, Sequence
from multiprocessing.connection import wait
from typing import Any

from aiohttp import web
from sqlalchemy.engine import make_url

from calserver.config import Config
from web.dispatch import Runner

log = logging.getLogger("calserver")
STOP_SECONDS = 30.0
BACKLOG = 1024
REUSE_PORT = hasattr(socket, "SO_REUSEPORT") and sys.platform == "linux"  # Linux balances


def shares_senders(config: Config) -> bool:
    """Whether every process may run the cascade worker and webhook sender (PostgreSQL)."""
    return make_url(config.resolved_database_url).get_dialect().name == "postgresql"


def listening_socket(host: str, port: int) -> socket.socket:
    """The port's socket: SO_REUSEPORT where there is one, listening only without it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if REUSE_PORT:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    if not REUSE_PORT:
        sock.listen(BACKLOG)
    sock.setblocking(False)
    return sock


def _child_socket(reserved: socket.socket) -> socket.socket:
    """A child's own listening socket on the reserved port (or the shared one)."""
    if not REUSE_PORT:
        return reserved
    host, port = reserved.getsockname()[:2]
    sock = listening_socket(host, port)
    sock.listen(BACKLOG)
    return sock


def serve_processes(
    config: Config,
    count: int,
    make_app: Callable[[Config, bool], web.Application],
    announce: Callable[[int], None],
) -> int:
    """Fork ``count`` children serving ``make_app(config, runs_senders)`` on one port."""
    sock = listening_socket(config.host, config.port)
    shared = shares_senders(config)
    context = multiprocessing.get_context("fork")  # the children inherit the bound socket
    ready = [context.Event() for _ in range(count)]
    children = [
        context.Process(
            target=_child,
            args=(make_app, config, shared or index == 0, sock, ready[index]),
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
        while (
            not stop and all(c.is_alive() for c in children) and not all(r.is_set() for r in ready)
        ):
            wait([child.sentinel for child in children], timeout=0.05)  # each one listening
        if all(r.is_set() for r in ready):
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
    reserved: socket.socket,
    ready: Any,
) -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)  # the loop's handlers take over below
    asyncio.run(_serve_socket(make_app(config, runs_senders), _child_socket(reserved), ready))


async def _serve_socket(app: web.Application, sock: socket.socket, ready: Any) -> None:
    runner = Runner(app, freeze=True, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        ready.set()
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopped.set)
        await stopped.wait()
    finally:
        await runner.cleanup()
