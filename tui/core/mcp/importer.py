"""MCP server configs from other clients, as the profile's `[mcp_servers.*]` tables.

Reads the JSON of Claude Desktop and Cursor (`{"mcpServers": {...}}`), VS Code
(`{"servers": {...}}` in mcp.json, `{"mcp": {"servers": {...}}}` in settings.json, comments
and trailing commas allowed) and oterm. Variables (see variables.py) are expanded when
imported in command, args, cwd and url; in env and headers they are kept as references and
expanded each time the server starts, so no secret is copied into the profile.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from ..files.schema import SchemaError, to_table
from ..files.tomlfile import FileFormatError, dump_toml, format_key, read_text
from ..profile import McpServerDef, Profile
from ..profile_io import ProfileError, check_profile, parse_profile
from ..text import one_line
from .variables import MissingVariable, deferred, expand

_BAD_NAME_CHAR = re.compile(r"[^A-Za-z0-9_-]+")
# VS Code's "http" falls back to SSE as the spec describes, which is Baton's "auto".
_URL_TYPES: dict[str, Literal["auto", "http", "sse"]] = {
    "": "auto",
    "http": "auto",
    "streamable-http": "http",
    "streamablehttp": "http",
    "streamable_http": "http",
    "sse": "sse",
}
_JSONC = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*.*?\*/|,(?=\s*[}\]])', re.DOTALL)


class McpImportError(ValueError):
    """A config that cannot be imported; the text is one line, its control characters made visible."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message, 500))


Fail = Callable[..., McpImportError]  # (message, *more key parts) -> the error to raise


def import_mcp(text: str, source: str, env: Mapping[str, str]) -> dict[str, McpServerDef]:
    """The servers in a client's MCP config, by names valid in a profile. Raises McpImportError."""
    data = _parse_json(text, source)
    path, servers = _find_servers(data, source)
    if not servers:
        raise McpImportError(f"{source}: {'.'.join(path)} has no servers")
    out: dict[str, McpServerDef] = {}
    for raw_name, entry in servers.items():
        key = (*path, raw_name)
        name = _unique(_valid_name(raw_name), out)
        try:
            out[name] = _server(entry, key, env)
        except MissingVariable as exc:
            raise McpImportError(f"{source}: {format_key(key)}: {exc}, and it has no default") from None
        except McpImportError as exc:
            raise McpImportError(f"{source}: {exc}") from None
    try:
        check_profile(Profile(mcp_servers=out))
    except SchemaError as exc:
        raise McpImportError(f"{source}: {format_key(exc.key)}: {exc.message}") from None
    return out


def import_mcp_file(path: Path | str, env: Mapping[str, str]) -> dict[str, McpServerDef]:
    """`import_mcp` on a file's text; a file that cannot be read is one line too."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise McpImportError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise McpImportError(f"{path}: cannot be read: {exc.strerror or type(exc).__name__}") from None
    return import_mcp(text, str(path), env)


def is_mcp_config(text: str) -> bool:
    """Whether `text` looks like a client's MCP config (for suggesting import-mcp)."""
    try:
        _find_servers(_parse_json(text, ""), "")
    except McpImportError:
        return False
    return True


def merge_into(profile: Path | str | None, servers: Mapping[str, McpServerDef]) -> str:
    """The TOML to write: a new profile with just these servers, or `profile` with them added.

    The given profile's text is kept as it is (comments too) and the new tables are added
    at its end. A server name the profile has already is refused unless the server is the
    same. Raises McpImportError.
    """
    if profile is None:
        return dump_toml({"mcp_servers": {name: to_table(d) for name, d in servers.items()}})
    where = str(profile)
    try:
        text = read_text(Path(profile), ProfileError)
        existing = parse_profile(text, where).mcp_servers
    except FileFormatError as exc:
        raise McpImportError(str(exc)) from None
    new: dict[str, McpServerDef] = {}
    for name, d in servers.items():
        if name not in existing:
            new[name] = d
        elif to_table(existing[name]) != to_table(d):
            raise McpImportError(
                f"{where}: mcp_servers.{name} exists and is different; rename or remove one of them first"
            )
    if not new:
        return text
    added = dump_toml({"mcp_servers": {name: to_table(d) for name, d in new.items()}})
    merged = f"{text.rstrip()}\n\n{added}" if text.strip() else added
    try:
        parse_profile(merged, where)
    except ProfileError as exc:
        raise McpImportError(f"{where}: the servers cannot be added at its end: {exc}") from None
    return merged


