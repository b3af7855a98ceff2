"""The loaded, validated form of policy files: frozen Structs, no behaviour.

The loader builds these from YAML once; evaluation only reads them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from engine.types import ParamValue

ParamType = Literal["integer", "number", "boolean", "string", "string_list"]
CompareOp = Literal["eq", "ne", "lt", "le", "gt", "ge"]

# The facts a rule may test, and their types. Each is read from a DecideRequest.
FACT_TYPES: dict[str, ParamType] = {
    "stock_quantity": "integer",
    "days_since_last_sale": "integer",
    "category": "string",
    "title": "string",
    "product_id": "string",
    "current_price": "number",
    "proposed_price": "number",
    "duration_hours": "integer",
}

# Parameters that merchant settings (the API) may set. A policy that does not
# declare them still gets these defaults, because allocation needs them.
SETTINGS_PARAMS: dict[str, tuple[ParamType, ParamValue]] = {
    "external_channels_enabled": ("boolean", True),
    "enabled_external_channels": ("string_list", []),
    "external_excluded_categories": ("string_list", []),
}


class Fact(msgspec.Struct, frozen=True):
    name: str


class Param(msgspec.Struct, frozen=True):
    name: str


class Literal_(msgspec.Struct, frozen=True):
    value: ParamValue


Operand = Fact | Param | Literal_


class Compare(msgspec.Struct, frozen=True):
    """`subject OP operand`; `between` is two Compares under an All.

    `line`/`col` (here and on every condition node and rule) are where the node
    sits in its file, so lint findings, coverage and traces can point at it.
    """

    subject: Operand
    op: CompareOp
    operand: Operand
    line: int = 0
    col: int = 0


class Member(msgspec.Struct, frozen=True):
    """`subject in operand` (or `not in` when negated); operand is a list."""

    subject: Operand
    operand: Operand
    negated: bool = False
    line: int = 0
    col: int = 0


class All(msgspec.Struct, frozen=True):
    children: tuple[Condition, ...]
    line: int = 0
    col: int = 0


class Any_(msgspec.Struct, frozen=True):
    children: tuple[Condition, ...]
    line: int = 0
    col: int = 0


class Not(msgspec.Struct, frozen=True):
    child: Condition
    line: int = 0
    col: int = 0


Condition = Compare | Member | All | Any_ | Not


class Outcome(msgspec.Struct, frozen=True):
    external: bool
    external_percent: Operand | None = None
    external_priority: bool = False


class Rule(msgspec.Struct, frozen=True):
    id: str
    reason: str
    when: Condition | None
    outcome: Outcome
    line: int = 0
    col: int = 0


class ParamDecl(msgspec.Struct, frozen=True):
    type: ParamType
    default: ParamValue
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""
    line: int = 0
    col: int = 0


class Policy(msgspec.Struct, frozen=True):
    name: str
    version: str
    sha256: str
    file: str
    active: bool
    active_for: tuple[str, ...]
    params: dict[str, ParamDecl]
    rules: tuple[Rule, ...]
    description: str = ""
    # The file as a reviewer finds it in the repository: relative to the policy
    # folder's parent (`policies/channel-routing/v1.yaml`); traces show this.
    source: str = ""
    # Evaluated beside the active version for every decision, never deciding.
    shadow: bool = False
    # Becomes the active version at this instant (timezone-aware).
    active_from: datetime | None = None
    # (line, col) of each top-level key of the file, for findings about them.
    at: dict[str, tuple[int, int]] = {}


class MerchantOverride(msgspec.Struct, frozen=True):
    merchant_id: str
    file: str
    policy: str = "channel-routing"
    policy_version: str | None = None
    params: dict[str, ParamValue] = {}
    # (line, col) of each overridden parameter and of `policy_version`, for lint.
    param_at: dict[str, tuple[int, int]] = {}


class PolicyCase(msgspec.Struct, frozen=True):
    name: str
    file: str
    line: int
    request: dict[str, object]
    expect: dict[str, object]


class PolicyTests(msgspec.Struct, frozen=True):
    policy: str
    version: str | None
    file: str
    cases: tuple[PolicyCase, ...]
