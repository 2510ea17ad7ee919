"""The `calserver` command: serve, worker, migrate, workspace create, key create/list/revoke,
user create, import.

Only this module reads files, environment and flags; everything else gets a Config.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from calserver import __version__
from calserver.config import Config, ConfigError, load_config
from calserver.options import OPTIONS

if TYPE_CHECKING:
    from aiohttp import web

    from calserver.cascade.registry import Registry

# Everything else is imported by the command that needs it: `calserver --help` and the
# store commands then start in a fraction of a second rather than loading the whole server.

log = logging.getLogger("calserver")
_TYPES: dict[str, Callable[[str], Any]] = {"int": int, "float": float, "str": str, "list": str}


def _option_flags(parser: argparse.ArgumentParser) -> None:
    """Every option as a flag; defaults stay None so unset flags do not override."""
    group = parser.add_argument_group("options (also CALSERVER_* env vars and --config TOML)")
    group.add_argument("--config", type=Path, help="TOML configuration file")
    for option in OPTIONS:
        if option.type == "bool":
            group.add_argument(
                option.flag,
                dest=option.name,
                action=argparse.BooleanOptionalAction,
                help=option.help,
            )
        else:
            group.add_argument(
                option.flag, dest=option.name, type=_TYPES[option.type], help=option.help
            )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="calserver", description="Calendar-subscription server.")
    parser.add_argument("--version", action="version", version=f"calserver {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    _option_flags(commands.add_parser("serve", help="run the HTTP server"))
    _option_flags(commands.add_parser("migrate", help="apply database migrations"))
    _option_flags(
        commands.add_parser("worker", help="run the cascade worker alone (no HTTP server)")
    )
    workspace = commands.add_parser("workspace", help="manage workspaces").add_subparsers(
        dest="action", required=True
    )
    create = workspace.add_parser("create", help="create a workspace and print its first API key")
    create.add_argument("slug")
    create.add_argument("--name", help="display name (default: the slug)")
    _option_flags(create)
    key = commands.add_parser("key", help="manage admin API keys").add_subparsers(
        dest="action", required=True
    )
    for action, text in (
        ("create", "add a key"),
        ("list", "list keys"),
        ("revoke", "revoke a key"),
    ):
        sub = key.add_parser(action, help=text)
        sub.add_argument("--workspace", required=True, help="workspace slug")
        if action == "create":
            sub.add_argument("--label", default="", help="what the key is for")
        if action == "revoke":
            sub.add_argument("prefix", help="the key's first 12 characters, as `key list` shows")
        _option_flags(sub)
    _dashboard_parsers(commands)
    return parser


def _dashboard_parsers(commands: Any) -> None:
    """`user create` and `import`: what the /admin dashboard also does."""
    user = commands.add_parser("user", help="manage dashboard users").add_subparsers(
        dest="action", required=True
    )
    user_create = user.add_parser(
        "create", help="add a user who signs in to /admin (password prompted, or read from stdin)"
    )
    user_create.add_argument("--workspace", required=True, help="workspace slug")
    user_create.add_argument("email")
    _option_flags(user_create)
    imports = commands.add_parser(
        "import", help="import events from an .ics or CSV file into a segment"
    )
    imports.add_argument("file", type=Path)
    imports.add_argument("--segment", required=True, help="segment slug")
    imports.add_argument("--workspace", help="workspace slug (needed when there are several)")
    imports.add_argument(
        "--valid-only",
        action="store_true",
        help="import the valid events even when others have errors (default: import nothing)",
    )
    _option_flags(imports)


def config_from_args(args: argparse.Namespace, environ: dict[str, str]) -> Config:
    flags = {option.name: getattr(args, option.name, None) for option in OPTIONS}
    return load_config(args.config, environ, flags)


async def _with_store(config: Config, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run ``work(session)`` in one transaction after bringing the schema up to date."""
    from storage.engine import create_engine, session_factory
    from storage.migrate import upgrade

    engine = create_engine(config)
    try:
        await upgrade(engine)
        async with session_factory(engine).begin() as session:
            return await work(session)
    finally:
        await engine.dispose()


