"""Public request and decision types of the engine (docs/api.md).

These Structs are the wire format too: the server decodes HTTP bodies straight
into `DecideRequest` and encodes `Decision` as the response, so a field added
here is a field added to the API.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal, Union

import msgspec

# Patterns end with END, a look-ahead, instead of `$`: in Python `$` also matches
# before a final newline, so "acme\n" would pass. END means the same in ECMA-262, so
# the OpenAPI document states each pattern exactly.
#
# Text from outside may not carry control characters (C0, DEL, C1): PostgreSQL cannot
# store NUL, and none of them belongs in a name, a title or a category.
END = r"(?![\s\S])"
TEXT_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*" + END


# Bounded so that absurd numbers are a 422 at decode time, never an overflow later.
NonNegInt = Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000)]
ShortStr = Annotated[str, msgspec.Meta(max_length=200, pattern=TEXT_PATTERN)]
IDENTIFIER_PATTERN = r"^[A-Za-z0-9._-]+" + END
Identifier = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN)]
CHANNEL_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,31}" + END
ChannelName = Annotated[str, msgspec.Meta(pattern=CHANNEL_NAME_PATTERN)]
# Policy versions and parameter names: the shapes the policy file schemas allow.
PolicyVersion = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9._-]{1,32}" + END)]
ParamName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,63}" + END)]

# Money is a decimal string in one canonical form: no sign, no exponent, no leading
# zeros, at most 4 decimals, below 1,000,000,000. It is kept as the string given, so
# a price comes back exactly as it was sent; `money()` reads it as a Decimal.
MONEY_PATTERN = r"^(0|[1-9][0-9]{0,8})(\.[0-9]{1,4})?" + END
Money = Annotated[
    str,
    msgspec.Meta(
        pattern=MONEY_PATTERN,
        description='A decimal string such as "19.99": no exponent, sign or leading zeros.',
    ),
]


MAX_PRICE = Decimal("999999999.9999")  # the largest Money


def money(value: str) -> Decimal:
    """The Decimal of a Money string."""
    return Decimal(value)


# A typing.Union (not `|`) so the API's OpenAPI plugin can name it: generated
# from the union, the schema would be a oneOf where every integer matches both
# "integer" and "number" (server/api/openapi.py).
ParamValue = Union[bool, int, float, str, list[str]]  # noqa: UP007
# A parameter value as a request may send it: its text bounded like any other text.
ParamText = Annotated[str, msgspec.Meta(max_length=1000, pattern=TEXT_PATTERN)]
OverrideValue = Union[  # noqa: UP007
    bool, int, float, ParamText, Annotated[list[ParamText], msgspec.Meta(max_length=1000)]
]
ParamSource = Literal["policy", "merchant_file", "settings", "request"]


class Product(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    product_id: ShortStr
    stock_quantity: NonNegInt
    days_since_last_sale: NonNegInt
    variant_id: ShortStr | None = None
    title: ShortStr = ""
    category: ShortStr = ""
    current_price: Money | None = None


class Proposal(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    proposed_price: Money
    duration_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 366)] = 168


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
    overrides: Annotated[dict[ParamName, OverrideValue], msgspec.Meta(max_length=64)] = {}
    policy_version: PolicyVersion | None = None

    def __post_init__(self) -> None:
        # A whole number is an integer however it is written (JSON Schema: 60.0 is 60),
        # so an integer parameter accepts it; it is kept as the int it stands for.
        overrides = self.overrides
        if overrides and any(type(v) is float and v.is_integer() for v in overrides.values()):
            msgspec.structs.force_setattr(
                self,
                "overrides",
                {
                    k: int(v) if type(v) is float and v.is_integer() and abs(v) <= 2**53 else v
                    for k, v in overrides.items()
                },
            )


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
