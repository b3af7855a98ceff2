"""Decisions: contract example, parameter layering, versions, pins and staged roll-out."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import msgspec
import pytest

from engine import DecideRequest, DecisionError, Engine, Settings, load_policy_dir
from engine.casebook import run_cases

REPO_POLICIES = Path(__file__).resolve().parents[2] / "policies"


def request(merchant: str = "acme", stock: int = 60, days: int = 45, **extra: Any) -> DecideRequest:
    raw: dict[str, Any] = {
        "merchant_id": merchant,
        "product": {
            "product_id": "8812",
            "variant_id": "4410",
            "title": "Linen shirt",
            "category": extra.pop("category", "Apparel"),
            "stock_quantity": stock,
            "days_since_last_sale": days,
            "current_price": "49.99",
        },
        "proposal": {"proposed_price": "19.99", "duration_hours": extra.pop("hours", 168)},
        **extra,
    }
    return msgspec.convert(raw, DecideRequest)


TWO = Settings(enabled_external_channels=["ebay", "amazon"])


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_policy_dir(REPO_POLICIES))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return Path(shutil.copytree(REPO_POLICIES, tmp_path / "policies"))


def test_contract_example(engine: Engine) -> None:
    decision = engine.decide(request(), TWO)
    assert decision.rule_id == "dead-stock"
    assert decision.store is True and decision.external_priority is True
    assert decision.store_units == 18
    assert [
        (a.channel, a.allocated_units, a.price, a.duration_days) for a in decision.external_channels
    ] == [
        ("ebay", 21, "19.99", 7),
        ("amazon", 21, "19.99", 7),
    ]
    assert decision.reasoning.startswith("Dead stock.")
    assert decision.policy.name == "channel-routing" and decision.policy.version == "1"
    assert len(decision.policy.sha256) == 64


def test_trace_names_the_failed_comparison_with_actual_values(engine: Engine) -> None:
    trace = engine.decide(request(), TWO).trace
    assert [t.rule_id for t in trace][-1] == "dead-stock"
    assert [t.matched for t in trace] == [False] * 5 + [True]
    low = next(t for t in trace if t.rule_id == "low-stock-fresh")
    assert low.detail == "failed: stock_quantity (60) <= store_only_max_stock (20)"
    moderate = next(t for t in trace if t.rule_id == "moderate-overstock")
    assert "days_since_last_sale (45) <= moderate_max_staleness_days (30)" in moderate.detail


def test_trace_off_is_empty_and_decision_is_the_same(engine: Engine) -> None:
    on, off = engine.decide(request(), TWO), engine.decide(request(), TWO, trace=False)
    assert off.trace == []
    assert (on.rule_id, on.store_units, on.external_channels) == (
        off.rule_id,
        off.store_units,
        off.external_channels,
    )


def test_duration_days_is_at_least_one(engine: Engine) -> None:
    decision = engine.decide(request(hours=5), TWO)
    assert {a.duration_days for a in decision.external_channels} == {1}


def test_layering_and_sources(engine: Engine) -> None:
    # demo-outlet's override file sets moderate_external_percent: 50; the request beats it.
    decision = engine.decide(request("demo-outlet", 30, 20), TWO)
    assert decision.parameters["moderate_external_percent"].source == "merchant_file"
    assert decision.store_units == 15
    decision = engine.decide(
        request("demo-outlet", 30, 20, overrides={"moderate_external_percent": 10}), TWO
    )
    assert decision.parameters["moderate_external_percent"].value == 10
    assert decision.parameters["moderate_external_percent"].source == "request"
    assert decision.store_units == 27
    assert decision.parameters["enabled_external_channels"].source == "settings"
    assert decision.parameters["dead_min_stock"].source == "policy"


def test_settings_beat_override_file(folder: Path) -> None:
    (folder / "merchants" / "demo-outlet.yaml").write_text(
        "merchant_id: demo-outlet\nparams:\n  external_channels_enabled: false\n"
    )
    engine = Engine(load_policy_dir(folder))
    assert engine.decide(request("demo-outlet"), TWO).rule_id == "merchant-opt-out"
    enabled = Settings(external_channels_enabled=True, enabled_external_channels=["ebay"])
    decision = engine.decide(request("demo-outlet"), enabled)
    assert decision.rule_id == "dead-stock"
    assert decision.parameters["external_channels_enabled"].source == "settings"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"no_such": 1}, "overrides.no_such"),
        ({"dead_external_percent": 101}, "overrides.dead_external_percent"),
        ({"dead_external_percent": "70"}, "overrides.dead_external_percent"),
        ({"external_channels_enabled": 0}, "overrides.external_channels_enabled"),
    ],
)
def test_bad_override_is_a_decision_error(
    engine: Engine, overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(DecisionError) as caught:
        engine.decide(request(overrides=overrides), TWO)
    assert caught.value.field == field


def test_unknown_pinned_version(engine: Engine) -> None:
    with pytest.raises(DecisionError, match="has no version '9'"):
        engine.decide(request(policy_version="9"), TWO)


def add_version(folder: Path, version: str, extra: str = "", dead_percent: int = 70) -> None:
    text = (folder / "channel-routing" / "v1.yaml").read_text()
    text = text.replace('version: "1"\nactive: true\n', f'version: "{version}"\n{extra}')
    text = text.replace("default: 70", f"default: {dead_percent}")
    (folder / "channel-routing" / f"v{version}.yaml").write_text(text)


def test_versions_side_by_side_pin_by_request_and_by_file(folder: Path) -> None:
    add_version(folder, "2", dead_percent=100)
    (folder / "merchants" / "pinned.yaml").write_text("merchant_id: pinned\npolicy_version: '2'\n")
    engine = Engine(load_policy_dir(folder))
    assert engine.decide(request(), TWO).policy.version == "1"
    by_request = engine.decide(request(policy_version="2"), TWO)
    assert by_request.policy.version == "2" and by_request.store_units == 0
    assert engine.decide(request("pinned"), TWO).policy.version == "2"
    shas = {engine.decide(request(policy_version=v), TWO).policy.sha256 for v in ("1", "2")}
    assert len(shas) == 2


def test_staged_rollout_applies_to_listed_merchants_only(folder: Path) -> None:
    add_version(folder, "2", extra="active_for: [early-bird]\n", dead_percent=100)
    engine = Engine(load_policy_dir(folder))
    assert engine.decide(request("early-bird"), TWO).policy.version == "2"
    assert engine.decide(request("everyone-else"), TWO).policy.version == "1"
    summary = {v.version: v for v in engine.summary()[0].versions}
    assert summary["2"].active_for == ["early-bird"] and not summary["2"].active


def test_shipped_policy_cases_pass(engine: Engine) -> None:
    results = run_cases(engine)
    assert len(results) >= 20
    assert [r for r in results if not r.passed] == []


def test_a_wrong_expectation_fails(folder: Path) -> None:
    cases = folder / "tests" / "channel-routing.yaml"
    cases.write_text(cases.read_text().replace("store_units: 18", "store_units: 17", 1))
    failed = [r for r in run_cases(Engine(load_policy_dir(folder))) if not r.passed]
    assert len(failed) == 1
    assert failed[0].mismatches == ["store_units: expected 17, got 18"]