def _cmd_workspace_create(config: Config, args: argparse.Namespace) -> int:
    from calserver.clock import Clock
    from calserver.validation import SLUG_RE
    from storage.workspaces import add_key, create_workspace

    if not SLUG_RE.match(args.slug):
        print(
            "error: the slug takes 1-64 lowercase letters, digits and inner hyphens",
            file=sys.stderr,
        )
        return 2

    async def work(session: Any) -> str:
        now = Clock().now()
        workspace = await create_workspace(
            session, args.slug, args.name or args.slug, now, config.language
        )
        return await add_key(session, workspace, "created with the workspace", now)

    key = asyncio.run(_with_store(config, work))
    print(f"Workspace {args.slug!r} created. Its admin API key (shown once):")
    print(key)
    return 0


def _cmd_key(config: Config, args: argparse.Namespace) -> int:
    from calserver.clock import Clock
    from storage.errors import NotFound
    from storage.workspaces import add_key, list_keys, revoke_key, workspace_by_slug

    async def work(session: Any) -> list[str]:
        now = Clock().now()
        workspace = await workspace_by_slug(session, args.workspace)
        if args.action == "create":
            return [await add_key(session, workspace, args.label, now)]
        if args.action == "revoke":
            count = await revoke_key(session, workspace, args.prefix, now)
            if not count:
                raise NotFound(f"no active key starting with {args.prefix!r}")
            return [f"revoked {count} key(s)"]
        return [
            f"{k.prefix}…  created {k.created_at:%Y-%m-%d}  "
            f"{'revoked' if k.revoked_at else 'active'}  {k.label}"
            for k in await list_keys(session, workspace)
        ]

    lines = asyncio.run(_with_store(config, work))
    if args.action == "create":
        print(f"New admin API key for {args.workspace!r} (shown once):")
    print("\n".join(lines))
    return 0


def _read_password() -> str:
    """Prompted twice on a terminal; else the first line of stdin (for scripts)."""
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise ValueError("the two passwords differ")
        return password
    return sys.stdin.readline().rstrip("\r\n")


def _cmd_user(config: Config, args: argparse.Namespace) -> int:
    from calserver.clock import Clock
    from calserver.passwords import hash_password, password_problem
    from storage.users import create_user
    from storage.workspaces import workspace_by_slug

    email = args.email.strip()
    if "@" not in email or len(email) > 254:
        print("error: give the user's e-mail address", file=sys.stderr)
        return 2
    try:
        password = _read_password()
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if problem := password_problem(password):
        print(f"error: password: {problem}", file=sys.stderr)
        return 2
    password_hash = hash_password(password)

    async def work(session: Any) -> None:
        workspace = await workspace_by_slug(session, args.workspace)
        await create_user(session, workspace.id, email, password_hash, Clock().now())

    asyncio.run(_with_store(config, work))
    print(f"User {email.lower()!r} can now sign in to /admin of {args.workspace!r}.")
    return 0


def _cmd_migrate(config: Config, *, quiet: bool = False) -> int:
    from storage.engine import create_engine
    from storage.migrate import upgrade

    engine = create_engine(config)

    async def run() -> None:
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    if not quiet:
        print("database is up to date")
    return 0


def _cmd_serve(config: Config) -> int:
    from calserver.demo import ensure_demo
    from calserver.signing import load_secrets
    from web.app import create_app

    for line in config.describe():
        log.info("config: %s", line)
    notes: list[str] = []
    if config.demo:
        notes = asyncio.run(_with_store(config, lambda session: ensure_demo(session, config)))
    if config.process_count == 1:
        asyncio.run(_serve_until_stopped(create_app(config), config, notes))
        return 0
    from web.serving import serve_processes

    if config.migrate_on_start:  # once, before the children start (SQLite has one writer)
        _cmd_migrate(config, quiet=True)
    load_secrets(config)  # the first start creates the secret once, not once per child
    return serve_processes(
        config.replace(migrate_on_start=False),
        config.process_count,
        lambda child, senders: create_app(child, senders=senders),
        lambda port: print(framed(_serving_lines(config, port, notes)), flush=True),
    )


def _serving_lines(config: Config, port: int, notes: Sequence[str]) -> list[str]:
    public = Config.base_url_for({**config.as_dict(), "port": port})
    processes = f" ({config.process_count} processes)" if config.process_count > 1 else ""
    return [
        *notes,
        f"Dashboard: {public}/admin",
        f"calserver {__version__} listening on http://{config.host}:{port}{processes}",
    ]


