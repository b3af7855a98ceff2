"""OpenAPI: the served document, made to say exactly what the server accepts, and
the offline documentation page.

The document: Litestar writes the paths; the schemas of bodies come from msgspec, the
library that decodes them, so every pattern, bound and `additionalProperties:
false` in the document is the rule that is applied (Litestar's own rendering
drops constraints inside optional fields and list items). On top of that,
this module adds what depends on the running service:

- channel names are the registered connectors (an enum), each listed once;
- a request's `overrides` may name the parameters of the loaded policies, each
  with its type and range, and the merchant settings with their own rules;
- `policy_version` is one of the loaded versions;
- links from a created merchant to its settings and credentials, for clients
  (and stateful fuzzers) that follow them;
- the headers problems carry (WWW-Authenticate on 401, Retry-After on 429).

The document is built on its first request (building it costs about 0.1 s of
Litestar's schema generation, which most processes never need) and again after
every successful policy reload.
"""

from __future__ import annotations

import copy
import importlib.util
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar, Router
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import (
    JsonRenderPlugin,
    OpenAPIRenderPlugin,
    SwaggerRenderPlugin,
    YamlRenderPlugin,
)
from litestar.openapi.spec import Schema
from litestar.plugins import OpenAPISchemaPlugin
from litestar.routes import HTTPRoute
from litestar.static_files import create_static_files_router
from litestar.typing import FieldDefinition

from connectors.registry import EXTERNAL_CHANNELS
from engine.loader import NUMBER_MAX_MAGNITUDE, NUMBER_MIN_MAGNITUDE, percent_params
from engine.model import SETTINGS_PARAMS, ParamDecl
from engine.policy_set import PolicySet
from engine.types import CHANNEL_NAME_PATTERN, ParamValue
from server.api.decoding import documented_body

REF = "#/components/schemas/{name}"


class ParamValueSchema(OpenAPISchemaPlugin):
    """Describes `engine.types.ParamValue` as anyOf boolean, number, string, [string].

    Derived from the union, Litestar writes a `oneOf` listing both "integer" and
    "number", so every integer matches two branches; `publish` then replaces the
    schemas with msgspec's (build_document), but the paths Litestar builds must not fail
    first.
    """

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return bool(field_definition.annotation == ParamValue)

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        return Schema(
            any_of=[
                Schema(type="boolean"),  # type: ignore[arg-type]
                Schema(type="number"),  # type: ignore[arg-type]
                Schema(type="string"),  # type: ignore[arg-type]
                Schema(type="array", items=Schema(type="string")),  # type: ignore[arg-type]
            ]
        )


# ---------------------------------------------------------------- the documentation page

DOCS_ASSETS_PATH = "/schema/assets"
"""Where the Swagger UI files are served from, so /schema works without a network."""


