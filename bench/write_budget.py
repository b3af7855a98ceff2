"""Cost of the per-key write budget on the decide path, against decoding the request.

`WriteBudget.spend` for one row, on its fast path (the key's lease in this
process) and with refills from Redis (one round trip per 1/50 of the limit),
next to the strict decode of the CONTRACT sample request that every decide
pays anyway. Redis: CHANNEL_ROUTER_REDIS_URL, else redis://127.0.0.1:6379/0.

    .venv/bin/python bench/write_budget.py [--calls 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[0] = str(REPO)  # not bench/, whose http.py would shadow the standard library

from engine.types import DecideRequest  # noqa: E402
from server.api.decoding import BodyDecoder  # noqa: E402
from server.auth import Principal  # noqa: E402
from server.write_budget import WriteBudget, parse_rate  # noqa: E402


async def per_call(budget: WriteBudget, principal: Principal, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        await budget.spend(principal, 1)
    return (time.perf_counter() - started) / calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200_000)
    args = parser.parse_args()
    redis_url = os.environ.get("CHANNEL_ROUTER_REDIS_URL", "redis://127.0.0.1:6379/0")
    sample = json.loads((REPO / "examples" / "dead-stock.json").read_text())
    sample.pop("settings", None)
    body = json.dumps(sample).encode()
    decoder = BodyDecoder(DecideRequest)
    started = time.perf_counter()
    for _ in range(args.calls):
        decoder.decode(body)
    decode = (time.perf_counter() - started) / args.calls

    async def run() -> tuple[float, float, int]:
        prefix = f"bench-{secrets.token_hex(4)}"
        rate = parse_rate("1000000000 per 10 seconds", 10_000)
        principal = Principal(is_admin=False, merchant_id="bench")
        budget = WriteBudget(rate, redis_url, key_prefix=prefix)
        await budget.spend(principal, 1)  # first lease
        fast = await per_call(budget, principal, args.calls)
        # A limit whose lease is 10 rows: a Redis round trip every 10 calls.
        small = WriteBudget(parse_rate("500 per 10 seconds", 1), redis_url, key_prefix=prefix)
        refill = await per_call(small, principal, min(args.calls, 400))
        calls = small.shared_calls
        await budget.close()
        await small.close()
        return fast, refill, calls

    fast, refill, calls = asyncio.run(run())
    print(f"strict decode of the sample request: {decode * 1e6:8.2f} us (reference)")
    print(
        f"spend(1 row), lease in hand:         {fast * 1e6:8.2f} us = {fast / decode:.2f}x decode"
    )
    print(
        f"spend(1 row), lease of 10 rows:      {refill * 1e6:8.2f} us = {refill / decode:.2f}x "
        f"decode ({calls} Redis calls for {min(args.calls, 400)} rows)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
