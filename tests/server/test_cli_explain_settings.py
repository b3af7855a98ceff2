"""`policy explain` uses the merchant's settings from the configured database
(docs/policies.md, "Commands")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.helpers import Api, decide_body

REPO = Path(__file__).resolve().parents[2]


def explain(request_file: Path, database_url: str, merchant: str = "acme") -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "policy", "explain", "--merchant", merchant,
         "--product", str(request_file), "--policy-dir", str(REPO / "policies")],
        capture_output=True, text=True, timeout=60, cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO),
             "CHANNEL_ROUTER_DATABASE_URL": database_url},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    decision: dict[str, object] = json.loads(result.stdout)
    return decision


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_explain_reads_stored_settings(api: Api, tmp_path: Path) -> None:
    api.create_merchant("acme", enabled_external_channels=["amazon"])
    request_file = tmp_path / "request.json"
    request_file.write_text(json.dumps(decide_body()))
    decision = explain(request_file, api.config.database_url)
    assert decision["external_channels"] == [
        {"channel": "amazon", "allocated_units": 42, "price": "19.99", "duration_days": 7}
    ]
    assert decision["parameters"]["enabled_external_channels"] == {  # type: ignore[index]
        "value": ["amazon"],
        "source": "settings",
    }
    # A merchant the database does not know gets the policy defaults: nothing external.
    unknown = explain(request_file, api.config.database_url, merchant="nobody")
    assert unknown["external_channels"] == [] and unknown["store_units"] == 60
