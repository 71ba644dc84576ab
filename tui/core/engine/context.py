"""What every operation of the engine shares: the profile, the conversation, the turn
runner and the tools; and the small helpers they all use."""

from __future__ import annotations

import random
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..conversation import Conversation
from ..events import Event, MessageAdded, NoticeEvent
from ..handoff import build_package, original_task
from ..history import shape_context
from ..models import ModelError
from ..profile import Profile
from ..tools import ToolBox
from ..types import Message, new_id
from .turns import TurnRunner

ROOT = ""  # Context.add(message, parent=ROOT): a message with no parent


@dataclass
class Context:
    profile: Profile
    env: Mapping[str, str]
    conversation: Conversation
    runner: TurnRunner
    tools: ToolBox | None = None
    max_tool_steps: int = 10
    rng: random.Random = field(default_factory=random.Random)
    noticed: set[str] = field(default_factory=set)

    @property
    def active_model(self) -> str | None:
        return self.conversation.active_model or self.profile.default_model

    def add(self, message: Message, parent: str | None = None) -> MessageAdded:
        """`message` as a new node under `parent`: the active leaf when not given, the
        root (a new tree of its own) when ROOT."""
        under = self.conversation.leaf if parent is None else (None if parent == ROOT else parent)
        return MessageAdded(replace(message, id=new_id(), parent=under))

    def system(self, note: str | None = None) -> str | None:
        parts = [p for p in (self.profile.system_prompt, note) if p]
        return "\n\n".join(parts) or None

    def main_branch(self) -> list[Message]:
        return [m for m in self.conversation.path() if m.lane is None]

    def package(self, source: str | None, target: str, instructions: str) -> dict[str, Any]:
        h = self.profile.handoff
        msgs = self.main_branch()
        shaped = shape_context(msgs, h.context, h.recent_turns)
        if h.context == "summary":
            context: Any = {"mode": "summary", "summary": shaped[0].content if shaped else ""}
        else:
            context = {"mode": h.context, "messages": len(shaped), "of": len(msgs)}
        return build_package(original_task(msgs), context, source, target, instructions, self.profile)

    def hosted(self, model: str) -> tuple[dict[str, Any], NoticeEvent | None]:
        """Hosted MCP slugs for the Dedalus provider, or a one-time notice for any other."""
        slugs = self.tools.hosted_slugs() if self.tools else []
        if not slugs:
            return {}, None
        try:
            spec = self.runner.resolve(model)
        except ModelError:
            return {}, None
        if spec.provider.name == "dedalus":
            return {"mcp_servers": slugs}, None
        if model in self.noticed:
            return {}, None
        self.noticed.add(model)
        return {}, NoticeEvent(f"hosted MCP servers ({', '.join(slugs)}) are unavailable for {model}: "
                               "only the dedalus provider runs them")

    def window_warning(self, target: str, history: list[Message] | None = None) -> NoticeEvent | None:
        """A notice when the conversation is already more than `target`'s context window holds."""
        from ..context import estimate_tokens, window

        try:
            spec = self.runner.resolve(target)
        except ModelError:
            return None
        size = window(spec)
        used = estimate_tokens(history if history is not None else self.main_branch(), self.system())
        if size is None or used <= size * 0.8:
            return None
        how = "smaller than" if used > size else "nearly"
        return NoticeEvent(f"{target}'s context window ({size:,} tokens) is {how} this conversation "
                           f"(~{used:,} tokens): it may fail, or /compact first")

    async def problems(self) -> AsyncGenerator[Event, None]:
        """MCP servers that died since the last look, each reported once."""
        for problem in self.tools.problems() if self.tools is not None else ():
            yield NoticeEvent(problem)