def _cmd_worker(config: Config) -> int:
    from calserver.cascade.registry import load_registry

    registry = load_registry(config)  # a bad channels file stops here, before any work
    asyncio.run(_work_until_stopped(config, registry))
    return 0


WORKER_GC_THRESHOLD = 20_000  # allocations between young collections in `calserver worker`


def _stop_signal() -> asyncio.Event:
    """Set by SIGINT or SIGTERM (then the caller shuts down cleanly). Taken before saying it
    runs, so a stop sent as soon as it says so is a clean stop too."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signame in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signame, stop.set)
    return stop


async def _work_until_stopped(
    config: Config, registry: Registry, stop: asyncio.Event | None = None
) -> None:
    """Run the cascade worker until ``stop`` is set (by default: SIGINT or SIGTERM)."""
    from calserver.cascade.service import running_worker
    from calserver.clock import Clock
    from storage.engine import create_engine, session_factory
    from storage.migrate import upgrade
    from web.dispatch import freeze_what_was_built

    engine = create_engine(config)
    try:
        if config.migrate_on_start:
            await upgrade(engine)
        freeze_what_was_built()
        # A tick keeps its batch's rows, steps and messages alive across its sends: at the
        # default threshold (700) the young generation was collected every ~20 messages,
        # 13 µs of CPU per message; with a larger one most of them die before a collection.
        gc.set_threshold(WORKER_GC_THRESHOLD, *gc.get_threshold()[1:])
        async with running_worker(
            config, engine, session_factory(engine), Clock(), registry, background=True
        ):
            stop = stop or _stop_signal()
            print(f"calserver {__version__} cascade worker running", flush=True)
            await stop.wait()
    finally:
        await engine.dispose()


def framed(lines: Sequence[str]) -> str:
    """Lines in a box, so what a person must copy (a key, a link) stands out in the log."""
    width = max(len(line) for line in lines)
    rule = "─" * (width + 2)
    return "\n".join([f"┌{rule}┐", *(f"│ {line.ljust(width)} │" for line in lines), f"└{rule}┘"])


async def _serve_until_stopped(
    app: web.Application, config: Config, notes: Sequence[str] = ()
) -> None:
    """Serve until SIGINT or SIGTERM. Prints, last and framed, the bound address (useful with
    --port 0), the dashboard's address and ``notes`` (the demo's link and key)."""
    from aiohttp import web

    from web.accesslog import LOGGER, AccessLogger
    from web.accesslog import flush as flush_access_log
    from web.dispatch import Runner

    if config.access_log:  # one line per request, tokens redacted
        runner = Runner(app, freeze=True, handle_signals=False, access_log_class=AccessLogger,
                        access_log=LOGGER)  # fmt: skip
    else:  # nothing at all per request
        runner = Runner(app, freeze=True, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port)
        await site.start()
        stop = _stop_signal()
        print(framed(_serving_lines(config, runner.addresses[0][1], notes)), flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()
        flush_access_log()


def _refusals() -> tuple[type[Exception], ...]:
    """What a command refuses with a message and status 2 rather than a traceback."""
    from calserver.channels import ChannelError  # aiohttp: only when there is one to catch
    from storage.errors import Conflict, NotFound, UnsupportedDatabase

    return (ConfigError, UnsupportedDatabase, ChannelError, Conflict, NotFound)


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args, dict(os.environ))
        logging.basicConfig(
            level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        if config.log_level.upper() != "DEBUG":
            # Alembic names each plugin it sets up, at INFO, when the commands import it.
            logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
        if args.command == "serve":
            code = _cmd_serve(config)
        elif args.command == "migrate":
            code = _cmd_migrate(config)
        elif args.command == "worker":
            code = _cmd_worker(config)
        elif args.command == "workspace":
            code = _cmd_workspace_create(config, args)
        elif args.command == "user":
            code = _cmd_user(config, args)
        elif args.command == "import":
            from calserver.cli_import import cmd_import

            code = cmd_import(config, args, _with_store)
        else:
            code = _cmd_key(config, args)
    except _refusals() as error:  # evaluated only when something was raised
        print(f"error: {error}", file=sys.stderr)
        code = 2
    sys.exit(code)
