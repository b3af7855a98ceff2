"""The decision explorer's arithmetic: a form into a DecideRequest, override values typed like
the parameters they replace, and a decision into what the page draws. No I/O here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from engine.types import DecideRequest, Decision, EffectiveParam, ParamValue, Product, Proposal

PRODUCT_FIELDS = (
    "product_id",
    "variant_id",
    "title",
    "category",
    "stock_quantity",
    "days_since_last_sale",
    "current_price",
)
PROPOSAL_FIELDS = ("proposed_price", "duration_hours")
OVERRIDE_ROWS = 2
LAYERS = {
    "policy": "policy default",
    "merchant_file": "merchant override file",
    "settings": "merchant settings",
    "request": "this campaign's override",
}
# Any request of the merchant: the parameters a policy offers do not depend on the product.
DEFAULT_PRODUCT = Product(product_id="-", stock_quantity=0, days_since_last_sale=0)
DEFAULT_PROPOSAL = Proposal(proposed_price="0")
_AT = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


class FormProblems(Exception):
    """Field name -> what is wrong with it."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


def form_of(request: DecideRequest) -> dict[str, str]:
    """The explorer's form filled with a logged request (to try it again)."""
    product = msgspec.to_builtins(request.product)
    proposal = msgspec.to_builtins(request.proposal)
    values = {k: "" if product.get(k) is None else str(product[k]) for k in PRODUCT_FIELDS}
    values.update({k: str(proposal[k]) for k in PROPOSAL_FIELDS})
    values["policy_version"] = request.policy_version or ""
    return values


def request_from(form: dict[str, str], merchant_id: str) -> DecideRequest:
    """The DecideRequest the form describes, without overrides; FormProblems otherwise."""
    product = {k: form[k].strip() for k in PRODUCT_FIELDS if form.get(k, "").strip()}
    proposal = {k: form[k].strip() for k in PROPOSAL_FIELDS if form.get(k, "").strip()}
    body: dict[str, Any] = {"merchant_id": merchant_id, "product": product, "proposal": proposal}
    if form.get("policy_version", "").strip():
        body["policy_version"] = form["policy_version"].strip()
    try:
        return msgspec.convert(body, DecideRequest, strict=False)
    except msgspec.ValidationError as exc:
        raise FormProblems({_field(str(exc)): _message(str(exc))}) from exc


def _field(message: str) -> str:
    match = _AT.search(message)
    if not match:
        return "product_id"
    path = match.group("path")
    if path in ("product", "proposal"):  # a required field is missing: name it
        missing = re.search(r"missing required field `([^`]+)`", message)
        return missing.group(1) if missing else path
    return path.rsplit(".", 1)[-1]


def _message(message: str) -> str:
    match = _AT.search(message)
    text = message[: match.start()] if match else message
    if text.startswith("Object missing required field"):
        return "This field is required."
    return text


def typed_value(raw: str, like: ParamValue | None) -> ParamValue:
    """`raw` as the type of the value it overrides; ValueError says what was expected."""
    text = raw.strip()
    if isinstance(like, bool):
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError("Enter true or false.")
    if isinstance(like, int):
        try:
            return int(text)
        except ValueError:
            raise ValueError("Enter a whole number.") from None
    if isinstance(like, float):
        try:
            return float(text)
        except ValueError:
            raise ValueError("Enter a number.") from None
    if isinstance(like, list):
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


def overrides_from(
    form: dict[str, str], parameters: dict[str, EffectiveParam]
) -> dict[str, ParamValue]:
    """The per-campaign overrides the form asks for; FormProblems names the row."""
    overrides: dict[str, ParamValue] = {}
    problems: dict[str, str] = {}
    for row in range(1, OVERRIDE_ROWS + 1):
        name = form.get(f"override_{row}_name", "").strip()
        raw = form.get(f"override_{row}_value", "")
        if not name:
            continue
        if name not in parameters:
            problems[f"override_{row}_name"] = "Choose a parameter of this policy."
            continue
        if not raw.strip() and not isinstance(parameters[name].value, list):
            problems[f"override_{row}_value"] = "Enter the value to try."
            continue
        try:
            overrides[name] = typed_value(raw, parameters[name].value)
        except ValueError as exc:
            problems[f"override_{row}_value"] = str(exc)
    if form.get("campaign_opt_out") == "on":
        overrides["external_channels_enabled"] = False
    if problems:
        raise FormProblems(problems)
    return overrides


def override_row(field: str, form: dict[str, str]) -> str:
    """The form field a DecisionError's `overrides.NAME` points at."""
    name = field.removeprefix("overrides.")
    for row in range(1, OVERRIDE_ROWS + 1):
        if form.get(f"override_{row}_name", "").strip() == name:
            return f"override_{row}_value"
    return "campaign_opt_out" if name == "external_channels_enabled" else "override_1_name"


@dataclass(frozen=True)
class Segment:
    """One part of the allocation picture."""

    name: str
    label: str
    units: int
    share: Decimal  # percent, one decimal
    x: float
    width: float


def segments(decision: Decision, stock: int, labels: dict[str, str]) -> list[Segment]:
    """Store first, then each channel in allocation order, as parts of 100."""
    parts = [("store", "Store", decision.store_units)]
    parts += [
        (a.channel, labels.get(a.channel, a.channel), a.allocated_units)
        for a in decision.external_channels
    ]
    found: list[Segment] = []
    x = 0.0
    for name, label, units in parts:
        width = 100.0 * units / stock if stock else 0.0
        share = (
            (Decimal(units * 100) / Decimal(stock)).quantize(Decimal("0.1"))
            if stock
            else (Decimal("0.0"))
        )
        found.append(Segment(name, label, units, share, round(x, 3), round(width, 3)))
        x += width
    return found


def shown(value: ParamValue) -> str:
    """A parameter value as a merchant reads it."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(value) if value else "(none)"
    return str(value)


@dataclass(frozen=True)
class Step:
    """One rule of the trace, in words."""

    rule_id: str
    matched: bool
    words: str
    location: str | None


def steps(decision: Decision) -> list[Step]:
    """The trace rule by rule; FILE:LINE when the engine gives it."""
    found = []
    for entry in msgspec.to_builtins(decision.trace):
        detail = str(entry.get("detail", ""))
        for prefix in ("matched: ", "failed: "):
            detail = detail.removeprefix(prefix)
        found.append(Step(entry["rule_id"], bool(entry["matched"]), detail, _location(entry)))
    return found


def _location(entry: dict[str, Any]) -> str | None:
    for key in ("location", "source"):
        if isinstance(entry.get(key), str) and entry[key]:
            return str(entry[key])
    if entry.get("file"):
        line = entry.get("line")
        return f"{entry['file']}:{line}" if line else str(entry["file"])
    return None
