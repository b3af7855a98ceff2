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


def _schemas(document: dict[str, Any]) -> dict[str, Any]:
    schemas: dict[str, Any] = document["components"]["schemas"]
    return schemas


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_document_states_the_rules_the_server_applies(api: Api) -> None:
    document = api.http.get("/schema/openapi.json").json()
    schemas = _schemas(document)
    for ref in _refs(document):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    # Unknown fields are refused, and the document says so.
    for name in (
        "CreateMerchant", "Settings", "DecideRequest", "DecideBatch", "Product", "Proposal",
        "EbayCredentials", "AmazonCredentials", "ShopifyCredentials",
    ):  # fmt: skip
        assert schemas[name]["additionalProperties"] is False, name
    # Channel names: registered connectors only, each once.
    channels = schemas["Settings"]["properties"]["enabled_external_channels"]
    assert channels["items"]["enum"] == ["amazon", "ebay"] and channels["uniqueItems"] is True
    assert channels["items"]["pattern"]
    # Money is a canonical decimal string; text has no control characters.
    price = schemas["Proposal"]["properties"]["proposed_price"]
    assert price["type"] == "string" and price["pattern"].startswith("^(0|[1-9]")
    assert "\\x00-\\x1f" in schemas["Product"]["properties"]["title"]["pattern"]
    # Overrides: the loaded policy's parameters, settings with their own rules.
    overrides = schemas["DecideRequest"]["properties"]["overrides"]
    assert overrides["additionalProperties"] is False
    assert overrides["properties"]["moderate_external_percent"]["maximum"] == 100
    assert overrides["properties"]["enabled_external_channels"] == channels
    # /ready's 503 and the created merchant's links are documented.
    ready = document["paths"]["/ready"]["get"]["responses"]["503"]
    assert ready["content"]["application/json"]["schema"]["$ref"].endswith("/Readiness")
    links = document["paths"]["/v1/merchants"]["post"]["responses"]["201"]["links"]
    assert len(links) >= 5


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_options_lists_every_method_the_document_gives_a_path(api: Api) -> None:
    document = api.http.get("/schema/openapi.json").json()
    for path, item in document["paths"].items():
        concrete = path.replace("{merchant_id}", "acme")
        r = api.http.options(concrete)
        assert r.status_code == 204, (path, r.status_code)
        allowed = {m.strip() for m in r.headers["allow"].split(",")}
        assert {m.upper() for m in item if m != "parameters"} | {"OPTIONS"} == allowed, path


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_document_follows_a_policy_reload(api: Api) -> None:
    before = _schemas(api.http.get("/schema/openapi.json").json())
    assert "clearance_floor" not in before["DecideRequest"]["properties"]["overrides"]["properties"]
    policy = api.config.policy_dir / "channel-routing" / "v1.yaml"
    text = policy.read_text()
    assert "\nparams:\n" in text
    policy.write_text(
        text.replace(
            "\nparams:\n",
            "\nparams:\n  clearance_floor: {type: integer, default: 3, minimum: 1, maximum: 9}\n",
            1,
        )
    )
    assert api.http.post("/v1/policies/reload", headers=api.admin).status_code == 200
    after = _schemas(api.http.get("/schema/openapi.json").json())
    floor = after["DecideRequest"]["properties"]["overrides"]["properties"]["clearance_floor"]
    assert floor == {"type": "integer", "minimum": 1, "maximum": 9}
