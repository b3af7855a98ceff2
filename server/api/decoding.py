"""Request bodies decoded strictly, with every problem named at once.

Litestar decodes a JSON body into plain data and then converts it to the
handler's type with `strict=False` (so `"60"` would pass for an integer and
`"false"` for a boolean). `ApiRequest.json()` instead decodes the body straight
into the handler's `data` type with msgspec's strict decoder: no coercion, and
one pass over the bytes. Litestar's signature model then passes the finished
Struct through unchanged.

On a refusal, msgspec names only the first problem; `explain` walks the body
against the type, converting each node with msgspec itself, and lists every
node that fails, so the verdicts are msgspec's own and never drift from what
the fast path accepts. Rules a type cannot state (a channel must have a
connector) are checks registered per Struct type in `server.api.validation`,
run on every node that decoded.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, Union

import msgspec
from litestar import Request
from litestar.types import Empty

from engine.types import MONEY_PATTERN, TEXT_PATTERN
from server.api.problems import InvalidParam

MAX_LISTED = 200  # problems listed in one answer; the detail says how many there were

Check = Callable[[Any, str], list[InvalidParam]]
# Struct type -> the checks of values of that type (filled by server.api.validation).
CHECKS: dict[type, list[Check]] = {}


class BodyMalformed(Exception):
    """The body is not JSON at all (400)."""


class BodyInvalid(Exception):
    """JSON that does not match the operation's schema or rules (422), every field named."""

    def __init__(self, params: list[InvalidParam]) -> None:
        super().__init__(f"{len(params)} invalid field(s)")
        self.params = params


def register(struct_type: type, check: Check) -> None:
    """Run `check(value, path)` on every decoded value of `struct_type`."""
    CHECKS.setdefault(struct_type, []).append(check)
    _needs_checks.cache_clear()
    _type_plan.cache_clear()
    _struct_plan.cache_clear()


def join(path: str, name: str | int) -> str:
    """`items[3]` + `product` -> `items[3].product`; ints are list indexes."""
    if isinstance(name, int):
        return f"{path}[{name}]"
    return f"{path}.{name}" if path else name


class BodyDecoder:
    """Strict decoding of one body type, and the explanation of a refusal."""

    def __init__(self, body_type: Any) -> None:
        self.body_type = body_type
        self._decoder = msgspec.json.Decoder(body_type)

    def decode(self, body: bytes) -> Any:
        """The body as `body_type`; BodyMalformed (400) or BodyInvalid (422) otherwise."""
        try:
            value = self._decoder.decode(body)
        except msgspec.ValidationError:
            value = self._second_look(body)
        except msgspec.DecodeError as exc:
            raise BodyMalformed(_malformed_reason(str(exc))) from None
        except RecursionError:
            raise BodyMalformed("the body is nested too deeply") from None
        problems = checks_of(value, self.body_type, "")
        if problems:
            raise BodyInvalid(problems)
        return value

    def _second_look(self, body: bytes) -> Any:
        """A body the strict decoder refused: accepted only if its one difference is
        whole numbers written as floats (60.0 is the integer 60 in JSON Schema, which
        the OpenAPI document follows); else every problem, listed."""
        try:
            raw = msgspec.json.decode(body)
            whole = _whole_floats_as_ints(raw)
            if whole is not raw:
                try:
                    return msgspec.convert(whole, self.body_type, strict=True)
                except msgspec.ValidationError:
                    pass
            problems = explain(whole, self.body_type, "")
        except msgspec.DecodeError as exc:
            raise BodyMalformed(_malformed_reason(str(exc))) from None
        except RecursionError:
            raise BodyMalformed("the body is nested too deeply") from None
        raise BodyInvalid(
            problems or [InvalidParam(name="body", reason="does not match the schema")]
        )


_EXACT_FLOAT = 2**53  # beyond this a float no longer names one integer


def _whole_floats_as_ints(raw: Any) -> Any:
    """`raw` with every whole float (60.0, 6e1) as an int; the same object when there is none."""
    if isinstance(raw, float):
        if raw.is_integer() and -_EXACT_FLOAT <= raw <= _EXACT_FLOAT:
            return int(raw)
        return raw
    if isinstance(raw, list):
        items = [_whole_floats_as_ints(item) for item in raw]
        return raw if all(a is b for a, b in zip(items, raw, strict=True)) else items
    if isinstance(raw, dict):
        values = {key: _whole_floats_as_ints(value) for key, value in raw.items()}
        return raw if all(values[k] is raw[k] for k in raw) else values
    return raw


