"""`channel-router sandbox`: the marketplace stand-ins on one port (CONTRACT §6)."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: Any) -> None:
    """Add `sandbox [--host 127.0.0.1] [--port 8100]` to the `channel-router` parser."""
    parser = commands.add_parser(
        "sandbox", help="local stand-ins of the eBay, Amazon and Shopify APIs (CONTRACT §6)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8100, help="port to listen on (default 8100)")
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
    import uvicorn

    from sandbox.app import create_app

    host = "localhost" if args.host in ("0.0.0.0", "::") else args.host
    if ":" in host:
        host = f"[{host}]"
    base_url = f"http://{host}:{args.port}"
    print(f"marketplace sandbox on {base_url}  (control: {base_url}/_sandbox/state)")
    print("point the service at it with:")
    for line in env_lines(base_url):
        print(f"  export {line}")
    print("OAuth codes starting with 'good' are accepted; Shopify tokens must start with 'good'.")
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="warning")
    return 0