def swagger_ui_dir() -> Path:
    """The Swagger UI distribution shipped by the swagger-ui-py package (no import of it)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is not installed (pip install -e .)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def docs_render_plugins() -> list[OpenAPIRenderPlugin]:
    """Swagger UI at /schema (and /schema/swagger) from our own assets; JSON and YAML documents.

    Litestar's default pages load their scripts, styles and icon from CDNs and are blank
    offline; these reference only this service.
    """
    assets = DOCS_ASSETS_PATH
    swagger = SwaggerRenderPlugin(
        js_url=f"{assets}/swagger-ui-bundle.js",
        css_url=f"{assets}/swagger-ui.css",
        standalone_preset_js_url=f"{assets}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{assets}/favicon-32x32.png'>",
        path=["/", "/swagger"],
    )
    return [swagger, JsonRenderPlugin(), YamlRenderPlugin()]


def docs_assets_router() -> Router:
    """Serves the Swagger UI files under DOCS_ASSETS_PATH, cached for a day."""
    return create_static_files_router(
        path=DOCS_ASSETS_PATH,
        directories=[swagger_ui_dir()],
        name="docs-assets",
        cache_control=CacheControlHeader(max_age=86_400, public=True),
        include_in_schema=False,
    )


# ---------------------------------------------------------------- the document


class _ServedDocument(OpenAPIPlugin):
    """Litestar's OpenAPI plugin serving `build_document` (every renderer, JSON, YAML
    and the UI pages, reads `provide_openapi_schema`)."""

    __slots__ = ()

    def provide_openapi_schema(self) -> dict[str, Any]:
        if not self._openapi_schema:
            policies = self.app.state.services.policies
            self._openapi_schema = build_document(self.app, policies.policy_set)
        return self._openapi_schema


def serve_document(app: Litestar) -> None:
    """Serve `build_document` for `app` from now on (Litestar always makes its own
    plugin instance, slotted, so the instance takes the subclass's behaviour)."""
    app.plugins.get(OpenAPIPlugin).__class__ = _ServedDocument


def forget_document(app: Litestar) -> None:
    """Build the document again on its next request (the policies changed)."""
    app.plugins.get(OpenAPIPlugin)._openapi_schema = None


def build_document(app: Litestar, policy_set: PolicySet | None) -> dict[str, Any]:
    """The OpenAPI document of `app`, with msgspec's schemas and the service's rules."""
    from server.accounts import BODIES

    document = copy.deepcopy(app.openapi_schema.to_schema())
    types = _body_types(app) | set(BODIES.values())
    _, components = msgspec.json.schema_components(sorted(types, key=str), ref_template=REF)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(components)
    _channel_names(schemas)
    _one_grant(schemas)
    if policy_set is not None:
        for name in ("DecideRequest", "ExecuteRequest"):
            if name in schemas:
                _overrides(schemas, policy_set, name)
    _credentials(document, BODIES)
    _links(document)
    _auth_headers(document)
    _idempotency_key(document)
    return document


def _idempotency_key(document: dict[str, Any]) -> None:
    """`POST /v1/execute` requires its `Idempotency-Key` header (the handler reads it
    itself, to name it beside the body's problems, so Litestar does not list it)."""
    from server.api.controllers.campaigns import (
        IDEMPOTENCY_HEADER,
        KEY_DESCRIPTION,
        KEY_PATTERN,
        MAX_KEY_LENGTH,
    )

    operation = document.get("paths", {}).get("/v1/execute", {}).get("post")
    if operation is None:
        return
    operation.setdefault("parameters", []).append(
        {
            "name": IDEMPOTENCY_HEADER,
            "in": "header",
            "required": True,
            "description": KEY_DESCRIPTION,
            "schema": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_KEY_LENGTH,
                "pattern": KEY_PATTERN,
            },
        }
    )


def _credentials(document: dict[str, Any], bodies: dict[str, type]) -> None:
    """One credentials operation for every channel: the channel is one of those with a
    connector, and the body is that channel's own shape."""
    for path, item in document.get("paths", {}).items():
        if not path.endswith("/channels/{channel}/credentials"):
            continue
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("name") == "channel" and parameter.get("in") == "path":
                    parameter["schema"] = {"type": "string", "enum": sorted(bodies)}
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                content["application/json"]["schema"] = {
                    "anyOf": [{"$ref": REF.format(name=b.__name__)} for b in bodies.values()]
                }


def _body_types(app: Litestar) -> set[Any]:
    """Every type a handler takes as its body or answers with (problems included)."""
    found: set[Any] = set()
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            signature = handler.parsed_fn_signature
            data = signature.parameters.get("data")
            if data is not None:
                found.add(data.annotation)
            elif (documented := documented_body(handler)) is not None:
                found.add(documented)
            found.update(_structs(signature.return_type.annotation))
            for spec in (handler.responses or {}).values():
                found.update(_structs(spec.data_container))
    return found


def _structs(annotation: Any) -> Iterator[Any]:
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _structs(arg)


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _channel_names(schemas: dict[str, Any]) -> None:
    """A channel name is one of the registered connectors, and a list names each once."""
    for node in _walk(schemas):
        if node.get("pattern") == CHANNEL_NAME_PATTERN:
            node["enum"] = sorted(EXTERNAL_CHANNELS)
        items = node.get("items")
        if isinstance(items, dict) and items.get("pattern") == CHANNEL_NAME_PATTERN:
            node["uniqueItems"] = True


def _one_grant(schemas: dict[str, Any]) -> None:
    """eBay and Amazon bodies carry exactly one grant (server.api.validation.grant_problems)."""
    grants = ("authorization_code", "refresh_token")
    for name in ("EbayCredentials", "AmazonCredentials"):
        schema = schemas.get(name)
        if schema is not None:
            schema["oneOf"] = [
                {"required": [g], "properties": {g: {"type": "string"}}} for g in grants
            ]


