"""The service sub-commands: `serve`, `migrate`, `up` and `worker` (CONTRACT §1).

Heavy imports (uvicorn, litestar, piccolo) happen inside the handlers so that
`channel-router --help` stays fast.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path
from typing import Any

SANDBOX_ENV = (
    "CHANNEL_ROUTER_EBAY_BASE_URL",
    "CHANNEL_ROUTER_AMAZON_BASE_URL",
    "CHANNEL_ROUTER_AMAZON_TOKEN_URL",
    "CHANNEL_ROUTER_SHOPIFY_BASE_URL",
)

SANDBOX_CLIENT_ENV = (
    "CHANNEL_ROUTER_EBAY_CLIENT_ID",
    "CHANNEL_ROUTER_EBAY_CLIENT_SECRET",
    "CHANNEL_ROUTER_AMAZON_CLIENT_ID",
    "CHANNEL_ROUTER_AMAZON_CLIENT_SECRET",
)


def register(commands: Any) -> None:
    """Add serve, migrate, up and worker to the `channel-router` parser."""
    serve = commands.add_parser("serve", help="run the HTTP API (configured by the environment)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.set_defaults(handler=run_serve)

    migrate = commands.add_parser("migrate", help="apply database migrations and exit")
    migrate.set_defaults(handler=run_migrate)

    up = commands.add_parser(
        "up", help="API + private Redis + SQLite (+ sandbox) in one command, for trying it out"
    )
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8000)
    up.set_defaults(handler=run_up)

    worker = commands.add_parser("worker", help="run the campaign execution worker (arq)")
    worker.set_defaults(handler=run_worker)


def run_serve(args: argparse.Namespace) -> int:
    """`channel-router serve`: uvicorn with `workers` processes of the app factory."""
    import uvicorn

    from server.metrics import shared_between_workers

    workers = max(1, args.workers)
    with shared_between_workers(workers):  # /metrics adds up every worker's counts
        uvicorn.run(
            "server.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=workers,
            log_level=os.environ.get("CHANNEL_ROUTER_LOG_LEVEL", "info").lower(),
            access_log=False,
        )
    return 0


def run_migrate(args: argparse.Namespace) -> int:
    """`channel-router migrate`: apply what is missing to CHANNEL_ROUTER_DATABASE_URL."""
    import asyncio

    from server.config import ServiceConfig
    from server.db.connection import DatabaseUrlError, make_engine, migrate

    config = ServiceConfig.from_env()
    try:
        engine = make_engine(config.database_url)
    except DatabaseUrlError as exc:
        print(f"channel-router migrate: {exc}", file=sys.stderr)
        return 2
    applied = asyncio.run(migrate(engine))
    for migration_id in applied:
        print(f"applied {migration_id}")
    print(f"database is up to date ({len(applied)} migration(s) applied now)")
    return 0


def run_worker(args: argparse.Namespace) -> int:
    """`channel-router worker`: campaign execution lands with the execute issue."""
    print(
        "channel-router worker: campaign execution (the arq worker) is not available yet "
        "in this version",
        file=sys.stderr,
    )
    return 2


def secret_key_file(path: Path) -> str:
    """The secret kept in `path`, created (mode 0600) with a fresh random key if absent."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def _start_sandbox() -> tuple[Any, str]:
    """The built-in marketplace sandbox on a free port."""
    from sandbox.app import create_app as create_sandbox
    from server.processes.redis_private import free_port
    from server.processes.uvicorn_thread import UvicornThread

    server = UvicornThread(create_sandbox(), port=free_port()).start()
    return server, server.url


def run_up(args: argparse.Namespace) -> int:
    """`channel-router up`: everything on embedded defaults; Ctrl-C stops all of it."""
    import uvicorn

    from server.app import create_app
    from server.config import ServiceConfig
    from server.console.config import SANDBOX_APP_ENV, sandbox_auth_env
    from server.processes.redis_private import PrivateRedis

    env = dict(os.environ)
    notes: list[str] = []
    private_redis: PrivateRedis | None = None
    sandbox: Any = None
    try:
        if not env.get("CHANNEL_ROUTER_REDIS_URL"):
            private_redis = PrivateRedis().start()
            env["CHANNEL_ROUTER_REDIS_URL"] = private_redis.url
            notes.append(f"private Redis on {private_redis.url}")
        if not env.get("CHANNEL_ROUTER_ADMIN_TOKEN"):
            env["CHANNEL_ROUTER_ADMIN_TOKEN"] = secrets.token_urlsafe(24)
            notes.append("admin token generated for this run")
        if not env.get("CHANNEL_ROUTER_SECRET_KEY"):
            key_path = Path("var/secret.key")
            env["CHANNEL_ROUTER_SECRET_KEY"] = secret_key_file(key_path)
            notes.append(f"credentials key from {key_path} (created 0600 if it was missing)")
        if not any(env.get(name) for name in SANDBOX_ENV):
            sandbox, sandbox_url = _start_sandbox()
            for name in SANDBOX_ENV:
                env[name] = sandbox_url
            env["CHANNEL_ROUTER_AMAZON_TOKEN_URL"] = sandbox_url + "/auth/o2/token"
            # The sandbox, like the real APIs, wants the service's own OAuth client.
            for name in SANDBOX_CLIENT_ENV:
                env.setdefault(name, "sandbox")
            # The console's "Connect account" goes to the sandbox's consent pages.
            for name, url in sandbox_auth_env(sandbox_url).items():
                env.setdefault(name, url)
            for name in SANDBOX_APP_ENV:
                env.setdefault(name, "sandbox")
            notes.append(f"connectors point at the marketplace sandbox on {sandbox_url}")
        config = ServiceConfig.from_env(env)
        print(f"channel-router is starting on http://{args.host}:{args.port}")
        print(f"  admin token: {env['CHANNEL_ROUTER_ADMIN_TOKEN']}")
        print(f"  console:     http://{args.host}:{args.port}/console (log in with a key)")
        print(f"  database:    {config.database_url}")
        print(f"  policies:    {config.policy_dir}")
        for note in notes:
            print(f"  note: {note}")
        print("  the campaign worker is not part of this version yet; Ctrl-C stops everything")
        sys.stdout.flush()
        uvicorn.run(
            create_app(config), host=args.host, port=args.port, log_level="info", access_log=False
        )
        return 0
    finally:
        if sandbox is not None:
            sandbox.stop()
        if private_redis is not None:
            private_redis.stop()
