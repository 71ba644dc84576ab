"""Files Baton reads and writes: TOML with placed errors, private atomic writes, typed tables."""

from __future__ import annotations

from .schema import SchemaError, convert, from_table, to_table
from .tomlfile import (
    FileFormatError,
    KeyPath,
    append_private,
    atomic_write,
    dump_toml,
    format_key,
    open_private,
    parse_toml,
    place_error,
    private_dir,
    read_text,
)

__all__ = [
    "FileFormatError",
    "KeyPath",
    "SchemaError",
    "append_private",
    "atomic_write",
    "convert",
    "dump_toml",
    "format_key",
    "from_table",
    "open_private",
    "parse_toml",
    "place_error",
    "private_dir",
    "read_text",
    "to_table",
]
