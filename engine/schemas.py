"""JSON Schema validation of policy files, with each error placed at its YAML node."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Literal

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from engine.yamlmarks import Marked

FileKind = Literal["policy", "merchant-override", "policy-test"]

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


@cache
def _validator(kind: FileKind) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{kind}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def schema_errors(kind: FileKind, doc: Marked) -> list[tuple[int, int, str]]:
    """Every schema violation in `doc` as (line, col, message)."""
    out = []
    for error in _validator(kind).iter_errors(doc.data):
        # oneOf/anyOf failures say little; the closest sub-error says what to fix.
        chosen: ValidationError = best_match(error.context) if error.context else error
        if chosen.context:
            chosen = best_match(chosen.context)
        path = tuple(chosen.absolute_path)
        where = ".".join(str(p) for p in path) or "document"
        line, col = doc.where(path)
        # Schemas carry `x-error` where the generic message would mislead.
        message = chosen.schema.get("x-error") if isinstance(chosen.schema, dict) else None
        out.append((line, col, f"{where}: {message or chosen.message}"))
    return out
