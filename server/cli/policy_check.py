"""`up` and `serve` check the policy folder before they start anything.

A service whose policies do not load answers 503 to every decision, so by
default it does not start at all: every problem is printed (FILE:LINE:COL, as
`channel-router policy validate` prints them) and the command exits 1. With
`--allow-invalid-policies` it starts anyway and stays unready (/ready 503)
until `POST /v1/policies/reload` succeeds, which suits a deployment that
fixes its policy folder while running.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

ALLOW_FLAG = "--allow-invalid-policies"


def add_flag(parser: Any) -> None:
    """Add --allow-invalid-policies to a service sub-command."""
    parser.add_argument(
        ALLOW_FLAG,
        action="store_true",
        help="start even if the policy folder does not load; /ready answers 503 until "
        "POST /v1/policies/reload succeeds",
    )


def policies_usable(
    command: str, policy_dir: Path, args: argparse.Namespace, out: TextIO = sys.stderr
) -> bool:
    """True when the folder loads, or when the flag allows starting without it.

    Prints every problem either way; the caller exits 1 on False.
    """
    from engine import PolicyProblems, load_policy_dir

    try:
        load_policy_dir(policy_dir)
        return True
    except PolicyProblems as exc:
        problems = [str(p) for p in exc.problems]
    allowed = bool(getattr(args, "allow_invalid_policies", False))
    print(
        f"channel-router {command}: the policy folder {policy_dir} does not load "
        f"({len(problems)} problem(s)):",
        file=out,
    )
    for line in problems:
        print(line, file=out)
    if allowed:
        print(
            f"starting anyway ({ALLOW_FLAG}): /ready answers 503 and decisions are refused "
            "until POST /v1/policies/reload succeeds",
            file=out,
        )
    else:
        print(
            f"not starting. Fix the files (`channel-router policy validate {policy_dir}` checks "
            f"them), or start unready with {ALLOW_FLAG}.",
            file=out,
        )
    out.flush()
    return allowed