def _malformed_reason(message: str) -> str:
    return message.split(" - at ")[0][:200] or "not valid JSON"


def explain(raw: Any, tp: Any, path: str) -> list[InvalidParam]:
    """The problems of `raw` as a `tp` at `path` (empty when it converts and passes checks)."""
    try:
        value = msgspec.convert(raw, tp, strict=True)
    except msgspec.ValidationError as exc:
        return _explain_failure(raw, tp, path, exc)
    return checks_of(value, tp, path)


def _explain_failure(
    raw: Any, tp: Any, path: str, exc: msgspec.ValidationError
) -> list[InvalidParam]:
    base, metas = _strip(tp)
    origin = typing.get_origin(base)
    if isinstance(base, type) and issubclass(base, msgspec.Struct) and isinstance(raw, dict):
        return _explain_struct(raw, base, path) or [_leaf(raw, path, exc)]
    if origin is list and isinstance(raw, list):
        (item_type,) = typing.get_args(base)
        problems = _container_problem(raw, Annotated[list[Any], *metas] if metas else None, path)
        for index, item in enumerate(raw):
            problems += explain(item, item_type, join(path, index))
            if len(problems) > MAX_LISTED:
                break
        return problems or [_leaf(raw, path, exc)]
    if origin is dict and isinstance(raw, dict):
        key_type, value_type = typing.get_args(base)
        problems = _container_problem(
            raw, Annotated[dict[Any, Any], *metas] if metas else None, path
        )
        for key, item in raw.items():
            at = join(path, str(key))
            key_problems = explain(key, key_type, at)
            if key_problems:
                problems.append(
                    InvalidParam(name=at, reason="not an accepted name: " + key_problems[0].reason)
                )
            else:
                problems += explain(item, value_type, at)
        return problems or [_leaf(raw, path, exc)]
    if origin in (Union, types.UnionType) and isinstance(raw, dict | list):
        # The one member a JSON object (or array) can be: explain against it.
        members = [t for t in typing.get_args(base) if _container_kind(t) is type(raw)]
        if len(members) == 1:
            return explain(raw, members[0], path)
    return [_leaf(raw, path, exc)]


def _container_kind(tp: Any) -> type | None:
    """dict for Structs and dicts, list for lists, else None."""
    base, _ = _strip(tp)
    if _is_struct(base) or typing.get_origin(base) is dict:
        return dict
    if typing.get_origin(base) is list:
        return list
    return None


def _explain_struct(raw: dict[str, Any], cls: type, path: str) -> list[InvalidParam]:
    problems: list[InvalidParam] = []
    fields = msgspec.structs.fields(cls)
    names = {f.encode_name for f in fields}
    if cls.__struct_config__.forbid_unknown_fields:  # type: ignore[attr-defined]
        problems += [
            InvalidParam(name=join(path, str(key)), reason="unknown field")
            for key in raw
            if key not in names
        ]
    for field in fields:
        if field.encode_name in raw:
            problems += explain(raw[field.encode_name], field.type, join(path, field.encode_name))
        elif field.required:
            problems.append(InvalidParam(name=join(path, field.encode_name), reason="required"))
    return problems


def _container_problem(raw: Any, constrained: Any, path: str) -> list[InvalidParam]:
    if constrained is None:
        return []
    try:
        msgspec.convert(raw, constrained, strict=True)
    except msgspec.ValidationError as exc:
        return [_leaf(raw, path, exc)]
    return []


_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_FRIENDLY = {
    TEXT_PATTERN: "must not contain control characters (U+0000 to U+001F, U+007F to U+009F)",
    MONEY_PATTERN: (
        'must be a decimal string like "19.99": no exponent, sign or leading zeros, '
        "at most 4 decimals, below 1000000000"
    ),
}


def _leaf(raw: Any, path: str, exc: msgspec.ValidationError) -> InvalidParam:
    message = str(exc)
    match = _AT.search(message)
    if match:
        message = message[: match.start()]
        path = (
            path + match.group("path")
            if match.group("path").startswith("[")
            else (join(path, match.group("path").lstrip(".")))
        )
    for pattern, friendly in _FRIENDLY.items():
        if repr(pattern) in message or pattern in message:
            message = friendly
    return InvalidParam(name=path or "body", reason=message[:500])


def _strip(tp: Any) -> tuple[Any, tuple[Any, ...]]:
    """The type under `Annotated`, and its msgspec.Meta constraints."""
    metas: tuple[Any, ...] = ()
    while typing.get_origin(tp) is Annotated:
        args = typing.get_args(tp)
        tp = args[0]
        metas += tuple(a for a in args[1:] if isinstance(a, msgspec.Meta))
    return tp, metas


