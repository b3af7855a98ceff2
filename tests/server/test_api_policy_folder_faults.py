"""POST /v1/policies/reload on a broken folder: 422 with located problems, never a 500,
nothing from outside the folder in the answer, and the previous policies keep serving."""

from __future__ import annotations

import pytest

from tests.server.broken_policies import BREAKS, PROBLEM, SECRET
from tests.server.helpers import Api, decide_body


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_reload_of_a_broken_folder_is_422_and_the_old_policies_serve(api: Api) -> None:
    key = api.create_merchant("acme", enabled_external_channels=["ebay"])
    for breaks, _, _ in BREAKS.values():
        breaks(api.config.policy_dir)
    r = api.http.post("/v1/policies/reload", headers=api.admin)
    assert r.status_code == 422, r.text[:500]
    problems = r.json()["problems"]
    assert SECRET not in r.text
    assert all(PROBLEM.match(line) for line in problems), problems
    for _, file, message in BREAKS.values():
        assert any(f"{api.config.policy_dir / file}:" in p and message in p for p in problems), file
    decision = api.http.post(
        "/v1/decide", json=decide_body(), headers={"Authorization": f"Bearer {key}"}
    )
    assert decision.status_code == 200 and decision.json()["rule_id"] == "dead-stock"
