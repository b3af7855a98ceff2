"""The policy engine: load versioned YAML policies and decide routing, first match wins.

Pure: no I/O during evaluation, nothing of ours imported. Typical use:

    policy_set = load_policy_dir("policies")   # raises PolicyProblems
    engine = Engine(policy_set)                # compiles durable-rules rulesets
    decision = engine.decide(request, settings)
"""

from engine.evaluate import Engine
from engine.loader import load_paths, load_policy_dir
from engine.policy_set import PolicySet, PolicySummary, VersionInfo
from engine.problems import PolicyProblems, Problem
from engine.types import DecideRequest, Decision, DecisionError, Settings

__all__ = [
    "DecideRequest",
    "Decision",
    "DecisionError",
    "Engine",
    "PolicyProblems",
    "PolicySet",
    "PolicySummary",
    "Problem",
    "Settings",
    "VersionInfo",
    "load_paths",
    "load_policy_dir",
]
