"""A small MCP server for tests: `python tests/mcp_servers/echo_server.py [--http PORT]`."""

from __future__ import annotations

import sys
import time

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError


def build() -> MCPServer:
    server = MCPServer("echo")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def echo(text: str) -> str:
        """Repeat the text."""
        return text

    @server.tool()
    def env(name: str) -> str:
        """The value of an environment variable in the server's process, or ''."""
        import os

        return os.environ.get(name, "")

    @server.tool()
    def fail(reason: str) -> str:
        """Always fails with the given reason."""
        raise ToolError(reason)

    @server.tool()
    async def slow(seconds: float) -> str:
        """Sleep, then answer."""
        import anyio

        await anyio.sleep(seconds)
        return f"slept {seconds}"

    @server.tool()
    def exit_now() -> str:
        """Kill the server process, to test a server that dies mid-session."""
        sys.stderr.write("echo server exiting on request\n")
        sys.stderr.flush()
        time.sleep(0.05)
        import os

        os._exit(3)

    return server


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        build().run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        sys.stderr.write("echo server starting\n")
        build().run()
