"""Tool calls a provider runs on its own side (Dedalus hosted MCP servers).

What Dedalus sends, from its SDK (dedalus-labs/dedalus-sdk-python): a stream carries
such calls as ordinary `delta.tool_calls`, and the SDK's own runner tells them apart
only by name: a call to a tool the request did not declare is the server's to run
(lib/runner/core.py, "local_names" vs "mcp_names"). A whole reply may also list them:
`tools_executed` (names) and `mcp_tool_results` (tool_name, server_name, arguments,
result, is_error), in types/chat/chat_completion.py. Both are read here, from a reply or
from any stream chunk that carries them.
"""

from __future__ import annotations

import json
from typing import Any

from ..types import ToolCall
from .base import ChatRequest, ServerToolCall


def split_server_calls(
    calls: tuple[ToolCall, ...], request: ChatRequest, reported: list[ServerToolCall]
) -> tuple[tuple[ToolCall, ...], tuple[ServerToolCall, ...]]:
    """(calls to run here, calls the provider ran). A call is the provider's when the
    request did not declare its tool and either named hosted MCP servers or the reply
    reports the provider ran it. Reported results fill in the matching calls; reported
    runs the stream did not show are added after them."""
    declared = {t.name for t in request.tools}
    hosted = bool(request.extra.get("mcp_servers"))
    reported_names = {r.name for r in reported}
    local: list[ToolCall] = []
    server: list[ServerToolCall] = []
    for call in calls:
        if call.name not in declared and (hosted or call.name in reported_names):
            server.append(ServerToolCall(call.name, dict(call.arguments), id=call.id))
        else:
            local.append(call)
    unmatched = list(reported)
    for i, ran in enumerate(server):
        match = _take_match(unmatched, ran)
        if match is not None:
            server[i] = ServerToolCall(ran.name, ran.arguments, match.result, match.is_error, ran.id, match.server)
    server.extend(unmatched)
    return tuple(local), tuple(server)


def _take_match(reported: list[ServerToolCall], call: ServerToolCall) -> ServerToolCall | None:
    """The reported run for `call`: same name and arguments, else the first of that name."""
    same_name = [r for r in reported if r.name == call.name]
    for candidate in [r for r in same_name if r.arguments == call.arguments] or same_name[:1]:
        reported.remove(candidate)
        return candidate
    return None


def reported_server_calls(data: Any) -> list[ServerToolCall]:
    """The server-side runs a reply or chunk reports. These are extensions beside the
    answer: an entry of the wrong shape is skipped, never a reason to fail the answer."""
    if not isinstance(data, dict):
        return []
    out: list[ServerToolCall] = []
    results = data.get("mcp_tool_results")
    for entry in results if isinstance(results, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("tool_name"), str):
            continue
        arguments = entry.get("arguments")
        server = entry.get("server_name")
        out.append(
            ServerToolCall(
                entry["tool_name"],
                dict(arguments) if isinstance(arguments, dict) else {},
                _text(entry.get("result")),
                entry.get("is_error") is True,
                server=server if isinstance(server, str) else "",
            )
        )
    executed = data.get("tools_executed")
    counted = [r.name for r in out]
    for name in executed if isinstance(executed, list) else []:
        if not isinstance(name, str):
            continue
        if name in counted:
            counted.remove(name)
        else:
            out.append(ServerToolCall(name))
    return out


def _text(result: Any) -> str:
    if result is None:
        return ""
    if isinstance(result, str):
        return result
    try:
        return json.dumps(result, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return ""
