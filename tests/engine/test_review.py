"""Coverage, `policy diff` counts on a known sample, scheduled activation, shadow
decisions and traces that name the rule's FILE:LINE."""

from __future__ import annotations

import io
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from policy_files import POLICY, REPO, add_version, edit, line_of, run_cli

from engine import DecideRequest, Engine, Settings, load_policy_dir
from engine.coverage import measure
from engine.diff import Differ
from server.cli.review import write_markdown

HIGH_MARGIN = {"Jewelry", "Watches", "Luxury"}
CHANNELS = {"enabled_external_channels": ["ebay", "amazon"]}


# ---------------------------------------------------------------- coverage


def test_shipped_cases_cover_every_rule_and_both_outcomes_of_every_comparison() -> None:
    coverage = measure(Engine(load_policy_dir(REPO / "policies")))
    [version] = coverage.versions
    assert version.total == 7 + 2 * 10  # 7 rules, 10 comparisons (a between is two)
    assert coverage.percent == 100.0


def test_coverage_names_what_the_cases_miss_and_min_coverage_fails(folder: Path) -> None:
    cases = folder / "tests" / "channel-routing.yaml"
    data = json.loads(json.dumps(__import__("yaml").safe_load(cases.read_text())))
    data["cases"] = [c for c in data["cases"] if c["expect"]["rule_id"] != "dead-stock"]
    cases.write_text(json.dumps(data))
    coverage = measure(Engine(load_policy_dir(folder)))
    [version] = coverage.versions
    assert [r.rule_id for r in version.rules if not r.hits] == ["dead-stock"]
    # Without a dead-stock case, "more than dead_min_stock" is never seen true together
    # with a case that got that far: that outcome is reported as missing.
    missed = {b.text: (b.true, b.false) for b in version.branches if b.rule_id == "dead-stock"}
    assert missed["stock_quantity > dead_min_stock"][0] == 0
    assert version.covered == version.total - 2
    result = run_cli("policy", "test", str(folder), "--min-coverage", "100")
    assert result.returncode == 1
    file = folder / POLICY
    assert f"{file}:{line_of(file, 'id: dead-stock')}: rule dead-stock: 0 hits" in result.stdout
    assert "is below --min-coverage 100" in result.stderr
    assert run_cli("policy", "test", str(folder), "--min-coverage", "50").returncode == 0


# ---------------------------------------------------------------- diff


def sample() -> list[dict[str, Any]]:
    """A grid over stock, staleness and category, for a merchant without an override file."""
    out = []
    for stock in range(0, 121, 4):
        for days in range(0, 61, 2):
            for category in ("Apparel", "Jewelry", "Home"):
                out.append(
                    {
                        "merchant_id": "reviewer",
                        "product": {
                            "product_id": f"{stock}-{days}",
                            "category": category,
                            "stock_quantity": stock,
                            "days_since_last_sale": days,
                        },
                        "proposal": {"proposed_price": "19.99"},
                        "settings": CHANNELS,
                    }
                )
    return out


def moderate(item: dict[str, Any]) -> bool:
    """The seed table's moderate-overstock row, written out independently of the engine."""
    p = item["product"]
    return (
        p["category"] not in HIGH_MARGIN
        and p["stock_quantity"] > 20
        and 14 <= p["days_since_last_sale"] <= 30
    )


