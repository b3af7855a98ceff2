"""OpenAPI schemas for types Litestar would describe wrongly.

A policy parameter's value is a boolean, a number, a string or a list of
strings. Derived from the Python union, Litestar writes a `oneOf` that lists
both "integer" and "number", so every integer matches two branches and the
API's own answers break its schema. This plugin writes an `anyOf` instead.
"""

from __future__ import annotations

from typing import Any

from litestar.openapi.spec import Schema
from litestar.plugins import OpenAPISchemaPlugin
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
