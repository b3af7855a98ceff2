"""The framework ceiling for bench/http.py: a bare Litestar app with the shapes of /v1/decide.

No database, no auth, no engine, no middleware: each route decodes a
DecideRequest-shaped body and answers one constant Decision-shaped body (a real
decision of the default policy, trace included, so the bytes match ours). Three
ways of writing the same route show what each layer of the framework costs:

- `POST /typed`: a typed handler (`data: DecideRequest -> Decision`), Litestar
  decoding and encoding;
- `POST /msgspec`: the body decoded and the answer encoded with msgspec directly
  in a plain handler (what a lean route does);
- `POST /asgi`: a Litestar `@asgi` route, ASGI messages by hand.

`GET /health` is the same handler as ours. Served by `run()` with the settings
`channel-router serve` uses (uvicorn, httptools, uvloop, no access log).

    .venv/bin/python bench/reference/app.py --port 8300
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
from litestar import Litestar, Request, Response, asgi, get, post  # noqa: E402
from litestar.types import Receive, Scope, Send  # noqa: E402

from engine import DecideRequest, Decision, Engine, Settings, load_policy_dir  # noqa: E402
from server.api.types import Health  # noqa: E402

_decoder = msgspec.json.Decoder(DecideRequest)
_encoder = msgspec.json.Encoder()
_JSON_HEADERS = [(b"content-type", b"application/json")]


def constant_decision() -> Decision:
    """The decision ours gives for the bench's sample request (examples/dead-stock.json)."""
    sample = json.loads((ROOT / "examples" / "dead-stock.json").read_text())
    settings = msgspec.convert(sample.pop("settings"), Settings)
    request = msgspec.convert({**sample, "merchant_id": "bench"}, DecideRequest)
    return Engine(load_policy_dir(ROOT / "policies")).decide(request, settings)


def create_app() -> Litestar:
    """The reference app (a factory, as ours is)."""
    decision = constant_decision()

    @get("/health", sync_to_thread=False)
    def health() -> Health:
        return Health(status="ok")

    @post("/typed", status_code=200)
    async def typed(data: DecideRequest) -> Decision:
        return decision

    @post("/msgspec", status_code=200)
    async def direct(request: Request[Any, Any, Any]) -> Response[bytes]:
        _decoder.decode(await request.body())
        return Response(_encoder.encode(decision), media_type="application/json")

    @asgi("/asgi")
    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        _decoder.decode(b"".join(chunks))
        body = _encoder.encode(decision)
        headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return Litestar(route_handlers=[health, typed, direct, raw], debug=False)


def run(port: int, server: str = "uvicorn") -> None:
    """Serve the reference app on 127.0.0.1:`port` with one worker."""
    if server == "granian":
        from granian.constants import Interfaces
        from granian.server import Server

        Server(
            "app:create_app",
            address="127.0.0.1",
            port=port,
            interface=Interfaces.ASGI,
            workers=1,
            factory=True,
            log_access=False,
            working_dir=str(Path(__file__).parent),
        ).serve()
        return
    import uvicorn

    uvicorn.run(
        "app:create_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=1,
        log_level="warning",
        access_log=False,
        app_dir=str(Path(__file__).parent),
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--server", choices=["uvicorn", "granian"], default="uvicorn")
    args = parser.parse_args()
    run(args.port, args.server)
