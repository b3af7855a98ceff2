"""OpenAPI: schemas for types Litestar would describe wrongly, and the offline docs page.

A policy parameter's value is a boolean, a number, a string or a list of
strings. Derived from the Python union, Litestar writes a `oneOf` that lists
both "integer" and "number", so every integer matches two branches and the
API's own answers break its schema. This plugin writes an `anyOf` instead.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import (
    JsonRenderPlugin,
    OpenAPIRenderPlugin,
    SwaggerRenderPlugin,
    YamlRenderPlugin,
)
from litestar.openapi.spec import Schema
from litestar.plugins import OpenAPISchemaPlugin
from litestar.static_files import create_static_files_router
from litestar.typing import FieldDefinition

from engine.types import ParamValue


class ParamValueSchema(OpenAPISchemaPlugin):
    """Describes `engine.types.ParamValue` as anyOf boolean, number, string, [string]."""

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