def _is_struct(tp: Any) -> bool:
    base, _ = _strip(tp)
    return isinstance(base, type) and issubclass(base, msgspec.Struct)


def checks_of(value: Any, tp: Any, path: str) -> list[InvalidParam]:
    """The registered checks of every Struct inside a decoded `value` of type `tp`.

    Only the parts of a type that can hold a checked Struct are visited (planned
    once per type), so a body without such parts costs one cached lookup.
    """
    needs, base, origin = _type_plan(tp)
    if not needs:
        return []
    problems: list[InvalidParam] = []
    if isinstance(value, msgspec.Struct):
        checks, fields = _struct_plan(type(value))
        for check in checks:
            problems += check(value, path)
        for name, encode_name, field_type in fields:
            problems += checks_of(getattr(value, name), field_type, join(path, encode_name))
    elif origin is list and isinstance(value, list):
        (item_type,) = typing.get_args(base)
        for index, item in enumerate(value):
            problems += checks_of(item, item_type, join(path, index))
    elif origin is dict and isinstance(value, dict):
        _, value_type = typing.get_args(base)
        for key, item in value.items():
            problems += checks_of(item, value_type, join(path, str(key)))
    elif origin in (Union, types.UnionType):
        for member in typing.get_args(base):
            if _is_struct(member) and isinstance(value, _strip(member)[0]):
                problems += checks_of(value, member, path)
    return problems


@cache
def _type_plan(tp: Any) -> tuple[bool, Any, Any]:
    """(whether a value of `tp` can hold a checked Struct, the type under `Annotated`,
    its origin): worked out once per type, as every decoded body asks."""
    base, _ = _strip(tp)
    return _needs_checks(tp), base, typing.get_origin(base)


@cache
def _struct_plan(cls: type) -> tuple[tuple[Check, ...], tuple[tuple[str, str, Any], ...]]:
    """The checks of `cls`, and its fields that can hold a checked Struct."""
    fields = tuple(
        (f.name, f.encode_name, f.type)
        for f in msgspec.structs.fields(cls)
        if _needs_checks(f.type)
    )
    return tuple(CHECKS.get(cls, ())), fields


@cache
def _needs_checks(tp: Any) -> bool:
    """Whether any registered Struct can occur inside a value of type `tp`."""
    return _reaches(tp, set())


def _reaches(tp: Any, seen: set[Any]) -> bool:
    base, _ = _strip(tp)
    if base in seen:
        return False
    if isinstance(base, type) and issubclass(base, msgspec.Struct):
        seen.add(base)
        return base in CHECKS or any(_reaches(f.type, seen) for f in msgspec.structs.fields(base))
    return any(_reaches(arg, seen) for arg in typing.get_args(base) if arg is not Ellipsis)


# Keyed by the handler's function: the same for every app built from one controller.
_DECODERS: dict[Any, BodyDecoder | None] = {}


def body_decoder(handler: Any) -> BodyDecoder | None:
    """The strict decoder of a route handler's JSON `data`, or None (no such body)."""
    key = handler.fn
    try:
        return _DECODERS[key]
    except KeyError:
        pass
    decoder = None
    data = handler.parsed_fn_signature.parameters.get("data")
    if data is not None and handler.resolve_data_dto() is None:
        media = getattr(data.kwarg_definition, "media_type", None)
        if media in (None, "application/json"):
            decoder = BodyDecoder(data.annotation)
    elif data is None:
        documented = documented_body(handler)
        if documented is not None:
            decoder = BodyDecoder(documented)
    _DECODERS[key] = decoder
    return decoder


def documented_body(handler: Any) -> Any:
    """The body type of a handler that reads its body itself (server.api.body.documented),
    or None."""
    provide = (getattr(handler, "dependencies", None) or {}).get("request_body")
    dependency = getattr(provide, "dependency", None)
    annotations = getattr(dependency, "__annotations__", {})
    return annotations.get("data")


class ApiRequest(Request[Any, Any, Any]):
    """Litestar's Request with `json()` decoding strictly into the handler's body type."""

    async def json(self) -> Any:
        """The decoded body (a Struct for handlers that declare one)."""
        if self._json is Empty:
            decoder = body_decoder(self.route_handler)
            if decoder is None:
                return await super().json()
            self._json = decoder.decode(await self.body())
        return self._json
