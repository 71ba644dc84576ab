"""The profile's MCP servers, offered to the models as one ToolBox.

Each connected server lives in one long-lived task that enters and leaves its client
context, because anyio cancel scopes must not cross tasks. Calls are sent from the
caller's task through the session: the SDK's dispatcher keeps a table of pending
requests over memory streams, so any task may send, and a caller's timeout or
cancellation stays inside that caller's own scope.

mcp is imported inside `start()` only: it is heavy and most chats never need it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

from ..env import data_dir
from ..files.tomlfile import open_private
from ..profile import McpServerDef
from ..tools import ApproveFn, ProgressFn, ToolResult
from ..types import ToolSpec
from .results import convert_result
from .transports import TRANSPORT_NAMES, HttpLog, Refused, shown_url
from .variables import expand

Transport = Literal["stdio", "http", "sse", "hosted", "in-process"]
State = Literal["connected", "failed", "stopped", "hosted"]

_INVALID_NAME_CHAR = re.compile(r"[^a-zA-Z0-9_-]")
_MAX_NAME = 64
_CLOSE_GRACE_S = 10.0  # the SDK bounds a stdio shutdown at a few seconds; this is a backstop


@dataclass(frozen=True)
class ServerStatus:
    name: str
    transport: Transport
    state: State
    error: str | None = None
    tools: tuple[str, ...] = ()  # the server's own tool names


@dataclass
class _Server:
    name: str
    definition: McpServerDef
    transport: Transport
    in_process: Any = None  # a Server/MCPServer object for transport "in-process"
    state: State = "stopped"
    error: str | None = None
    tools: list[Any] = field(default_factory=list)  # mcp Tool objects
    client: Any = None
    task: asyncio.Task[None] | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    log_path: Path | None = None
    log_offset: int = 0


class McpTools:
    """The ToolBox over the profile's MCP servers."""

    def __init__(
        self,
        servers: Mapping[str, McpServerDef],
        env: Mapping[str, str],
        *,
        log_dir: Path | None = None,
        approve: ApproveFn | None = None,
    ) -> None:
        self._env = env
        self._log_dir = log_dir
        self._approve = approve
        self._servers: dict[str, _Server] = {}
        for name, definition in servers.items():
            if definition.slug:
                transport: Transport = "hosted"
            elif definition.url:
                transport = "sse" if definition.transport == "sse" else "http"
            else:
                transport = "stdio"
            server = _Server(name, definition, transport)
            if transport == "hosted":
                server.state = "hosted"
            self._servers[name] = server
        self._names: dict[str, tuple[str, str]] = {}
        self._allowed: set[tuple[str, str]] = set()  # (server, tool) allowed for the session
        self._problems: list[str] = []

    # -- life cycle ---------------------------------------------------------------

    async def start(self) -> list[str]:
        """Connect to every local server at once; one line per server that failed."""
        pending = [s for s in self._servers.values() if s.transport != "hosted" and s.task is None]
        problems = await asyncio.gather(*(self._start_one(s) for s in pending))
        self._rename()
        return [p for p in problems if p]

    async def add_in_process(
        self,
        name: str,
        server: Any,
        *,
        approve: bool = False,
        timeout_s: float = 30.0,
        start_timeout_s: float = 30.0,
        definition: McpServerDef | None = None,
    ) -> str | None:
        """Connect to a Server or MCPServer object in this process (tests, built-ins).

        `definition`, when given, supplies every setting (its command or url is unused).
        """
        if name in self._servers:
            raise ValueError(f"mcp server {name!r} already exists")
        if definition is None:
            definition = McpServerDef(approve=approve, timeout_s=timeout_s, start_timeout_s=start_timeout_s)
        entry = _Server(name, definition, "in-process", in_process=server)
        self._servers[name] = entry
        problem = await self._start_one(entry)
        self._rename()
        return problem

    async def aclose(self) -> None:
        tasks = []
        for server in self._servers.values():
            server.closing.set()
            if server.task is not None and not server.task.done():
                tasks.append(server.task)
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=_CLOSE_GRACE_S)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        for server in self._servers.values():
            if server.state == "connected":
                server.state = "stopped"
            server.client = None
        self._names = {}

    async def _start_one(self, server: _Server) -> str | None:
        # Start-up (spawn, handshake, tool list) has its own bound; each call has timeout_s.
        timeout = server.definition.start_timeout_s
        server.task = asyncio.create_task(self._serve(server), name=f"mcp:{server.name}")
        try:
            async with asyncio.timeout(timeout):
                await server.ready.wait()
        except TimeoutError:
            server.task.cancel()
            await asyncio.gather(server.task, return_exceptions=True)
            self._fail(server, f"no answer within {timeout:g}s")
        except BaseException:
            server.task.cancel()
            raise
        if server.state == "connected":
            return None
        return f"mcp server '{server.name}' failed to start: {server.error}"

    async def _serve(self, server: _Server) -> None:
        """Open the server's client, list its tools, and hold it open until closing."""
        from mcp import Client

        connected = False
        tried: list[str] = []  # what each failed HTTP transport was answered
        try:
            for transport in self._transports(server):
                # Streamable HTTP: only the POSTs tell (a GET stream is optional for a server).
                http = HttpLog("POST" if transport == "http" else None)
                try:
                    async with contextlib.AsyncExitStack() as stack:
                        target = await self._target(server, transport, http, stack)
                        client = await stack.enter_async_context(Client(target, cache=None))
                        server.tools = await _list_tools(client)
                        server.client = client
                        server.transport = transport
                        server.state = "connected"
                        connected = True
                        server.ready.set()
                        await server.closing.wait()
                    return
                except Exception:
                    if connected or http.refused is None:
                        raise
                    tried.append(f"{TRANSPORT_NAMES[transport]}: {http.refused}")
                    # The spec's test for a server of the older transport: 404 or 405 to the POST.
                    if not (transport == "http" and http.status in (404, 405)):
                        break
            hint = ""
            if server.definition.transport == "http" and http.status in (404, 405):
                hint = ' (a server of the older transport? transport = "sse" or "auto")'
            raise Refused(f"{shown_url(server.definition.url or '')}: tried {'; '.join(tried)}{hint}")
        except Exception as exc:
            reason = _reason(exc)
            if connected and server.state == "connected" and not server.closing.is_set():
                self._died(server, reason)
            elif not connected:
                self._fail(server, reason)
        finally:
            server.client = None
            server.ready.set()

    def _transports(self, server: _Server) -> list[Transport]:
        """The transports to try in turn."""
        if server.transport in ("http", "sse") and server.definition.transport == "auto":
            return ["http", "sse"]
        return [server.transport]

    async def _target(
        self, server: _Server, transport: Transport, http: HttpLog, stack: contextlib.AsyncExitStack
    ) -> Any:
        """What the SDK's Client connects to: a transport or an in-process server."""
        d = server.definition
        if transport == "in-process":
            return server.in_process
        if transport in ("http", "sse"):
            import httpx2

            headers = {k: self._expand(v) for k, v in d.headers.items()}

            def client(*_: Any, **__: Any) -> httpx2.AsyncClient:
                # Same timeouts as the SDK's own default client; ours carries the headers.
                return httpx2.AsyncClient(
                    headers=headers,
                    timeout=httpx2.Timeout(30.0, read=300.0),
                    event_hooks={"response": [http.hook]},
                )

            if transport == "sse":
                from mcp.client.sse import sse_client

                return sse_client(d.url or "", httpx_client_factory=client)
            from mcp.client.streamable_http import streamable_http_client

            return streamable_http_client(d.url or "", http_client=await stack.enter_async_context(client()))
        if not d.command:
            raise ValueError("no command, url or slug given")
        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client

        params = StdioServerParameters(
            command=d.command,
            args=list(d.args),
            # Merged by the SDK over its minimal inherited set (HOME, PATH, ...).
            env={k: self._expand(v) for k, v in d.env.items()},
            cwd=d.cwd,
        )
        errlog = stack.enter_context(self._open_log(server))
        return stdio_client(params, errlog=errlog)

    def _open_log(self, server: _Server) -> TextIO:
        """The server's stderr file: private (0600 in a 0700 directory), appended to."""
        directory = self._log_dir or data_dir(self._env) / "mcp-logs"
        server.log_path = directory / f"{_INVALID_NAME_CHAR.sub('_', server.name)}.log"
        log = os.fdopen(open_private(server.log_path), "a", encoding="utf-8", buffering=1)
        server.log_offset = log.tell()
        return log

    def _expand(self, value: str) -> str:
        return expand(value, self._env, bare=True)  # MissingVariable fails the server

    def _stderr_tail(self, server: _Server) -> str:
        """The server's last line on stderr during this run, for a one-line reason."""
        if server.log_path is None:
            return ""
        try:
            with open(server.log_path, encoding="utf-8", errors="replace") as log:
                log.seek(server.log_offset)
                lines = [line.strip() for line in log.read()[-4000:].splitlines()]
        except OSError:
            return ""
        lines = [line for line in lines if line]
        return lines[-1][:200] if lines else ""

    def _fail(self, server: _Server, reason: str) -> None:
        tail = self._stderr_tail(server)
        server.state = "failed"
        server.error = f"{reason} (stderr: {tail})" if tail else reason

    def _died(self, server: _Server, reason: str) -> str:
        """Mark a server that stopped answering; its problem is reported once."""
        self._fail(server, reason)
        server.closing.set()  # let its task leave the client context and reap the process
        problem = f"mcp server '{server.name}' stopped: {server.error}"
        self._problems.append(problem)
        self._rename()
        return problem

    # -- what the engine sees -------------------------------------------------------

    @property
    def status(self) -> dict[str, ServerStatus]:
        return {
            s.name: ServerStatus(
                s.name, s.transport, s.state, s.error, tuple(t.name for t in s.tools)
            )
            for s in self._servers.values()
        }

    def problems(self) -> list[str]:
        """Servers that died since the last look, one line each (then forgotten)."""
        problems, self._problems = self._problems, []
        return problems

    def hosted_slugs(self) -> list[str]:
        return [s.definition.slug for s in self._servers.values() if s.definition.slug]

    def specs(self) -> list[ToolSpec]:
        by_pair = {pair: name for name, pair in self._names.items()}
        specs = []
        for server in self._servers.values():
            if server.state != "connected":
                continue
            for tool in server.tools:
                name = by_pair.get((server.name, tool.name))
                if name is None:
                    continue
                description = f"[{server.name}] {tool.description or ''}".rstrip()
                specs.append(ToolSpec(name, description, _object_schema(tool.input_schema)))
        return specs

    def owner(self, name: str) -> tuple[str, str] | None:
        return self._names.get(name)

    def _rename(self) -> None:
        pairs = [
            (s.name, t.name)
            for s in self._servers.values()
            if s.state == "connected"
            for t in s.tools
        ]
        # Keep the names of a server that died, so a late call still finds its owner.
        live = set(pairs)
        pairs += [pair for pair in self._names.values() if pair not in live]
        self._names = offered_names(pairs)

    async def call(
        self, name: str, arguments: dict[str, Any], *, on_progress: ProgressFn | None = None
    ) -> ToolResult:
        """Run a tool within the server's timeout_s; on_progress hears the server's progress."""
        owner = self._names.get(name)
        if owner is None:
            return ToolResult("", name, f"unknown tool {name!r}", is_error=True)
        server_name, tool = owner
        server = self._servers[server_name]

        waited = 0.0

        def error(text: str) -> ToolResult:
            return ToolResult(server_name, tool, text, is_error=True, waited_s=waited)

        if server.state != "connected" or server.client is None:
            return error(f"mcp server '{server_name}' is not running")
        if server.definition.approve and (server_name, tool) not in self._allowed:
            if self._approve is None:
                return error(
                    f"denied: calls to mcp server '{server_name}' need approval "
                    "(baton ask --approve-tools allows them)"
                )
            asked = time.monotonic()
            try:
                answer = await self._approve(server_name, tool, arguments)
                waited = time.monotonic() - asked
            except Exception as exc:
                return error(f"denied: approval failed: {_reason(exc)}")
            if answer == "deny":
                return error("denied by the user")
            if answer == "session":
                self._allowed.add((server_name, tool))
            if server.state != "connected" or server.client is None:
                return error(f"mcp server '{server_name}' is not running")

        import anyio
        from mcp import MCPError
        from mcp_types import CONNECTION_CLOSED

        timeout = server.definition.timeout_s
        try:
            with anyio.fail_after(timeout):
                result = await server.client.call_tool(
                    tool, arguments, progress_callback=_progress_callback(on_progress)
                )
        except TimeoutError:
            return error(f"{server_name}/{tool} timed out after {timeout:g}s")
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:
                if server.state == "connected" and not server.closing.is_set():
                    return error(self._died(server, _reason(exc)))
                return error(f"mcp server '{server_name}' is not running")
            return error(_reason(exc))
        except Exception as exc:
            return error(_reason(exc))
        d = server.definition
        text, media = convert_result(result, max_chars=d.max_result_chars, max_media_bytes=d.max_media_bytes)
        if result.is_error:
            return ToolResult(server_name, tool, text or f"{server_name}/{tool} failed", True, media, waited)
        return ToolResult(server_name, tool, text, False, media, waited)


