"""The app's own OpenAPI document describes its real answers (checked deterministically,
not only when the fuzzer happens to get a 200)."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from tests.server.helpers import Api, decide_body


def _validator(document: dict[str, Any], component: str) -> jsonschema.Draft202012Validator:
    registry = Registry().with_resource("urn:openapi", Resource.opaque(document))
    schema = {"$ref": f"urn:openapi#/components/schemas/{component}"}
    return jsonschema.Draft202012Validator(schema, registry=registry)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_decisions_validate_against_the_served_schema(api: Api) -> None:
    document = api.http.get("/schema/openapi.json").json()
    key = api.create_merchant("acme", enabled_external_channels=["ebay", "amazon"])
    body = {**decide_body(), "overrides": {"dead_external_percent": 55}}
    response = api.http.post("/v1/decide", json=body, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    decision = response.json()
    # Integers, booleans, strings and lists all appear among the parameters.
    kinds = {type(p["value"]) for p in decision["parameters"].values()}
    assert kinds == {int, bool, list}
    errors = list(_validator(document, "Decision").iter_errors(decision))
    assert errors == [], [e.message for e in errors]
