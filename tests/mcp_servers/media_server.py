"""An MCP server whose tools return media, resources, structured content and progress.

`python tests/mcp_servers/media_server.py [--sse PORT | --http PORT]`; stdio otherwise.
"""

from __future__ import annotations

import base64
import sys

from mcp.server.mcpserver import Audio, Context, Image, MCPServer
from mcp_types import (
    BlobResourceContents,
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
    TextResourceContents,
)

PNG_HEADER = b"\x89PNG\r\n\x1a\n"


def png_bytes(size: int) -> bytes:
    """Bytes that start like a PNG, `size` long: enough for a client that only carries them."""
    return (PNG_HEADER + bytes(range(256)) * (size // 256 + 1))[:size]


def build() -> MCPServer:
    server = MCPServer("media")

    @server.tool()
    def picture(kb: int) -> CallToolResult:
        """A caption and a PNG of `kb` kilobytes."""
        image = Image(data=png_bytes(kb * 1024), format="png").to_image_content()
        return CallToolResult(content=[TextContent(type="text", text="a chart"), image])

    @server.tool()
    def pictures(count: int, kb: int) -> list[Image]:
        """`count` PNGs of `kb` kilobytes each."""
        return [Image(data=png_bytes(kb * 1024), format="png") for _ in range(count)]

    @server.tool()
    def sound() -> Audio:
        """A short WAV."""
        return Audio(data=b"RIFF" + bytes(2044), format="wav")

    @server.tool()
    def broken_image() -> CallToolResult:
        """An image whose data is not base64."""
        return CallToolResult(content=[ImageContent(type="image", data="not base64!", mime_type="image/png")])

    @server.tool()
    def documents() -> CallToolResult:
        """A text resource, a binary resource and a link to one."""
        blob = base64.b64encode(b"%PDF-1.7").decode()
        return CallToolResult(
            content=[
                EmbeddedResource(
                    type="resource",
                    resource=TextResourceContents(uri="file:///notes.md", mime_type="text/markdown", text="# Notes"),
                ),
                EmbeddedResource(
                    type="resource",
                    resource=BlobResourceContents(uri="file:///report.pdf", mime_type="application/pdf", blob=blob),
                ),
                ResourceLink(type="resource_link", uri="file:///big.csv", name="big.csv", mime_type="text/csv"),
            ]
        )

    @server.tool()
    def weather() -> CallToolResult:
        """Structured content only, no text."""
        return CallToolResult(content=[], structured_content={"city": "Oslo", "temp_c": -3})

    @server.tool()
    def snapshot() -> CallToolResult:
        """An image with its bytes again in structured content, as some servers send."""
        image = Image(data=png_bytes(2048), format="png").to_image_content()
        return CallToolResult(content=[image], structured_content={"png": image.data})

    @server.tool()
    def long_text(chars: int) -> CallToolResult:
        """`chars` characters of text."""
        return CallToolResult(content=[TextContent(type="text", text="x" * chars)])

    @server.tool()
    async def work(steps: int, ctx: Context) -> str:
        """Report progress for each step, then answer."""
        for step in range(1, steps + 1):
            await ctx.report_progress(step, steps, f"step {step} of {steps}")
        return f"done {steps} steps"

    return server


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] in ("--sse", "--http"):
        transport = "sse" if sys.argv[1] == "--sse" else "streamable-http"
        build().run(transport, host="127.0.0.1", port=int(sys.argv[2]))
    else:
        build().run()