def _progress_callback(on_progress: ProgressFn | None) -> Any:
    """The SDK's async progress callback over ours; asking for it sends a progress token."""
    if on_progress is None:
        return None

    async def progress(value: float, total: float | None, message: str | None) -> None:
        with contextlib.suppress(Exception):  # a display problem must not fail the call
            on_progress(value, total, message)

    return progress


async def _list_tools(client: Any) -> list[Any]:
    tools: list[Any] = []
    cursor = None
    for _ in range(100):  # a server whose pages never end cannot hang start-up
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            break
    return tools


def offered_names(pairs: list[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """Name each (server, tool) `server__tool`, valid for both wire formats and unique.

    A name changed by truncation or shared after sanitising gets a short hash of its
    (server, tool), so every offered name maps back to exactly one tool.
    """
    base = {pair: _INVALID_NAME_CHAR.sub("_", f"{pair[0]}__{pair[1]}") for pair in pairs}
    counts = Counter(base.values())
    plain = {b for b in base.values() if counts[b] == 1 and len(b) <= _MAX_NAME}
    names: dict[str, tuple[str, str]] = {}
    taken = set(plain)
    for pair in sorted(base):
        b = base[pair]
        if b in plain:
            names[b] = pair
            continue
        digest = hashlib.sha256(f"{pair[0]}\0{pair[1]}".encode()).hexdigest()
        for size in (8, 12, 16, 24, 32):
            candidate = f"{b[: _MAX_NAME - size - 1]}_{digest[:size]}"
            if candidate not in taken:
                break
        taken.add(candidate)
        names[candidate] = pair
    return names


def _object_schema(schema: Any) -> dict[str, Any]:
    """The tool's input schema as a JSON object schema, which both providers require."""
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        return {"type": "object", "properties": {}}
    out: dict[str, Any] = dict(schema)
    out["type"] = "object"
    out.setdefault("properties", {})
    return out


def _reason(exc: BaseException) -> str:
    """An exception as one short line."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]
