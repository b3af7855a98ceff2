"""The official API contracts shipped in sandbox/specs/, loaded once and used to refuse requests
the real APIs would refuse.

OpenAPI 3 (eBay) and Swagger 2 (Amazon) request bodies are checked with jsonschema (Draft 4, which
both formats build on; local `$ref`s resolve against the spec's own components/definitions).
Shopify's GraphQL documents are checked against its introspection schema with graphql-core.
"""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path
from typing import Any

import jsonschema
from graphql import GraphQLSchema, build_client_schema

SPEC_DIR = Path(__file__).parent / "specs"

SPEC_FILES: dict[str, tuple[str, ...]] = {
    "ebay": (
        "ebay-sell-inventory-v1.json",
        "ebay-sell-account-v1.json",
        "ebay-sell-fulfillment-v1.json",
    ),
    "amazon": ("amazon-listings-items-2021-08-01.json", "amazon-orders-v0.json"),
}
SHOPIFY_SCHEMA_FILE = "shopify-admin-graphql-2025-01.introspection.json.gz"

_METHODS = ("get", "put", "post", "delete", "patch")
_MAX_PROBLEMS = 20


@functools.cache
def load_spec(name: str) -> dict[str, Any]:
    """A shipped spec file, parsed (gzip-compressed files too); cached for the process."""
    path = SPEC_DIR / name
    raw = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
    document: dict[str, Any] = json.loads(raw)
    return document


@functools.cache
def shopify_schema() -> GraphQLSchema:
    """Shopify Admin GraphQL 2025-01, built from its introspection result."""
    # assume_valid: Shopify's schema breaks a few of graphql-core's own schema rules (deprecated
    # implementations of non-deprecated interface fields); documents are still validated against it.
    return build_client_schema(load_spec(SHOPIFY_SCHEMA_FILE)["data"], assume_valid=True)


def _find_operation(
    api: str, operation: str | tuple[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(spec document, operation object) for an operationId or a (method, path template)."""
    for name in SPEC_FILES[api]:
        document = load_spec(name)
        for path, item in document.get("paths", {}).items():
            for method in _METHODS:
                op = item.get(method)
                if op is None:
                    continue
                if isinstance(operation, str):
                    if op.get("operationId") == operation:
                        return document, op
                elif operation[0].lower() == method and operation[1] == path:
                    return document, op
    raise KeyError(f"no {api} operation {operation!r} in {SPEC_FILES[api]}")


def _body_schema(document: dict[str, Any], op: dict[str, Any]) -> dict[str, Any] | None:
    if "requestBody" in op:  # OpenAPI 3
        content = op["requestBody"].get("content", {})
        media: dict[str, Any] = content.get("application/json") or next(iter(content.values()), {})
        schema: dict[str, Any] | None = media.get("schema")
        return schema
    for parameter in op.get("parameters", []):  # Swagger 2
        if parameter.get("in") == "body":
            body_schema: dict[str, Any] = parameter["schema"]
            return body_schema
    return None


@functools.cache
def body_validator(api: str, operation: str | tuple[str, str]) -> jsonschema.Draft4Validator | None:
    """A validator for the operation's JSON request body (None when it takes no body)."""
    document, op = _find_operation(api, operation)
    schema = _body_schema(document, op)
    if schema is None:
        return None
    rooted = dict(schema)
    for key in ("components", "definitions"):
        if key in document:
            rooted[key] = document[key]
    return jsonschema.Draft4Validator(rooted)


def _where(error: jsonschema.ValidationError) -> str:
    parts = [f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path]
    return "body" + "".join(parts)


def validate_body(api: str, operation: str | tuple[str, str], body: Any) -> list[str]:
    """Human-readable problems with `body` for the operation (empty when it is valid)."""
    validator = body_validator(api, operation)
    if validator is None:
        return []
    problems = []
    for error in sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.path))):
        message = error.message if len(error.message) <= 200 else error.message[:197] + "..."
        problems.append(f"{_where(error)}: {message}")
        if len(problems) >= _MAX_PROBLEMS:
            break
    return problems
