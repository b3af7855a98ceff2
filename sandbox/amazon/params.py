"""Query parameters checked against the operation's own Swagger 2.0 parameter list, and read
as Amazon reads them (comma-separated lists)."""

from __future__ import annotations

from typing import Any

from litestar import Request

from sandbox import specs
from sandbox.amazon.state import DEFAULT_MARKETPLACE
from sandbox.state import SandboxState


def _operation_parameters(spec_name: str, path: str, method: str) -> list[dict[str, Any]]:
    document = specs.load_spec(spec_name)
    item = document["paths"][path]
    params: list[dict[str, Any]] = list(item.get("parameters", []))
    params.extend(item[method.lower()].get("parameters", []))
    return params


def check_query(
    spec_name: str, path: str, method: str, request: Request[Any, Any, Any]
) -> list[str]:
    """Problems with the query string, judged by the operation's Swagger 2.0 parameters."""
    problems: list[str] = []
    query = request.query_params
    for param in _operation_parameters(spec_name, path, method):
        if param.get("in") != "query":
            continue
        name = param["name"]
        raw = query.getall(name, []) if hasattr(query, "getall") else query.get(name)
        values = [v for v in (raw if isinstance(raw, list) else [raw]) if v is not None]
        if not values:
            if param.get("required"):
                problems.append(f"Missing required parameter '{name}'.")
            continue
        problems.extend(_check_param_value(param, values))
    return problems


def _check_param_value(param: dict[str, Any], values: list[str]) -> list[str]:
    name = param["name"]
    kind = param.get("type")
    if kind == "array":
        items: list[str] = []
        for value in values:
            items.extend(p for p in value.split(",") if p != "")
        if not items and param.get("required"):
            return [f"Missing required parameter '{name}'."]
        problems: list[str] = []
        if "maxItems" in param and len(items) > param["maxItems"]:
            problems.append(f"'{name}' accepts at most {param['maxItems']} value(s).")
        allowed = param.get("items", {}).get("enum")
        if allowed:
            problems.extend(
                f"'{item}' is not a valid value for '{name}'."
                for item in items
                if item not in allowed
            )
        return problems
    if len(values) > 1:
        return [f"'{name}' must be given once."]
    value = values[0]
    if kind == "integer":
        try:
            int(value)
        except ValueError:
            return [f"'{name}' must be an integer."]
    if kind == "boolean" and value not in ("true", "false"):
        return [f"'{name}' must be true or false."]
    if "enum" in param and value not in param["enum"]:
        return [f"'{value}' is not a valid value for '{name}'."]
    return []


def query_problems(
    state: SandboxState, spec_name: str, path: str, method: str, request: Request[Any, Any, Any]
) -> list[str]:
    return check_query(spec_name, path, method, request) if state.validate else []


def first_marketplace(request: Request[Any, Any, Any], name: str) -> str:
    return (csv_values(request, name) or [DEFAULT_MARKETPLACE])[0]


def csv_values(request: Request[Any, Any, Any], name: str) -> list[str]:
    values: list[str] = []
    query = request.query_params
    for raw in query.getall(name, []):
        values.extend(p for p in raw.split(",") if p)
    return values
