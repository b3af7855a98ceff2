"""A request's overrides of merchant settings are checked exactly like the settings,
and the decision says which values came from the request."""

from __future__ import annotations

from typing import Any

from tests.server.helpers import Api, decide_body


def _decide(api: Api, key: str, overrides: dict[str, Any]) -> Any:
    body = {**decide_body(), "overrides": overrides}
    return api.http.post("/v1/decide", json=body, headers={"Authorization": f"Bearer {key}"})


def _names(response: Any) -> list[str]:
    assert response.status_code == 422, response.text[:500]
    return [p["name"] for p in response.json()["invalid_params"]]


def test_overridden_settings_are_checked_like_settings(api: Api) -> None:
    key = api.create_merchant("acme", enabled_external_channels=["ebay", "amazon"])
    refused = {
        # Routed 42 units to channels that do not exist, before.
        "enabled_external_channels": (
            ["../etc", "<script>"],
            ["overrides.enabled_external_channels[0]", "overrides.enabled_external_channels[1]"],
        ),
        "external_excluded_categories": (
            ["Shoes\x00"],
            ["overrides.external_excluded_categories[0]"],
        ),
        "external_channels_enabled": ("false", ["overrides.external_channels_enabled"]),
    }
    for name, (value, fields) in refused.items():
        assert _names(_decide(api, key, {name: value})) == fields
        # Exactly what PUT settings says about the same value.
        settings = api.http.put(
            "/v1/merchants/acme/settings",
            json={name: value},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert _names(settings) == [f.removeprefix("overrides.") for f in fields]
    assert _names(_decide(api, key, {"enabled_external_channels": ["ebay", "ebay"]})) == [
        "overrides.enabled_external_channels[1]"
    ]
    assert _names(_decide(api, key, {"enabled_external_channels": ["amazon"] * 17})) == [
        "overrides.enabled_external_channels"
    ]
    # In a batch every item is checked and named.
    items = [decide_body() for _ in range(4)]
    items[1]["overrides"] = {"enabled_external_channels": ["myspace"]}
    items[3]["overrides"] = {"external_channels_enabled": 1}
    r = api.http.post(
        "/v1/decide/batch", json={"items": items}, headers={"Authorization": f"Bearer {key}"}
    )
    assert _names(r) == [
        "items[1].overrides.enabled_external_channels[0]",
        "items[3].overrides.external_channels_enabled",
    ]


def test_the_decision_names_the_values_that_came_from_the_request(api: Api) -> None:
    key = api.create_merchant("acme", enabled_external_channels=["ebay", "amazon"])
    r = _decide(api, key, {"enabled_external_channels": ["amazon"], "dead_external_percent": 50})
    assert r.status_code == 200, r.text
    decision = r.json()
    assert [(c["channel"], c["allocated_units"]) for c in decision["external_channels"]] == [
        ("amazon", 30)
    ]
    parameters = decision["parameters"]
    assert parameters["enabled_external_channels"] == {"value": ["amazon"], "source": "request"}
    assert parameters["dead_external_percent"] == {"value": 50, "source": "request"}
    assert parameters["external_channels_enabled"]["source"] == "policy"
    r = _decide(api, key, {"external_channels_enabled": False})
    assert r.json()["parameters"]["external_channels_enabled"] == {
        "value": False,
        "source": "request",
    }
    assert r.json()["external_channels"] == []
