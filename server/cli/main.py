"""The `channel-router` command.

Each area registers its own sub-commands, so this file only composes them:
policy tooling (`server.cli.policy`), the service processes
(`server.cli.service`, `server.cli.up`), local state (`server.cli.reset`) and
the marketplace sandbox (`sandbox.cli`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from sandbox import cli as sandbox_cli
from server.cli import policy as cli_policy
from server.cli import prune as cli_prune
from server.cli import reset as cli_reset
from server.cli import service as cli_service
from server.cli import up as cli_up


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="channel-router",
        description="Policy-driven routing of clearance inventory.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    cli_service.register(commands)
    cli_up.register(commands)
    cli_reset.register(commands)
    sandbox_cli.register(commands)
    cli_policy.register(commands)
    cli_prune.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the chosen command; returns the exit code."""
    args = build_parser().parse_args(argv)
    code: int = args.handler(args)
    return code
