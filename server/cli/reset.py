"""`channel-router reset`: remove the local state (docs/operations.md, "Local state").

Without options it deletes the data directory: the default SQLite database
(merchants, settings, credentials, decision log), the admin token and
credentials key that `up` generated, and the private Redis's files. A
database configured elsewhere (PostgreSQL, or a SQLite file outside the data
directory) is not touched. `--credentials` instead deletes only the stored
channel credentials and the key fingerprint from the configured database: the
way out when the credentials key is lost. Both ask first, unless `--yes`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(commands: Any) -> None:
    """Add `reset` to the `channel-router` parser."""
    reset = commands.add_parser(
        "reset",
        help="delete local state (the data directory), or only the stored channel credentials",
        description=(__doc__ or "").split("\n\n", 1)[1],
    )
    reset.add_argument("--yes", "-y", action="store_true", help="do not ask")
    reset.add_argument(
        "--credentials",
        action="store_true",
        help="delete only the stored channel credentials and the key fingerprint "
        "(when the credentials key is lost)",
    )
    reset.set_defaults(handler=run_reset)


def confirm(question: str) -> bool:
    """Ask on the terminal (or stdin); only 'y' or 'yes' agrees, end of input does not."""
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        print()
        return False
    return answer.strip().lower() in ("y", "yes")


def run_reset(args: argparse.Namespace) -> int:
    from server.config import ServiceConfig
    from server.local_state import LocalState, StateInUse

    config = ServiceConfig.from_env()
    state = LocalState(config.data_dir)
    if args.credentials:
        return _forget_credentials(config, yes=args.yes)
    contents = state.contents()
    if not contents:
        print(f"nothing to remove: {state.root} is empty or absent")
        return 0
    try:
        with state.lock():
            print(f"data directory {state.root} holds:")
            for path in contents:
                print(f"  {path.name}{'/' if path.is_dir() else ''}")
            database = config.database_url
            if not database.startswith(f"sqlite:///{state.root}/"):
                print("the configured database is outside it and is not touched")
            if not args.yes and not confirm(f"delete {state.root} and everything in it?"):
                print("nothing removed")
                return 1
            state.remove()
    except StateInUse as exc:
        print(f"channel-router reset: {exc}; stop it first", file=sys.stderr)
        return 2
    print(f"removed {state.root}")
    return 0


def _forget_credentials(config: Any, *, yes: bool) -> int:
    import asyncio

    from server.config import redact_url as redact
    from server.db.connection import make_engine, migrate
    from server.db.service_state import forget_credentials
    from server.db.tables import build_tables

    where = redact(config.database_url)
    question = f"delete every stored channel credential in {where}? Merchants reconnect after."
    if not yes and not confirm(question):
        print("nothing removed")
        return 1

    async def run() -> int:
        engine = make_engine(config.database_url)
        tables = build_tables(engine)
        await migrate(engine, tables)
        return await forget_credentials(tables)

    count = asyncio.run(run())
    print(f"removed {count} stored channel credential(s) and the key fingerprint from {where}")
    return 0