def _number_range(decl: ParamDecl, integer: bool) -> dict[str, Any]:
    """The values the engine takes for a number parameter (engine.loader.number_problem)."""
    low = decl.minimum if decl.minimum is not None else -NUMBER_MAX_MAGNITUDE
    high = decl.maximum if decl.maximum is not None else NUMBER_MAX_MAGNITUDE
    low, high = max(low, -NUMBER_MAX_MAGNITUDE), min(high, NUMBER_MAX_MAGNITUDE)
    schema: dict[str, Any] = {"type": "integer" if integer else "number"}
    schema.update(minimum=low, maximum=high)
    if not integer:  # 0, or at least 0.0001 in size
        schema["not"] = {
            "exclusiveMinimum": -NUMBER_MIN_MAGNITUDE,
            "exclusiveMaximum": NUMBER_MIN_MAGNITUDE,
            "not": {"const": 0},
        }
    return schema


def _param_schema(decl: ParamDecl, percent: bool, text: dict[str, Any]) -> dict[str, Any]:
    if decl.type == "boolean":
        return {"type": "boolean"}
    if decl.type == "string":
        return dict(text)
    if decl.type == "string_list":
        return {"type": "array", "items": dict(text), "maxItems": 1000}
    schema = _number_range(decl, decl.type == "integer")
    if percent:
        schema["minimum"] = max(schema["minimum"], 0)
        schema["maximum"] = min(schema["maximum"], 100)
    return schema


def _overrides(schemas: dict[str, Any], policy_set: PolicySet, body: str) -> None:
    """`overrides` may name the loaded policies' parameters; settings keep their own rules."""
    request = schemas[body]["properties"]
    overrides = request["overrides"]
    values = overrides.get("additionalProperties", {})
    text = next(
        (b for b in values.get("anyOf", []) if b.get("type") == "string"),
        {"type": "string"},
    )
    settings = schemas.get("Settings", {}).get("properties", {})
    params: dict[str, list[dict[str, Any]]] = {}
    for policy in policy_set.all_policies():
        percents = percent_params(policy)
        for name, decl in policy.params.items():
            if name in SETTINGS_PARAMS:
                continue
            schema = _param_schema(decl, name in percents, text)
            if schema not in params.setdefault(name, []):
                params[name].append(schema)
    properties: dict[str, Any] = {
        name: options[0] if len(options) == 1 else {"anyOf": options}
        for name, options in sorted(params.items())
    }
    for name in SETTINGS_PARAMS:
        if name in settings:
            properties[name] = copy.deepcopy(settings[name])
    overrides.pop("additionalProperties", None)
    overrides.pop("propertyNames", None)
    overrides["properties"] = properties
    overrides["additionalProperties"] = False
    versions = sorted({p.version for p in policy_set.all_policies()})
    version = request.get("policy_version", {})
    for node in _walk(version):
        if node.get("type") == "string":
            node["enum"] = versions


def _links(document: dict[str, Any]) -> None:
    """From a created merchant to its settings and channel credentials; from an executed
    campaign to reading and cancelling it."""
    paths = document.get("paths", {})
    created = paths.get("/v1/merchants", {}).get("post", {}).get("responses", {}).get("201")
    if created is None:
        return
    links: dict[str, Any] = {}
    for path, item in paths.items():
        if not path.startswith("/v1/merchants/{merchant_id}/"):
            continue
        for method, operation in item.items():
            if method not in ("get", "put", "post", "delete", "patch"):
                continue
            name = operation.get("operationId") or f"{method}{path}"
            links[name] = {
                "operationId": name,
                "parameters": {"merchant_id": "$response.body#/merchant_id"},
            }
    if links:
        created["links"] = links
    executed = paths.get("/v1/execute", {}).get("post", {}).get("responses", {}).get("202")
    if executed is not None:
        executed["links"] = {
            operation["operationId"]: {
                "operationId": operation["operationId"],
                "parameters": {"campaign_id": "$response.body#/campaign_id"},
            }
            for path, item in paths.items()
            if path.startswith("/v1/campaigns/{campaign_id}")
            for method, operation in item.items()
            if method in ("get", "post") and "operationId" in operation
        }


def _auth_headers(document: dict[str, Any]) -> None:
    """Document the headers the problems carry: WWW-Authenticate on 401, Retry-After on 429."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            responses = operation.get("responses", {})
            if "401" in responses:
                responses["401"].setdefault("headers", {})["WWW-Authenticate"] = {
                    "description": "Bearer",
                    "schema": {"type": "string"},
                }
            if "429" in responses:
                responses["429"].setdefault("headers", {})["Retry-After"] = {
                    "description": "Seconds to wait before sending more decisions",
                    "schema": {"type": "integer"},
                }
