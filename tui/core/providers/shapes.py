"""Typed reads of JSON a server sent: each accessor returns the promised type or raises
`Malformed` saying what was wrong, so a wire format parses a chunk in one place and a
lying server becomes one ProviderError instead of a TypeError deep in a parser."""

from __future__ import annotations

import math
from typing import Any


class Malformed(Exception):
    """Valid JSON of the wrong shape; the message says which part."""


def obj(value: Any, what: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise Malformed(f"{what} is {kind(value)}, not an object")


def opt_obj(data: dict[str, Any], key: str, what: str) -> dict[str, Any]:
    """A nested object; absent or null is empty."""
    value = data.get(key)
    return {} if value is None else obj(value, f"{what}.{key}")


def opt_list(data: dict[str, Any], key: str, what: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise Malformed(f"{what}.{key} is {kind(value)}, not a list")


def opt_str(data: dict[str, Any], key: str, what: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise Malformed(f"{what}.{key} is {kind(value)}, not text")


def opt_int(data: dict[str, Any], key: str, what: str) -> int | None:
    """A whole number; `12.0` is accepted, `"12"`, `true`, NaN and `-1` are not."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and value >= 0:
        return int(value)
    raise Malformed(f"{what}.{key} is {kind(value)}, not a count")


def count(data: dict[str, Any], key: str, what: str) -> int:
    return opt_int(data, key, what) or 0


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number" if math.isfinite(value) else "NaN or infinite"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
