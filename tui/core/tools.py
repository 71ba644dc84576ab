"""The interface between the engine and whatever supplies tools (MCP servers)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from .types import Media, ToolSpec

__all__ = ["Approval", "ApproveFn", "Media", "ProgressFn", "ToolBox", "ToolResult"]

Approval = Literal["once", "session", "deny"]
# Asked before a call to a server with approve = true: (server, tool, arguments).
ApproveFn = Callable[[str, str, dict[str, Any]], Awaitable[Approval]]
# Told while a tool runs: (progress, total or None, message or None), as the server reports.
ProgressFn = Callable[[float, float | None, str | None], None]


@dataclass(frozen=True)
class ToolResult:
    server: str
    tool: str
    text: str  # holds a short placeholder such as "[image/png, 270 KB]" for each media item
    is_error: bool = False
    media: tuple[Media, ...] = ()
    waited_s: float = 0.0  # spent waiting for the person's approval: not the tool's run time


class ToolBox(Protocol):
    def specs(self) -> list[ToolSpec]:
        """Tools to offer, named validly for both wire formats."""
        ...

    def owner(self, name: str) -> tuple[str, str] | None:
        """(server, tool) behind an offered name, or None if not ours."""
        ...

    async def call(
        self, name: str, arguments: dict[str, Any], *, on_progress: ProgressFn | None = None
    ) -> ToolResult:
        """Run a tool; failures come back as a result with is_error, never raise."""
        ...

    def hosted_slugs(self) -> list[str]:
        """Servers the Dedalus provider runs on its side."""
        ...

    def problems(self) -> list[str]:
        """One-line reports of servers that died since the last call, each given once."""
        ...
