"""Property-based run of schemathesis over the app's own OpenAPI document:
no generated request may get a 5xx or an answer that breaks the schema."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from server.app import create_app
from server.config import ServiceConfig
from tests.server.helpers import Api, connector_env, live_server

MAX_EXAMPLES = 30


@pytest.fixture
def fuzzed_api(config: ServiceConfig, sandbox_url: str) -> Iterator[Api]:
    """The app with its connectors pointed at the sandbox, so that credentials
    the fuzzer happens to get right are exchanged there (never outside)."""
    config = dataclasses.replace(config, env=connector_env(sandbox_url))
    app = create_app(config)
    server = live_server(app)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            yield Api(url=server.url, config=config, http=http, app=app)
    finally:
        server.stop()


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_openapi_fuzzing_finds_no_server_error(fuzzed_api: Api) -> None:
    api = fuzzed_api
    api.create_merchant("acme", enabled_external_channels=["ebay", "amazon"])
    schema = schemathesis.openapi.from_url(f"{api.url}/schema/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 10
    checks = [
        not_a_server_error,
        response_schema_conformance,
        content_type_conformance,
        status_code_conformance,
    ]
    statuses: list[int] = []
    for operation, mode in itertools.product(operations, list(GenerationMode)):
        if operation.path == "/v1/policies/reload":
            continue  # reload is covered by test_api_reload; fuzzing it only repeats one call

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            response = case.call_and_validate(base_url=api.url, headers=api.admin, checks=checks)
            statuses.append(response.status_code)

        try:
            check()
        except Unsatisfiable:
            # Nothing in an operation without parameters or body can be made invalid.
            assert mode is GenerationMode.NEGATIVE, operation.label
    # The run really exercised the API: many calls, both accepted and refused inputs.
    assert len(statuses) >= 10 * len(operations)
    assert any(s < 300 for s in statuses) and any(400 <= s < 500 for s in statuses)
    print({s: statuses.count(s) for s in sorted(set(statuses))})
