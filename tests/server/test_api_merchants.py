"""Merchants through the API: keys shown once and stored hashed, settings, and
decisions that follow docs/policies.md for settings, override file and request overrides."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from server.db.connection import make_engine
from server.db.tables import build_tables
from tests.server.helpers import Api, decide_body


def _rows(database_url: str, table: str) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        engine = make_engine(database_url)
        tables = build_tables(engine)
        rows: list[dict[str, Any]] = await getattr(tables, table).select().run()
        return rows

    return asyncio.run(read())


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_created_merchant_gets_a_key_shown_once_and_stored_only_as_hash(api: Api) -> None:
    r = api.http.post(
        "/v1/merchants",
        json={
            "merchant_id": "acme",
            "name": "Acme",
            "settings": {"enabled_external_channels": ["ebay"]},
        },
        headers=api.admin,
    )
    assert r.status_code == 201
    body = r.json()
    key = body["api_key"]
    assert key.startswith("cr_") and len(key) > 40
    assert body["settings"] == {
        "external_channels_enabled": True,
        "enabled_external_channels": ["ebay"],
        "external_excluded_categories": [],
    }
    rows = _rows(api.config.database_url, "merchant")
    assert len(rows) == 1
    assert rows[0]["api_key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert key not in repr(rows)
    # The key works, and the settings answer never shows it again.
    settings = api.http.get("/v1/merchants/acme/settings", headers=_bearer(key))
    assert settings.status_code == 200
    assert key not in settings.text


def test_creating_an_existing_merchant_is_a_conflict(api: Api) -> None:
    api.create_merchant("acme")
    r = api.http.post("/v1/merchants", json={"merchant_id": "acme", "name": "X"}, headers=api.admin)
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 409


def test_settings_put_replaces_and_unset_fields_fall_back_to_defaults(api: Api) -> None:
    key = api.create_merchant("acme", enabled_external_channels=["ebay", "amazon"])
    r = api.http.put(
        "/v1/merchants/acme/settings",
        json={"external_excluded_categories": ["Books"]},
        headers=_bearer(key),
    )
    assert r.status_code == 200
    expected = {
        "external_channels_enabled": True,
        "enabled_external_channels": [],
        "external_excluded_categories": ["Books"],
    }
    assert r.json() == expected
    assert api.http.get("/v1/merchants/acme/settings", headers=_bearer(key)).json() == expected
    stored = _rows(api.config.database_url, "merchant")[0]["settings"]
    assert "enabled_external_channels" not in stored  # only what the merchant set is kept


def test_settings_of_an_unknown_merchant_are_not_found(api: Api) -> None:
    r = api.http.get("/v1/merchants/ghost/settings", headers=api.admin)
    assert r.status_code == 404
    r = api.http.put("/v1/merchants/ghost/settings", json={}, headers=api.admin)
    assert r.status_code == 404


def _decide(api: Api, key: str, body: dict[str, Any]) -> dict[str, Any]:
    r = api.http.post("/v1/decide", json=body, headers=_bearer(key))
    assert r.status_code == 200, r.text
    decision: dict[str, Any] = r.json()
    return decision


def test_decision_follows_the_merchant_settings(api: Api) -> None:
    key = api.create_merchant("acme", enabled_external_channels=["ebay", "amazon"])
    d = _decide(api, key, decide_body())
    assert d["rule_id"] == "dead-stock"
    assert [(c["channel"], c["allocated_units"]) for c in d["external_channels"]] == [
        ("ebay", 21),
        ("amazon", 21),
    ]
    assert d["store_units"] == 18

    api.http.put(
        "/v1/merchants/acme/settings",
        json={"enabled_external_channels": ["amazon"]},
        headers=api.admin,
    )
    d = _decide(api, key, decide_body())
    assert [(c["channel"], c["allocated_units"]) for c in d["external_channels"]] == [
        ("amazon", 42)
    ]
    assert d["store_units"] == 18

    api.http.put(
        "/v1/merchants/acme/settings",
        json={"enabled_external_channels": ["ebay"], "external_excluded_categories": ["Apparel"]},
        headers=api.admin,
    )
    d = _decide(api, key, decide_body())
    assert d["rule_id"] == "merchant-excluded-category"
    assert d["external_channels"] == [] and d["store_units"] == 60

    api.http.put(
        "/v1/merchants/acme/settings",
        json={"external_channels_enabled": False, "enabled_external_channels": ["ebay"]},
        headers=api.admin,
    )
    assert _decide(api, key, decide_body())["rule_id"] == "merchant-opt-out"


def test_no_enabled_channel_keeps_every_unit_on_the_store(api: Api) -> None:
    key = api.create_merchant("acme")
    d = _decide(api, key, decide_body())
    assert d["rule_id"] == "dead-stock"
    assert d["external_channels"] == []
    assert d["store_units"] == 60


def test_override_file_applies_to_its_merchant_only(api: Api) -> None:
    """policies/merchants/demo-outlet.yaml sets moderate_external_percent to 50."""
    outlet = api.create_merchant("demo-outlet", enabled_external_channels=["ebay"])
    other = api.create_merchant("acme", enabled_external_channels=["ebay"])
    moderate = {"stock_quantity": 100, "days_since_last_sale": 20}
    d = _decide(api, outlet, decide_body("demo-outlet", **moderate))
    assert d["rule_id"] == "moderate-overstock"
    assert d["external_channels"][0]["allocated_units"] == 50
    d = _decide(api, other, decide_body("acme", **moderate))
    assert d["external_channels"][0]["allocated_units"] == 40


def test_request_overrides_win_over_settings_and_file(api: Api) -> None:
    key = api.create_merchant(
        "demo-outlet", enabled_external_channels=["ebay"], external_channels_enabled=False
    )
    moderate = {"stock_quantity": 100, "days_since_last_sale": 20}
    assert (
        _decide(api, key, decide_body("demo-outlet", **moderate))["rule_id"] == "merchant-opt-out"
    )
    body = decide_body("demo-outlet", **moderate)
    body["overrides"] = {"external_channels_enabled": True, "moderate_external_percent": 10}
    d = _decide(api, key, body)
    assert d["rule_id"] == "moderate-overstock"
    assert d["external_channels"][0]["allocated_units"] == 10
    assert d["parameters"]["moderate_external_percent"] == {"value": 10, "source": "request"}


def test_unknown_override_or_version_is_422_naming_the_field(api: Api) -> None:
    key = api.create_merchant("acme")
    body = decide_body()
    body["policy_version"] = "99"
    r = api.http.post("/v1/decide", json=body, headers=_bearer(key))
    assert r.status_code == 422
    assert [p["name"] for p in r.json()["invalid_params"]] == ["policy_version"]
    body = decide_body()
    body["overrides"] = {"no_such_parameter": 1}
    r = api.http.post("/v1/decide", json=body, headers=_bearer(key))
    assert r.status_code == 422
    assert r.json()["invalid_params"][0]["name"].startswith("overrides")
