"""The argument types a tool may declare: JSON schema for each, and checking model values.

Supported: ``str``, ``int``, ``float``, ``bool``, an ``Enum`` whose values are all ``str``
or all ``int``, a ``Literal`` of strings or of ints, ``list[X]`` of any of those, and any of
them ``| None``. ``Annotated[T, TypeInfo(...)]`` wraps any of them; the TypeInfo is taken
out before the type is looked at.
"""

from __future__ import annotations

import enum
import types
import typing
from dataclasses import dataclass
from typing import Any

_JSON_TYPES: dict[type, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
_NONE = type(None)


class UnsupportedType(TypeError):
    """A declared parameter type the tool schema cannot express."""


@dataclass(frozen=True)
class ArgShape:
    """A parameter type, reduced to what the schema and the checks need."""

    scalar: type  # str, int, float, bool, or an Enum class
    is_list: bool = False
    nullable: bool = False
    choices: tuple[Any, ...] = ()  # allowed JSON values (Literal / Enum values, TypeInfo)


def split_annotated(annotation: Any) -> tuple[Any, tuple[Any, ...]]:
    """(annotation without `Annotated`, its metadata); looks inside an outer `| None` too."""
    if typing.get_origin(annotation) is typing.Annotated:
        args = typing.get_args(annotation)
        return args[0], tuple(args[1:])
    nullable, inner = _strip_none(annotation)
    if nullable and typing.get_origin(inner) is typing.Annotated:
        # `x: Annotated[int, ...] = None` reaches us as Optional[Annotated[int, ...]].
        base, metadata = split_annotated(inner)
        return base | None, metadata
    return annotation, ()


def arg_shape(annotation: Any, choices: tuple[Any, ...] = ()) -> ArgShape:
    """Reduce an annotation (without `Annotated`); raises UnsupportedType."""
    nullable, inner = _strip_none(annotation)
    is_list = typing.get_origin(inner) is list
    if is_list:
        item_args = typing.get_args(inner)
        if len(item_args) != 1:
            raise UnsupportedType(f"{_name(inner)} needs an item type, as in list[str]")
        inner = item_args[0]
    scalar, own_choices = _scalar(inner)
    return ArgShape(scalar, is_list, nullable, tuple(choices) or own_choices)


def json_schema(shape: ArgShape) -> dict[str, Any]:
    """The JSON schema of a value of this shape."""
    json_type = _JSON_TYPES[_json_scalar(shape)]
    item: dict[str, Any] = {"type": json_type}
    if shape.choices:
        item["enum"] = list(shape.choices)
    schema: dict[str, Any] = {"type": "array", "items": item} if shape.is_list else item
    if shape.nullable:
        schema = {**schema, "type": [schema["type"], "null"]}
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    return schema


def coerce(shape: ArgShape, value: Any) -> Any:
    """Check a JSON-decoded value against the shape and convert it (ints, Enum members).

    Raises ValueError saying what was expected and what came.
    """
    if value is None:
        if shape.nullable:
            return None
        raise ValueError(f"expected {describe(shape)}, got null")
    if not shape.is_list:
        return _coerce_scalar(shape, value)
    if not isinstance(value, list):
        raise ValueError(f"expected {describe(shape)}, got {_json_kind(value)}")
    items = []
    for index, item in enumerate(value):
        try:
            items.append(_coerce_scalar(shape, item))
        except ValueError as exc:
            raise ValueError(f"item {index}: {exc}") from None
    return items


def describe(shape: ArgShape) -> str:
    """Human wording of the shape, for error messages."""
    what = _JSON_TYPES[_json_scalar(shape)]
    if shape.choices:
        what = f"one of {list(shape.choices)!r}"
    if shape.is_list:
        what = f"array of {what}"
    return f"{what} or null" if shape.nullable else what


def _coerce_scalar(shape: ArgShape, value: Any) -> Any:
    target = _json_scalar(shape)
    if target is bool:
        ok = isinstance(value, bool)
    elif target is str:
        ok = isinstance(value, str)
    else:  # int or float: JSON has one number type, and bool is not a number here
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and target is int:
            ok = float(value).is_integer()
            value = int(value) if ok else value
        elif ok:
            value = float(value)
    if not ok:
        raise ValueError(f"expected {describe(shape)}, got {_json_kind(value)} {value!r}")
    if shape.choices and value not in shape.choices:
        raise ValueError(f"expected one of {list(shape.choices)!r}, got {value!r}")
    if issubclass(shape.scalar, enum.Enum):
        return shape.scalar(value)
    return value


def _scalar(annotation: Any) -> tuple[type, tuple[Any, ...]]:
    if typing.get_origin(annotation) is typing.Literal:
        values = typing.get_args(annotation)
        kinds = {type(v) for v in values}
        if len(kinds) != 1 or not kinds <= {str, int}:
            raise UnsupportedType(f"{annotation} must list only strings or only ints")
        return kinds.pop(), values
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        values = tuple(member.value for member in annotation)
        kinds = {type(v) for v in values}
        if not values or len(kinds) != 1 or not kinds <= {str, int}:
            raise UnsupportedType(
                f"enum {annotation.__name__} must have values that are all str or all int"
            )
        return annotation, values
    if annotation in _JSON_TYPES:
        return typing.cast(type, annotation), ()
    raise UnsupportedType(f"unsupported type {_name(annotation)}")


def _json_scalar(shape: ArgShape) -> type:
    if issubclass(shape.scalar, enum.Enum):
        return type(shape.choices[0]) if shape.choices else str
    return shape.scalar


def _strip_none(annotation: Any) -> tuple[bool, Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(annotation)
        rest = [a for a in args if a is not _NONE]
        if len(rest) == 1 and len(args) == 2:
            return True, rest[0]
        raise UnsupportedType(f"unsupported union {_name(annotation)} (only X | None)")
    return False, annotation


def _json_kind(value: Any) -> str:
    for kind, name in ((bool, "boolean"), (str, "string"), (int, "integer"), (float, "number")):
        if isinstance(value, kind):
            return name
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def _name(annotation: Any) -> str:
    if typing.get_origin(annotation) is None and isinstance(annotation, type):
        return annotation.__name__
    return repr(annotation)
