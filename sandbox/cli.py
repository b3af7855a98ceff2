"""`channel-router sandbox`: the marketplace stand-ins on one port (docs/connectors.md)."""

from __future__ import annotations

import argparse
import socket
from typing import Any

DEFAULT_PORT = 8100


def register(commands: Any) -> None:
    """Add `sandbox [--host 127.0.0.1] [--port 8100]` to the `channel-router` parser."""
    parser = commands.add_parser(
        "sandbox", help="local stand-ins of the eBay, Amazon and Shopify APIs (docs/connectors.md)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT})"
    )
    # `channel-router up` binds the port itself and hands the socket over.
    parser.add_argument("--fd", type=int, help=argparse.SUPPRESS)
    parser.set_defaults(handler=run)


def env_lines(base_url: str) -> list[str]:
    """The environment that points the service's connectors at a sandbox on `base_url`."""
    return [
        f"CHANNEL_ROUTER_EBAY_BASE_URL={base_url}",
        f"CHANNEL_ROUTER_AMAZON_BASE_URL={base_url}",
        f"CHANNEL_ROUTER_AMAZON_TOKEN_URL={base_url}/auth/o2/token",
        f"CHANNEL_ROUTER_SHOPIFY_BASE_URL={base_url}",
    ]


def run(args: argparse.Namespace) -> int:
    """Serve the sandbox until Ctrl-C."""
    from sandbox.app import create_app
    from server import logs
    from server.processes.http_server import serve_http

    log_config = logs.configure_for("sandbox")
    if log_config is None:
        return 2
    host = "localhost" if args.host in ("0.0.0.0", "::") else args.host
    if ":" in host:
        host = f"[{host}]"
    base_url = f"http://{host}:{args.port}"
    if args.fd is None:
        print(f"marketplace sandbox on {base_url}  (index: {base_url}/)")
        print("point the service at it with:")
        for line in env_lines(base_url):
            print(f"  export {line}")
        print(
            "OAuth codes starting with 'good' are accepted; Shopify tokens must start with 'good'."
        )
    sock = socket.socket(fileno=args.fd) if args.fd is not None else None
    try:
        started = serve_http(
            create_app(),
            host=args.host,
            port=args.port,
            sock=sock,
            log_level="warning",  # uvicorn's own start and stop lines; ours keep their level
            log_config=log_config,
        )
    except KeyboardInterrupt:
        return 0
    return 0 if started else 3
