"""What a policy repository uses: the pre-commit hooks run, the CI example's commands parse."""

from __future__ import annotations

import shlex

import yaml
from policy_files import REPO, run_cli

from server.cli.main import build_parser


def test_each_pre_commit_hook_passes_on_the_shipped_policies() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert {h["id"] for h in hooks} == {"policy-validate", "policy-test", "policy-lint"}
    for hook in hooks:
        command = shlex.split(hook["entry"])
        assert command[0] == "channel-router" and hook["pass_filenames"] is False
        result = run_cli(*command[1:])
        assert result.returncode == 0, (hook["id"], result.stdout, result.stderr)


def test_the_example_ci_workflow_runs_validate_test_lint_and_diff_with_valid_arguments() -> None:
    workflow = yaml.safe_load((REPO / "examples" / "ci" / "policy-review.yml").read_text())
    commands = [
        line.strip().rstrip("\\").strip()
        for step in workflow["jobs"]["review"]["steps"]
        for line in step.get("run", "").splitlines()
        if line.strip().startswith("channel-router")
    ]
    # The diff's continuation line carries its --sample and --format.
    runs = [shlex.split(c) for c in commands]
    assert [r[2] for r in runs] == ["validate", "test", "lint", "diff"]
    for argv in runs:
        if argv[2] == "diff":
            argv += ["--sample", "samples/requests.jsonl", "--format", "markdown"]
        args = build_parser().parse_args(argv[1:])
        assert args.handler is not None
    test_args = build_parser().parse_args(runs[1][1:])
    assert test_args.coverage and test_args.min_coverage == 100