def _parse_json(text: str, source: str) -> Any:
    # Comments and trailing commas become spaces, so positions in errors stay true.
    def blank(match: re.Match[str]) -> str:
        token = match[0]
        return token if token.startswith('"') else re.sub(r"[^\n]", " ", token)

    try:
        return json.loads(_JSONC.sub(blank, text))
    except json.JSONDecodeError as exc:
        raise McpImportError(f"{source}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None


def _find_servers(data: Any, source: str) -> tuple[tuple[str, ...], dict[str, Any]]:
    if not isinstance(data, dict):
        raise McpImportError(f"{source}: expected a JSON object with mcpServers or servers")
    for path in (("mcpServers",), ("servers",), ("mcp", "servers")):
        found: Any = data
        for part in path:
            found = found.get(part) if isinstance(found, dict) else None
        if found is None:
            continue
        if not isinstance(found, dict):
            raise McpImportError(f"{source}: {'.'.join(path)}: expected an object of servers by name")
        return path, found
    raise McpImportError(f"{source}: no mcpServers, servers or mcp.servers object found")


def _valid_name(name: str) -> str:
    return _BAD_NAME_CHAR.sub("_", name.strip()).strip("_") or "server"


def _unique(name: str, taken: Mapping[str, object]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    return candidate


def _server(entry: Any, key: tuple[str, ...], env: Mapping[str, str]) -> McpServerDef:
    def fail(message: str, *more: str | int) -> McpImportError:
        return McpImportError(f"{format_key((*key, *more))}: {message}")

    if not isinstance(entry, dict):
        raise fail("expected an object")
    kind = str(entry.get("type") or entry.get("transport") or "").lower()
    command, url = entry.get("command"), entry.get("url") or entry.get("serverUrl")
    if command and url:
        raise fail("has both command and url; give one")
    if not command and not url:
        raise fail("needs a command (stdio) or a url (HTTP)")
    if kind != "stdio" and kind not in _URL_TYPES:
        raise fail(f'transport "{kind}" is not supported (stdio, http or sse are)', "type")
    if command:
        if kind not in ("", "stdio"):
            raise fail(f'type "{kind}" needs a url, not a command', "type")
        return McpServerDef(
            command=expand(_string(command, fail, "command"), env),
            args=[expand(_string(a, fail, "args", i), env) for i, a in enumerate(_list(entry, "args", fail))],
            env=_strings(entry, "env", fail),
            cwd=expand(_string(entry["cwd"], fail, "cwd"), env) if entry.get("cwd") else None,
        )
    if kind == "stdio":
        raise fail('type "stdio" needs a command, not a url', "type")
    return McpServerDef(
        url=expand(_string(url, fail, "url"), env), headers=_strings(entry, "headers", fail), transport=_URL_TYPES[kind]
    )


def _string(value: Any, fail: Fail, *key: str | int) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise fail("expected a string", *key)
    text = value if isinstance(value, str) else json.dumps(value)
    if "\n" in text or "\r" in text:
        raise fail("contains a line break", *key)
    return text


def _list(entry: dict[str, Any], field: str, fail: Fail) -> list[Any]:
    value = entry.get(field) or []
    if not isinstance(value, list):
        raise fail("expected a list of strings", field)
    return value


def _strings(entry: dict[str, Any], field: str, fail: Fail) -> dict[str, str]:
    value = entry.get(field) or {}
    if not isinstance(value, dict):
        raise fail("expected an object of strings", field)
    out = {}
    for k, v in value.items():
        text = json.dumps(v) if isinstance(v, bool) else _string(v, fail, field, k)
        out[str(k)] = deferred(text)
    return out
