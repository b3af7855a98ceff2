"""`channel-router up`: the whole service on embedded defaults, supervised, in one command.

What it runs, as children of this process (server.processes.supervisor), in
this order: a private Redis (unless CHANNEL_ROUTER_REDIS_URL is set), the
marketplace sandbox (unless a marketplace base URL is set), then the API
server (`serve`) and the campaign worker (`worker`). A child that dies is
restarted with backoff; Ctrl-C stops the API and the worker first and the
Redis last. Local state (SQLite database, admin token, credentials key, the
Redis's append-only file) is kept in the data directory, so a second `up`
finds what the first left (docs/operations.md, "channel-router up").
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from server.cli import policy_check
from server.config import redact_url as redact

# The variables that point the connectors at the sandbox, and the path each gets after its
# base URL. When any is set, real (or other) marketplaces are configured and no sandbox runs.
SANDBOX_ENV: dict[str, str] = {
    "CHANNEL_ROUTER_EBAY_BASE_URL": "",
    "CHANNEL_ROUTER_AMAZON_BASE_URL": "",
    "CHANNEL_ROUTER_AMAZON_TOKEN_URL": "/auth/o2/token",
    "CHANNEL_ROUTER_SHOPIFY_BASE_URL": "",
}

# The sandbox, like the real APIs, wants the service's own OAuth client.
SANDBOX_CLIENT_ENV = (
    "CHANNEL_ROUTER_EBAY_CLIENT_ID",
    "CHANNEL_ROUTER_EBAY_CLIENT_SECRET",
    "CHANNEL_ROUTER_AMAZON_CLIENT_ID",
    "CHANNEL_ROUTER_AMAZON_CLIENT_SECRET",
)

DEFAULT_SANDBOX_PORT = 8100
WORKER_NOTE = "the API keeps serving; campaigns wait until a worker runs"


def register(commands: Any) -> None:
    """Add `up` to the `channel-router` parser."""
    up = commands.add_parser(
        "up",
        help="API + worker + private Redis + SQLite + sandbox in one command, for trying it out",
        description="Run the whole service on embedded defaults; Ctrl-C stops all of it.",
    )
    up.add_argument("--host", default="127.0.0.1", help="interface of the API (default 127.0.0.1)")
    up.add_argument("--port", type=int, default=8000, help="port of the API (default 8000)")
    up.add_argument(
        "--sandbox-port",
        type=int,
        default=DEFAULT_SANDBOX_PORT,
        help=f"port of the marketplace sandbox (default {DEFAULT_SANDBOX_PORT}; "
        "a free one when that is busy)",
    )
    up.add_argument(
        "--data-dir",
        type=Path,
        help="where local state is kept (default: CHANNEL_ROUTER_DATA_DIR, "
        "else the checkout's var/)",
    )
    policy_check.add_flag(up)
    up.set_defaults(handler=run_up)


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (OSError when it cannot be had)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def busy_port_message(host: str, port: int, exc: OSError) -> str:
    """What to tell a person whose port is taken (or not theirs to take)."""
    reason = exc.strerror or str(exc)
    hint = ""
    if exc.errno == errno.EADDRINUSE:
        hint = " (is another `channel-router up` running?)"
    return (
        f"channel-router up: cannot listen on {host}:{port}: {reason}{hint}. "
        f"Stop what uses it, or choose another port: `channel-router up --port 8080` "
        f'(or `make up ARGS="--port 8080"`).'
    )


def url_host(host: str) -> str:
    """The host to reach a server bound to `host` (a wildcard means this machine)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def http_probe(url: str) -> Callable[[], bool]:
    """A probe answering True when GET `url` gives 200."""
    import httpx

    def probe() -> bool:
        try:
            return httpx.get(url, timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    return probe


def row(label: str, value: str) -> str:
    """One aligned line of the start-up summary."""
    return f"  {label + ':':<13}{value}"


def say(message: str) -> None:
    print(f"up: {message}", flush=True)


def run_up(args: argparse.Namespace) -> int:
    """`channel-router up`: bind the port first, then start, supervise and stop everything."""
    from server import logs
    from server.config import ConfigError, HttpServerConfig, ServiceConfig, data_dir_from_env

    if logs.configure_for("up") is None:
        return 2
    env = dict(os.environ)
    if args.data_dir is not None:
        env["CHANNEL_ROUTER_DATA_DIR"] = str(args.data_dir)
    try:
        HttpServerConfig.from_env(env)
        data_dir = data_dir_from_env(env)
    except ConfigError as exc:
        print(f"channel-router up: {exc}", file=sys.stderr)
        return 2
    try:
        api_socket = listen(args.host, args.port)
    except OSError as exc:
        print(busy_port_message(args.host, args.port, exc), file=sys.stderr)
        return 2
    if not policy_check.policies_usable("up", ServiceConfig.from_env(env).policy_dir, args):
        api_socket.close()
        return 1
    from server.local_state import LocalState, StateInUse

    state = LocalState(data_dir)
    with api_socket:
        try:
            state.ensure()
            with state.lock():
                return _run(args, env, state, api_socket)
        except StateInUse as exc:
            print(
                f"channel-router up: {exc}; stop it first, or use another --data-dir",
                file=sys.stderr,
            )
            return 2
        except OSError as exc:
            print(f"channel-router up: the data directory {data_dir} cannot be used: {exc}",
                  file=sys.stderr)  # fmt: skip
            return 2


def _run(
    args: argparse.Namespace, env: dict[str, str], state: Any, api_socket: socket.socket
) -> int:
    from server.cli.service import prepare_database
    from server.config import ServiceConfig
    from server.processes.supervisor import StartFailed, Supervisor

    print(f"channel-router up: data directory {state.root}", flush=True)
    notes = _local_secrets(env, state)
    config = ServiceConfig.from_env(env)
    env["CHANNEL_ROUTER_DATABASE_URL"] = config.database_url
    applied, problem = prepare_database(config)
    if problem is not None:
        print(f"channel-router up: {problem}", file=sys.stderr)
        return 2
    if applied:
        notes.append(row("migrations", f"{len(applied)} applied now"))

    supervisor = Supervisor(say)
    _handle_signals(supervisor)
    pieces = _Pieces(args, env, state, api_socket)
    try:
        pieces.add_to(supervisor)
        try:
            supervisor.start()
        except StartFailed as exc:
            print(f"channel-router up: {exc}", file=sys.stderr, flush=True)
            return 1
        if supervisor.stop_requested.is_set():
            return 0
        supervisor.check()  # a child that already failed is reported before the summary
        print(f"channel-router is running on {pieces.api_url}")
        print(row("admin token", f"{env['CHANNEL_ROUTER_ADMIN_TOKEN']}  ({notes.pop(0)})"))
        print(row("console", f"{pieces.api_url}/console (log in with a key)"))
        print(row("data", f"{state.root}  (`channel-router reset` removes it)"))
        print(row("database", redact(config.database_url)))
        print(row("policies", str(config.policy_dir.resolve())))
        for line in notes + pieces.summary():
            print(line)
        print("Ctrl-C stops everything", flush=True)
        while not supervisor.stop_requested.wait(0.2):
            supervisor.check()
        say("stopping everything (Ctrl-C again stops at once)")
        return 0
    finally:
        supervisor.stop()
        pieces.close()
        if supervisor.stop_requested.is_set():
            say("stopped")


def _local_secrets(env: dict[str, str], state: Any) -> list[str]:
    """Admin token and credentials key from the environment, else kept in the data directory.

    Returns where the token came from, then summary lines."""
    env["CHANNEL_ROUTER_DATA_DIR"] = str(state.root)
    env["PYTHONUNBUFFERED"] = "1"  # children's lines appear as they are written
    if env.get("CHANNEL_ROUTER_ADMIN_TOKEN"):
        notes = ["from CHANNEL_ROUTER_ADMIN_TOKEN"]
    else:
        env["CHANNEL_ROUTER_ADMIN_TOKEN"], created = state.admin_token()
        notes = [f"{'generated, ' if created else ''}kept in {state.admin_token_path}"]
    if not env.get("CHANNEL_ROUTER_SECRET_KEY"):
        env["CHANNEL_ROUTER_SECRET_KEY"], created = state.secret_key()
        where = f"key {'generated, ' if created else ''}kept in {state.secret_key_path}"
        notes.append(row("credentials", where))
    return notes


class _Pieces:
    """The children of one `up`: what they are, how they are started, what the summary says."""

    def __init__(
        self, args: argparse.Namespace, env: dict[str, str], state: Any, api_socket: socket.socket
    ) -> None:
        self.args, self.env, self.state = args, env, state
        self.api_socket = api_socket
        self.sockets: list[socket.socket] = []
        self.redis: Any = None
        self.sandbox: Any = None
        self.sandbox_url = ""
        self.sandbox_note = ""
        port = api_socket.getsockname()[1]
        self.api_url = f"http://{url_host(args.host)}:{port}"
        self.api: Any = None
        self.worker: Any = None

    def add_to(self, supervisor: Any) -> None:
        """Create the children and hand them to `supervisor`, in their tiers."""
        from server.console.config import SANDBOX_APP_ENV, sandbox_auth_env
        from server.processes.redis_private import PrivateRedis
        from server.processes.supervisor import Command

        env, python = self.env, [sys.executable, "-m", "server.cli"]
        if not env.get("CHANNEL_ROUTER_REDIS_URL"):
            self.redis = PrivateRedis(data_dir=self.state.redis_dir)
            env["CHANNEL_ROUTER_REDIS_URL"] = self.redis.url
            supervisor.add(self.redis, tier=0, start_timeout=30)
        if not any(env.get(name) for name in SANDBOX_ENV):
            sock, self.sandbox_note = _sandbox_socket(self.args.sandbox_port)
            self.sockets.append(sock)
            port = sock.getsockname()[1]
            self.sandbox_url = f"http://127.0.0.1:{port}"
            for name, path in SANDBOX_ENV.items():
                env[name] = self.sandbox_url + path
            for name in SANDBOX_CLIENT_ENV:
                env.setdefault(name, "sandbox")
            # The console's "Connect account" goes to the sandbox's consent pages.
            for name, url in sandbox_auth_env(self.sandbox_url).items():
                env.setdefault(name, url)
            for name in SANDBOX_APP_ENV:
                env.setdefault(name, "sandbox")
            argv = [*python, "sandbox", "--fd", str(sock.fileno()), "--port", str(port)]
            self.sandbox = Command(
                "sandbox", argv, env=env, pass_fds=[sock.fileno()],
                probe=http_probe(self.sandbox_url + "/"),
            )  # fmt: skip
            supervisor.add(
                self.sandbox, tier=1, start_timeout=60,
                note_on_exit="its listings and orders are in memory and start empty again",
            )  # fmt: skip
        fd, port = self.api_socket.fileno(), self.api_socket.getsockname()[1]
        argv = [*python, "serve", "--fd", str(fd), "--host", self.args.host, "--port", str(port)]
        if self.args.allow_invalid_policies:
            argv.append(policy_check.ALLOW_FLAG)
        self.api = Command(
            "API server", argv, env=env, pass_fds=[fd], probe=http_probe(self.api_url + "/health")
        )
        supervisor.add(self.api, tier=2, start_timeout=120)
        self.worker = Command("campaign worker", [*python, "worker"], env=env)
        supervisor.add(self.worker, tier=2, required=False, note_on_exit=WORKER_NOTE)

    def summary(self) -> list[str]:
        """The summary lines about the children (after they started: with their pids)."""
        lines = []
        if self.redis is not None:
            lines.append(
                row("redis", f"private Redis on {self.redis.url} (pid {self.redis.pid}, "
                    f"files in {self.state.redis_dir})")
            )  # fmt: skip
        else:
            lines.append(row("redis", redact(self.env["CHANNEL_ROUTER_REDIS_URL"])))
        if self.sandbox is not None:
            lines.append(
                row("sandbox", f"{self.sandbox_url} (pid {self.sandbox.pid}; connectors point at "
                    "the marketplace sandbox; open it for its index)")
            )  # fmt: skip
            if self.sandbox_note:
                lines.append(row("", self.sandbox_note))
        else:
            lines.append(row("sandbox", "not started (marketplace base URLs are configured)"))
        lines.append(row("api server", f"pid {self.api.pid}"))
        if self.worker.returncode() is None:
            lines.append(row("worker", f"campaign worker, pid {self.worker.pid}"))
        else:
            lines.append(row("worker", "campaign worker not running (see above)"))
        return lines

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


def _sandbox_socket(port: int) -> tuple[socket.socket, str]:
    """The sandbox's socket: on `port` when free, else on a free port (and a note saying so)."""
    try:
        return listen("127.0.0.1", port), ""
    except OSError as exc:
        sock = listen("127.0.0.1", 0)
        return sock, f"port {port} was busy ({exc.strerror}): took a free one"


def _handle_signals(supervisor: Any) -> None:
    """Ctrl-C / SIGTERM / SIGHUP: stop in order; a second one: stop at once."""

    def handle(signum: int, frame: FrameType | None) -> None:
        if supervisor.stop_requested.is_set():
            supervisor.force.set()
        supervisor.stop_requested.set()

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, handle)
