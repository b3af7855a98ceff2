"""Public request and decision types of the engine (docs/api.md).

These Structs are the wire format too: the server decodes HTTP bodies straight
into `DecideRequest` and encodes `Decision` as the response, so a field added
here is a field added to the API.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal, Union

import msgspec

# Bounded so that absurd numbers are a 422 at decode time, never an overflow later.
NonNegInt = Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000)]
ShortStr = Annotated[str, msgspec.Meta(max_length=200)]
Identifier = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
ChannelName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]

MAX_PRICE = Decimal("1000000000")


def _check_price(value: Decimal | None, name: str) -> None:
    # msgspec cannot put bounds on Decimal, so the Structs check prices here.
    if value is not None and not (value.is_finite() and 0 <= value <= MAX_PRICE):
        raise ValueError(f"{name} must be a finite decimal between 0 and {MAX_PRICE}")


# A typing.Union (not `|`) so the API's OpenAPI plugin can name it: generated
# from the union, the schema would be a oneOf where every integer matches both
# "integer" and "number" (server/api/openapi.py).
ParamValue = Union[bool, int, float, str, list[str]]  # noqa: UP007
ParamSource = Literal["policy", "merchant_file", "settings", "request"]


class Product(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    product_id: ShortStr
    stock_quantity: NonNegInt
    days_since_last_sale: NonNegInt
    variant_id: ShortStr | None = None
    title: ShortStr = ""
    category: ShortStr = ""
    current_price: Decimal | None = None

    def __post_init__(self) -> None:
        _check_price(self.current_price, "current_price")


class Proposal(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    proposed_price: Decimal
    duration_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 366)] = 168

    def __post_init__(self) -> None:
        _check_price(self.proposed_price, "proposed_price")


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A merchant's routing settings. Fields left UNSET were never chosen by the
    merchant, so a lower layer (override file, policy default) still applies."""

    external_channels_enabled: bool | msgspec.UnsetType = msgspec.UNSET
    enabled_external_channels: (
        Annotated[list[ChannelName], msgspec.Meta(max_length=16)] | msgspec.UnsetType
    ) = msgspec.UNSET
    external_excluded_categories: (
        Annotated[list[ShortStr], msgspec.Meta(max_length=1000)] | msgspec.UnsetType
    ) = msgspec.UNSET

    def given(self) -> dict[str, Any]:
        """The fields the merchant actually set."""
        return {
            f: getattr(self, f)
            for f in self.__struct_fields__
            if getattr(self, f) is not msgspec.UNSET
        }


class DecideRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    merchant_id: Identifier
    product: Product
    proposal: Proposal
    # Per-campaign overrides of any policy parameter or setting; checked against
    # the policy's declared parameters at decision time.
    overrides: Annotated[dict[str, ParamValue], msgspec.Meta(max_length=64)] = {}
    policy_version: Annotated[str, msgspec.Meta(max_length=32)] | None = None


class PolicyRef(msgspec.Struct, frozen=True):
    name: str
    version: str
    sha256: str


class ExternalAllocation(msgspec.Struct, frozen=True):
    channel: str
    allocated_units: int
    price: str
    duration_days: int


class TraceEntry(msgspec.Struct, frozen=True, omit_defaults=True):
    rule_id: str
    matched: bool
    detail: str
    # Where the rule is written (`policies/channel-routing/v1.yaml`, line of the rule).
    file: str = ""
    line: int = 0


class EffectiveParam(msgspec.Struct, frozen=True):
    value: ParamValue
    source: ParamSource


class Decision(msgspec.Struct, frozen=True):
    decision_id: str
    merchant_id: str
    policy: PolicyRef
    rule_id: str
    store: bool
    store_units: int
    external_priority: bool
    external_channels: list[ExternalAllocation]
    reasoning: str
    trace: list[TraceEntry]
    parameters: dict[str, EffectiveParam]


class DecisionError(ValueError):
    """A request the policy cannot answer (unknown version, bad override).

    `field` names the offending request field so the API can point at it.
    """

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field
