"""The service sub-commands `serve`, `migrate` and `worker` (docs/operations.md).

Heavy imports (uvicorn, litestar, piccolo) happen inside the handlers so that
`channel-router --help` stays fast. `up` lives in `server.cli.up`.
"""

from __future__ import annotations

import argparse
import socket
import sys
from typing import Any

from server import logs
from server.cli import policy_check
from server.config import ServiceConfig


def register(commands: Any) -> None:
    """Add serve, migrate and worker to the `channel-router` parser."""
    serve = commands.add_parser("serve", help="run the HTTP API (configured by the environment)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    # `up` binds the port itself (to report a busy port first) and hands the socket over.
    serve.add_argument("--fd", type=int, help=argparse.SUPPRESS)
    policy_check.add_flag(serve)
    serve.set_defaults(handler=run_serve)

    migrate = commands.add_parser("migrate", help="apply database migrations and exit")
    migrate.set_defaults(handler=run_migrate)

    worker = commands.add_parser(
        "worker",
        help="run the campaign execution worker (arq)",
        description="Run campaign jobs and schedules from the Redis queue "
        "(configured by the environment, like serve; docs/execution.md).",
    )
    worker.add_argument(
        "--burst", action="store_true", help="run the queued jobs, then exit (no schedules)"
    )
    worker.add_argument(
        "--max-jobs", type=int, help="jobs run at once (default CHANNEL_ROUTER_WORKER_MAX_JOBS, 20)"
    )
    worker.add_argument(
        "--check",
        action="store_true",
        help="exit 0 when a worker of this deployment reported healthy lately, else 1",
    )
    worker.set_defaults(handler=run_worker)


def prepare_database(config: ServiceConfig) -> tuple[list[str], str | None]:
    """Migrate the database and check the credentials key against it.

    Returns the migrations applied now and, when the service must not start,
    the reason (an unknown URL, an unreachable database, another key).
    """
    import asyncio

    from server.db.connection import DatabaseUrlError, make_engine, migrate
    from server.db.secrets_box import SecretBox
    from server.db.service_state import CredentialsKeyMismatch, check_credentials_key
    from server.db.tables import build_tables

    async def run() -> list[str]:
        engine = make_engine(config.database_url)
        tables = build_tables(engine)
        applied = await migrate(engine, tables)
        box = SecretBox(config.secret_key) if config.secret_key else None
        await check_credentials_key(tables, box)
        return applied

    try:
        return asyncio.run(run()), None
    except (DatabaseUrlError, CredentialsKeyMismatch, ValueError) as exc:
        return [], str(exc)
    except Exception as exc:  # a driver error: name it, never the URL (it may hold a password)
        return [], f"the database cannot be opened ({type(exc).__name__}: {exc})"


def run_serve(args: argparse.Namespace) -> int:
    """`channel-router serve`: `workers` processes of the app, guarded against slow clients."""
    from server.config import ConfigError, HttpServerConfig
    from server.metrics import shared_between_workers
    from server.processes.http_server import serve_http

    log_config = logs.configure_for("serve")
    if log_config is None:
        return 2
    try:
        limits = HttpServerConfig.from_env()
    except ConfigError as exc:
        print(f"channel-router serve: {exc}", file=sys.stderr)
        return 2
    config = ServiceConfig.from_env()
    if not policy_check.policies_usable("serve", config.policy_dir, args):
        return 1
    _, problem = prepare_database(config)
    if problem is not None:
        print(f"channel-router serve: {problem}", file=sys.stderr)
        return 2
    sock = socket.socket(fileno=args.fd) if args.fd is not None else None
    workers = max(1, args.workers)
    try:
        with shared_between_workers(workers):  # /metrics adds up every worker's counts
            started = serve_http(
                "server.app:create_app",
                factory=True,
                host=args.host,
                port=args.port,
                sock=sock,
                workers=workers,
                limits=limits,
                log_config=log_config,
            )
    except KeyboardInterrupt:
        return 0
    return 0 if started else 3


def run_migrate(args: argparse.Namespace) -> int:
    """`channel-router migrate`: apply what is missing to the configured database."""
    applied, problem = prepare_database(ServiceConfig.from_env())
    if problem is not None:
        print(f"channel-router migrate: {problem}", file=sys.stderr)
        return 2
    for migration_id in applied:
        print(f"applied {migration_id}")
    print(f"database is up to date ({len(applied)} migration(s) applied now)")
    return 0


def run_worker(args: argparse.Namespace) -> int:
    """`channel-router worker`: the arq worker of this deployment's campaign queue."""
    import asyncio
    import dataclasses

    from arq.worker import check_health

    from execution.patient_worker import PatientWorker
    from execution.worker import worker_settings
    from execution.worker_config import WorkerConfig
    from server.config import ConfigError

    if logs.configure_for("worker") is None:
        return 2
    config = ServiceConfig.from_env()
    try:
        worker_config = WorkerConfig.from_env(config.env)
    except ConfigError as exc:
        print(f"channel-router worker: {exc}", file=sys.stderr)
        return 2
    if args.max_jobs is not None:
        worker_config = dataclasses.replace(worker_config, max_jobs=max(1, args.max_jobs))
    if not config.redis_url:
        print(
            "channel-router worker: CHANNEL_ROUTER_REDIS_URL is not set (the job queue lives "
            "in Redis; `channel-router up` starts one for you)",
            file=sys.stderr,
        )
        return 2
    settings = worker_settings(config, worker_config)
    if args.check:
        return check_health(settings)
    _, problem = prepare_database(config)
    if problem is not None:
        print(f"channel-router worker: {problem}", file=sys.stderr)
        return 2
    if args.burst:
        settings = {**settings, "burst": True, "cron_jobs": []}
    asyncio.set_event_loop(asyncio.new_event_loop())
    worker = PatientWorker(**settings)  # rides out a Redis outage
    try:
        worker.run()
    except KeyboardInterrupt:
        return 0
    return 0