def test_a_change_of_moderate_percent_changes_exactly_the_moderate_decisions(
    folder: Path, tmp_path: Path
) -> None:
    new = Path(shutil.copytree(folder, tmp_path / "new"))
    edit(new / POLICY, "default: 40", "default: 55")
    items = sample()
    path = tmp_path / "sample.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in items))
    result = run_cli(
        "policy", "diff", str(folder), str(new), "--sample", str(path), "--format", "json"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    expected = [i for i in items if moderate(i)]
    assert report["decisions"] == len(items)
    assert report["changed"] == len(expected)
    [transition] = report["transitions"]
    assert (transition["from_rule"], transition["to_rule"]) == (
        "moderate-overstock",
        "moderate-overstock",
    )
    assert transition["count"] == len(expected)
    gained = sum(
        (i["product"]["stock_quantity"] * 55 // 100) - (i["product"]["stock_quantity"] * 40 // 100)
        for i in expected
    )
    assert report["units_moved"]["store"] == -gained
    assert report["units_moved"]["ebay"] + report["units_moved"]["amazon"] == gained
    for example in transition["examples"]:
        assert moderate(example["request"])
        assert example["at"].startswith(f"{path}:")
    assert "progress" not in result.stderr and "req/s" not in result.stderr  # not a TTY


def test_diff_markdown_and_a_progress_bar_when_asked(folder: Path, tmp_path: Path) -> None:
    new = Path(shutil.copytree(folder, tmp_path / "new"))
    edit(new / POLICY, "default: 50\n    minimum: 0\n  dead_min_staleness_days", "default: 10\n"
         "    minimum: 0\n  dead_min_staleness_days")  # fmt: skip
    path = tmp_path / "sample.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in sample()))
    result = run_cli(
        "policy",
        "diff",
        str(folder),
        str(new),
        "--sample",
        str(path),
        "--format",
        "markdown",
        "--progress",
    )
    assert result.returncode == 0, result.stderr
    assert "| `default-store` | `dead-stock` |" in result.stdout
    assert "| store | -" in result.stdout
    assert "req/s" in result.stderr  # tqdm's bar, on stderr only
    fail = run_cli(
        "policy", "diff", str(folder), str(new), "--sample", str(path), "--fail-on-change"
    )
    assert fail.returncode == 1


def test_diff_refuses_a_bad_sample_line_with_its_line_number(tmp_path: Path) -> None:
    path = tmp_path / "sample.jsonl"
    good = json.dumps(sample()[0])
    path.write_text(f'{good}\n\n{{"merchant_id": "x"}}\n')
    result = run_cli("policy", "diff", "policies", "policies", "--sample", str(path))
    assert result.returncode == 1
    assert f"{path}:3: invalid request" in result.stderr


def test_markdown_report_renders_from_the_tally(folder: Path) -> None:
    engine = Engine(load_policy_dir(folder))
    differ = Differ(engine, engine)
    for item in sample()[:50]:
        body = dict(item)
        settings = msgspec.convert(body.pop("settings"), Settings)
        differ.add(msgspec.convert(body, DecideRequest), settings, "x")
    out = io.StringIO()
    write_markdown(differ.tally.report(), "a", "b", ("v", "v"), out)
    assert "**0 of 50 decisions change (0.00 %).**" in out.getvalue()


# ---------------------------------------------------------------- schedules and shadow


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _request(merchant: str = "acme", stock: int = 60, days: int = 20) -> DecideRequest:
    return msgspec.convert(
        {
            "merchant_id": merchant,
            "product": {"product_id": "p", "stock_quantity": stock, "days_since_last_sale": days},
            "proposal": {"proposed_price": "9.99"},
        },
        DecideRequest,
    )


AT = datetime(2030, 11, 27, 6, 0, tzinfo=UTC).timestamp()


def test_a_scheduled_version_takes_over_at_its_time_without_a_reload(folder: Path) -> None:
    add_version(folder, 'active_from: "2030-11-27T06:00:00Z"\nactive_for: [early]\n', percent=55)
    clock = Clock(AT - 1)
    engine = Engine(load_policy_dir(folder), clock=clock)
    [summary] = engine.summary()
    assert summary.active_version == "1"
    assert [(s.version, s.active_from) for s in summary.scheduled] == [
        ("2", "2030-11-27T06:00:00Z")
    ]
    assert engine.decide(_request()).policy.version == "1"
    assert engine.decide(_request("early")).policy.version == "2"  # staged ahead of time
    clock.now = AT
    assert engine.decide(_request()).policy.version == "2"
    assert engine.summary()[0].active_version == "2" and engine.summary()[0].scheduled == []
    assert engine.decide(_request(), Settings(), trace=False).policy.version == "2"
    pinned = msgspec.structs.replace(_request(), policy_version="1")
    assert engine.decide(pinned).policy.version == "1"


def test_a_shadow_version_decides_nothing_and_stops_shadowing_when_it_takes_over(
    folder: Path,
) -> None:
    add_version(folder, 'shadow: true\nactive_from: "2030-11-27T06:00:00Z"\n', percent=55)
    clock = Clock(AT - 60)
    engine = Engine(load_policy_dir(folder), clock=clock)
    assert engine.shadowing
    decision = engine.decide(_request(), Settings(enabled_external_channels=["ebay"]))
    assert decision.policy.version == "1"
    shadow = engine.shadow_decision(
        _request(), Settings(enabled_external_channels=["ebay"]), decision
    )
    assert shadow is not None and shadow.policy.version == "2"
    assert [a.allocated_units for a in decision.external_channels] == [60 * 40 // 100]
    assert [a.allocated_units for a in shadow.external_channels] == [60 * 55 // 100]
    clock.now = AT
    decision = engine.decide(_request())
    assert decision.policy.version == "2"
    assert engine.shadow_decision(_request(), None, decision) is None


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("shadow: true\nactive: true\n", "cannot be active or staged"),
        ('active: true\nactive_from: "2030-01-01T00:00:00Z"\n', "not yet active"),
        ('active_from: "2030-01-01T00:00:00"\n', "RFC 3339 time with a time zone"),
        ('active_from: "2030-02-30T00:00:00Z"\n', "active_from:"),
    ],
)
def test_conflicting_shadow_and_schedule_keys_are_refused_at_their_line(
    folder: Path, header: str, message: str
) -> None:
    add_version(folder, header, percent=55)
    result = run_cli("policy", "validate", str(folder))
    assert result.returncode == 1
    v2 = folder / "channel-routing" / "v2.yaml"
    key = "shadow" if "shadow" in header else "active_from"
    assert any(
        line.startswith(f"{v2}:{line_of(v2, key)}:") and message in line
        for line in result.stdout.splitlines()
    ), result.stdout


# ---------------------------------------------------------------- traces


def test_every_trace_entry_names_its_rule_file_and_line() -> None:
    engine = Engine(load_policy_dir(REPO / "policies"))
    decision = engine.decide(_request(days=45), Settings(**CHANNELS))
    file = REPO / "policies" / POLICY
    assert [(t.rule_id, t.file, t.line) for t in decision.trace] == [
        (rule, "policies/channel-routing/v1.yaml", line_of(file, f"id: {rule}"))
        for rule in (
            "merchant-opt-out",
            "merchant-excluded-category",
            "high-margin-category",
            "low-stock-fresh",
            "moderate-overstock",
            "dead-stock",
        )
    ]
    text = run_cli(
        "policy", "explain", "--merchant", "acme", "--product", "examples/dead-stock.json", "--text"
    )
    assert f"✓ dead-stock (policies/channel-routing/v1.yaml:{line_of(file, 'id: dead-stock')})" in (
        text.stdout
    )
