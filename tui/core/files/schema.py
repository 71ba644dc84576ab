"""Typed values from parsed TOML: a table checked against a dataclass's annotations.

`convert(value, tp, key)` returns `value` as the annotation `tp` describes (dataclasses,
lists, dicts, unions with None, Literals, str, int, float, bool, Any) or raises
`SchemaError` at the key path that does not fit. Numbers must be finite: NaN and the
infinities, which TOML can write, are errors wherever they appear.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from typing import Any, Literal, TypeVar, Union

from .tomlfile import KeyPath

_TOML_TYPE = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table"}
_HINTS: dict[type, dict[str, Any]] = {}

T = TypeVar("T")


class SchemaError(Exception):
    """A value that does not fit the schema, at a key path, before it is placed in a file."""

    def __init__(self, key: KeyPath, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def _type_name(value: object) -> str:
    return _TOML_TYPE.get(type(value), "date/time")


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _finite(value: float, key: KeyPath) -> float:
    if math.isnan(value):
        raise SchemaError(key, "expected a number, got nan")
    if math.isinf(value):
        raise SchemaError(key, f"expected a finite number, got {'-' if value < 0 else ''}inf")
    return value


def _all_finite(value: object, key: KeyPath) -> None:
    """Reject NaN and infinities anywhere inside a value taken as it is (`Any`)."""
    if isinstance(value, float):
        _finite(value, key)
    elif isinstance(value, dict):
        for k, v in value.items():
            _all_finite(v, key + (str(k),))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _all_finite(v, key + (i,))


def convert(value: Any, tp: Any, key: KeyPath) -> Any:
    """`value` from TOML checked against the annotation `tp`; SchemaError if it does not fit."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return convert(value, inner[0], key)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value in choices and type(value) is type(choices[0]):
            return value
        got = f'"{value}"' if isinstance(value, str) else _type_name(value)
        listed = ", ".join(f'"{c}"' for c in choices)
        raise SchemaError(key, f"expected one of {listed}, got {got}")
    if tp is Any:
        _all_finite(value, key)
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise SchemaError(key, f"expected true or false, got {_type_name(value)}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise SchemaError(key, f"expected an integer, got {_type_name(value)}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return _finite(float(value), key)
            except OverflowError:
                raise SchemaError(key, "number too large") from None
        raise SchemaError(key, f"expected a number, got {_type_name(value)}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise SchemaError(key, f"expected a string, got {_type_name(value)}")
    if origin is list:
        if not isinstance(value, list):
            raise SchemaError(key, f"expected an array, got {_type_name(value)}")
        (item,) = typing.get_args(tp)
        return [convert(v, item, key + (i,)) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise SchemaError(key, f"expected a table, got {_type_name(value)}")
        _, item = typing.get_args(tp)
        return {k: convert(v, item, key + (k,)) for k, v in value.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return from_table(value, tp, key)
    raise TypeError(f"unsupported annotation {tp!r}")


def from_table(value: Any, cls: type[T], key: KeyPath = ()) -> T:
    """An instance of the dataclass `cls` from a TOML table; unknown keys are errors."""
    if not isinstance(value, dict):
        raise SchemaError(key, f"expected a table, got {_type_name(value)}")
    hints = _hints(cls)
    kwargs = {}
    for name, item in value.items():
        if name not in hints:
            close = difflib.get_close_matches(name, list(hints), n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            raise SchemaError(key + (name,), f"unknown key{hint}")
        kwargs[name] = convert(item, hints[name], key + (name,))
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]  # callers pass dataclasses only
        if (
            f.name not in kwargs
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ):
            raise SchemaError(key, f'missing required key "{f.name}"')
    return cls(**kwargs)


def to_table(obj: Any) -> Any:
    """A dataclass as TOML-ready data: None and values equal to their default left out."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if value is None:
                continue
            if f.default is not dataclasses.MISSING:
                if value == f.default:
                    continue
            elif f.default_factory is not dataclasses.MISSING and value == f.default_factory():
                continue
            out[f.name] = to_table(value)
        return out
    if isinstance(obj, dict):
        return {k: to_table(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, (list, tuple)):
        return [to_table(v) for v in obj if v is not None]
    return obj
