"""Schemathesis over the served OpenAPI document: every check, every phase (the
stateful one included), on both database backends, must report nothing.

The CLI runs as it would against any deployment: the document at
/schema/openapi.json, the admin token, the connectors pointed at the sandbox so
that credentials the fuzzer happens to get right are exchanged there (never
outside). Under CI (`CI` set) the generation is deterministic, so a red run is
reproducible; elsewhere every run draws new inputs.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.config import ServiceConfig
from tests.server.helpers import Api, connector_env, serving_api

MAX_EXAMPLES = 8

# What the document cannot say, declared once:
# - an authorization code or token is well-formed yet refused by the marketplace:
#   that is a 422 (the exchange failed), however valid the body;
# - a report window must run forwards (since before until) within 1970..9999: a rule
#   between and within date-times that a schema cannot state;
# - the coverage phase of the batch would send 10,000-item batches with traces at
#   every boundary (seconds each); batch limits are tested in test_api_bad_input;
# - an executed campaign must end in the future and within 90 days (a rule on date-times
#   the schema cannot state), its Idempotency-Key may have been used with another body
#   or its campaign_id by another key (409), and its merchant may not exist (404);
# - the admin lists one merchant's campaigns (422 without `merchant_id`), and a cursor is
#   one the service gave (422 for any other string).
CONFIG = """
[[operations]]
include-path-regex = "/credentials$"
checks.positive_data_acceptance.expected-statuses = ["2xx", 401, 403, 404, 409, 422, 429]

[[operations]]
include-path-regex = "^/v1/policies/[^/]+/(stats|shadow)$"
checks.positive_data_acceptance.expected-statuses = ["2xx", 401, 403, 404, 422]

[[operations]]
include-path = "/v1/decide/batch"
phases.coverage.enabled = false

[[operations]]
include-path = "/v1/execute"
checks.positive_data_acceptance.expected-statuses = ["2xx", 401, 403, 404, 409, 422]

[[operations]]
include-path = "/v1/campaigns"
checks.positive_data_acceptance.expected-statuses = ["2xx", 401, 403, 404, 422]
"""


@pytest.fixture
def fuzzed_api(config: ServiceConfig, sandbox_url: str) -> Iterator[Api]:
    with serving_api(dataclasses.replace(config, env=connector_env(sandbox_url)), 60) as api:
        yield api


@pytest.mark.slow
def test_schemathesis_finds_nothing(fuzzed_api: Api, tmp_path: Path) -> None:
    api = fuzzed_api
    api.create_merchant("acme", enabled_external_channels=["ebay", "amazon"])
    (tmp_path / "schemathesis.toml").write_text(CONFIG)
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(tmp_path / "schemathesis.toml"),
        "run",
        f"{api.url}/schema/openapi.json",
        "--header",
        f"Authorization: Bearer {api.config.admin_token}",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "2",
        "--request-timeout",
        "30",
        "--no-color",
    ]
    command += ["--generation-deterministic"] if os.environ.get("CI") else []
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-20_000:]
    # The run reached every operation and the stateful phase followed links.
    selected = re.search(r"Operations:\s+(\d+) selected / (\d+) total", report)
    assert selected and selected[1] == selected[2] and int(selected[1]) >= 20, report[-3000:]
    scenarios = re.search(r"Stateful \(in [^)]*\)\s+Scenarios:\s+(\d+)", report)
    assert scenarios and int(scenarios[1]) >= 1, report[-3000:]
