"""GET /: what this sandbox serves, how to point the service at it, and what it holds now.

The lists are read from the app's own routes, so the page cannot drift from
what is served. HTML for a browser; JSON for `Accept: application/json`.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler

from sandbox.cli import env_lines
from sandbox.control import state_summary
from sandbox.faults import api_for_path
from sandbox.state import SandboxState

TITLES = {
    "shopify": "Shopify Admin GraphQL API (the merchant's store)",
    "lwa": "Login with Amazon (Amazon's OAuth tokens)",
    "ebay": "eBay Sell APIs: OAuth, Inventory, Account, Fulfillment",
    "amazon": "Amazon Selling Partner API: Listings Items 2021-08-01, Orders v0",
    "consent": "Consent pages of the marketplaces (OAuth authorization-code flows)",
    "control": "Control and inspection of the sandbox (not part of any real API)",
}


def _endpoints(app: Any) -> dict[str, list[dict[str, Any]]]:
    """Per group, one entry per path: its methods and the handlers' first docstring lines."""
    groups: dict[str, list[dict[str, Any]]] = {name: [] for name in TITLES}
    for route in app.routes:
        path = re.sub(r"\{(\w+):[^}]+\}", r"{\1}", route.path)
        group = api_for_path(path) or (
            "control" if path.startswith("/_sandbox") else "consent" if path != "/" else None
        )
        if group is None:
            continue
        methods: set[str] = set()
        summaries: list[str] = []
        for handler in route.route_handlers:
            if not isinstance(handler, HTTPRouteHandler) or handler.http_methods <= {"OPTIONS"}:
                continue
            methods |= set(handler.http_methods) - {"OPTIONS", "HEAD"}
            doc = (handler.fn.__doc__ or "").strip().splitlines()
            if doc:
                summaries.append(doc[0])
        if methods:
            groups[group].append(
                {"methods": sorted(methods), "path": path, "summary": " ".join(summaries)}
            )
    return groups


def _html(base_url: str, groups: dict[str, list[dict[str, Any]]], state: dict[str, Any]) -> str:
    esc = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<title>channel-router marketplace sandbox</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
        "padding:0 1rem;line-height:1.4}code,pre{background:#f3f3f3;padding:.1rem .3rem}"
        "pre{padding:.6rem;overflow:auto}td{padding:.15rem .6rem;vertical-align:top}</style>",
        "</head><body><h1>channel-router marketplace sandbox</h1>",
        "<p>Local stand-ins of the Shopify, eBay and Amazon APIs, under their real paths, "
        "checked against the official specifications. State lives in memory.</p>",
        "<h2>Point the service at it</h2><pre>",
        esc("\n".join(f"export {line}" for line in env_lines(base_url))),
        "</pre><p>OAuth codes starting with <code>good</code> are accepted, those starting "
        "with <code>bad</code> refused; Shopify access tokens must start with "
        "<code>good</code>.</p>",
    ]
    for group, title in TITLES.items():
        parts.append(f"<h2>{esc(title)}</h2><table>")
        for endpoint in groups[group]:
            parts.append(
                f"<tr><td><code>{esc(' '.join(endpoint['methods']))}</code></td>"
                f"<td><code>{esc(endpoint['path'])}</code></td>"
                f"<td>{esc(endpoint['summary'])}</td></tr>"
            )
        parts.append("</table>")
    parts += [
        "<h2>Current state</h2><p>As <code>GET /_sandbox/state</code> shows it "
        "(<code>POST /_sandbox/reset</code> empties it).</p><pre>",
        esc(json.dumps(state, indent=2, sort_keys=True, default=str)),
        "</pre></body></html>",
    ]
    return "".join(parts)


def index_route(state: SandboxState) -> HTTPRouteHandler:
    """GET / bound to `state`."""

    @get("/", include_in_schema=False)
    async def index(request: Request[Any, Any, Any]) -> Response[Any]:
        """This page: the APIs, the control endpoints and the current state."""
        base_url = str(request.base_url).rstrip("/")
        groups = _endpoints(request.app)
        summary = state_summary(state)
        if request.accept.best_match(["text/html", "application/json"]) == "application/json":
            return Response(
                {
                    "sandbox": "channel-router marketplace sandbox",
                    "base_url": base_url,
                    "connect": env_lines(base_url),
                    "apis": [
                        {"api": group, "title": TITLES[group], "endpoints": groups[group]}
                        for group in TITLES
                    ],
                    "state": summary,
                },
                media_type="application/json",
            )
        return Response(_html(base_url, groups, summary), media_type="text/html")

    return index
