"""The JSON of a Decision, with the parts it shares with other decisions ready-made.

Most of a decision's bytes are its trace and its effective parameters, and
both are shared: the Engine hands the same parameters dict to every decision
of a merchant's settings and the same trace list to every decision with the
same kept trace, and keeps their JSON beside them (engine.evaluate).
`encode_spliced` splices those bytes in (msgspec.Raw) and encodes only the
rest; the result is exactly `msgspec.json.encode(decision)`
(tests/engine/test_decision_json.py checks it on generated decisions).
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec.structs import astuple

from engine.types import Decision

_encode = msgspec.json.Encoder().encode
_FIELDS = Decision.__struct_fields__
_TRACE = _FIELDS.index("trace")
_PARAMETERS = _FIELDS.index("parameters")
# Decision's fields in its order, trace and parameters as ready JSON (encoding reads no types).
_Spliced = msgspec.defstruct(
    "_Spliced",
    [(name, msgspec.Raw if name in ("trace", "parameters") else Any) for name in _FIELDS],
    frozen=True,
)


def part_json(part: object) -> msgspec.Raw:
    """The JSON of a trace or parameters, ready to splice."""
    return msgspec.Raw(_encode(part))


def encode_spliced(
    decision: Decision, trace: msgspec.Raw | None, parameters: msgspec.Raw | None
) -> bytes:
    """`msgspec.json.encode(decision)`, given the JSON of its trace and parameters
    (None: encoded here)."""
    fields = list(astuple(decision))
    fields[_TRACE] = trace if trace is not None else part_json(decision.trace)
    fields[_PARAMETERS] = parameters if parameters is not None else part_json(decision.parameters)
    return _encode(_Spliced(*fields))
