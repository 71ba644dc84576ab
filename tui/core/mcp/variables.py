"""Variables in MCP server settings: `${VAR}`, `${VAR:-default}`, and `$$` for a dollar.

`${env:VAR}` (the VS Code and Cursor spelling) is the same as `${VAR}`. Any other `$`
is kept as written. A profile's `env` and `headers` values also take `$VAR`, as they
always have; imported values are written so that a lone `$` stays a dollar.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_TOKEN = re.compile(
    r"\$(?:(?P<dollar>\$)"
    r"|\{(?:env:)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(ValueError):
    """A `${VAR}` without a default whose variable is not set."""

    def __init__(self, name: str) -> None:
        super().__init__(f"environment variable {name} is not set")
        self.name = name


def expand(value: str, env: Mapping[str, str], *, bare: bool = False) -> str:
    """`value` with its variables replaced; `bare` also replaces `$VAR`."""

    def replace(match: re.Match[str]) -> str:
        if match["dollar"]:
            return "$"
        if match["bare"]:
            if not bare:
                return match[0]
            name = match["bare"]
        else:
            name = match["name"]
        if env.get(name):
            return env[name]
        if match["default"] is not None:
            return match["default"]
        if name in env:
            return ""
        raise MissingVariable(name)

    return _TOKEN.sub(replace, value)


def deferred(value: str) -> str:
    """`value` written for `expand(..., bare=True)` later: the same result then as `expand` now.

    Keeps `${VAR}` and `${VAR:-default}` for expansion when the server starts (so no secret
    is written into a profile), and doubles every other dollar.
    """
    out: list[str] = []
    end = 0
    for match in _TOKEN.finditer(value):
        out.append(value[end : match.start()].replace("$", "$$"))
        if match["name"]:
            default = match["default"]
            out.append(f"${{{match['name']}{'' if default is None else ':-' + default}}}")
        elif match["dollar"]:
            out.append("$$")
        else:
            out.append("$" + match[0])  # a bare `$VAR` is a dollar and a word: `$$VAR`
        end = match.end()
    out.append(value[end:].replace("$", "$$"))
    return "".join(out)
