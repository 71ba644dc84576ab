"""The one small provider interface: stream a request, yield events.

A wire-format module (openai.py, anthropic.py) implements `Provider.stream`. It yields
any number of `Delta` (answer text) and `ReasoningDelta` (thinking, kept apart from the
answer) and exactly one `Done` at the end, or raises `ProviderError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ..text import one_line
from ..types import Message, ToolCall, ToolSpec, Usage

FinishReason = Literal["stop", "length", "tool_calls"]


@dataclass(frozen=True)
class Deadlines:
    """How long a request may wait, in seconds. `first_token_s` counts from sending to
    the first text, thinking or tool-call delta (keep-alive comments are not progress); `idle_s`
    is the longest gap between received bytes; `turn_s` bounds the whole request."""

    connect_s: float = 10.0
    first_token_s: float = 60.0
    idle_s: float = 60.0
    turn_s: float = 600.0


@dataclass(frozen=True)
class ThinkingBlock:
    """One block of a model's thinking as the provider sent it. Anthropic signs each
    block (`signature`) or sends it encrypted (`redacted`, the opaque data of a
    `redacted_thinking` block); both must go back unchanged to the same model."""

    text: str
    signature: str = ""
    redacted: str = ""


@dataclass(frozen=True)
class ServerToolCall:
    """A tool call the provider ran on its side (Dedalus hosted MCP servers): shown, never
    run here nor answered. `result` is its output when the response carried it."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    result: str = ""
    is_error: bool = False
    id: str = ""
    server: str = ""


@dataclass(frozen=True)
class ChatRequest:
    model: str  # the provider's own model id, e.g. "gpt-4.1"
    messages: tuple[Message, ...]
    system: str | None = None
    tools: tuple[ToolSpec, ...] = ()
    max_tokens: int = 4096
    temperature: float | None = None
    # Provider-specific extras merged into the JSON body (e.g. Dedalus "mcp_servers").
    extra: dict[str, Any] = field(default_factory=dict)
    deadlines: Deadlines = field(default_factory=Deadlines)
    # OpenAI format: "reasoning_effort" (low, medium, high...). Anthropic: a thinking
    # budget of 1024/2048/4096 tokens for low/medium/high unless `thinking_budget` is set.
    reasoning_effort: str | None = None
    # Anthropic: thinking {type: enabled, budget_tokens}; OpenAI format: the same
    # `thinking` object, which LiteLLM and Dedalus pass on to Anthropic models.
    thinking_budget: int | None = None
    # Index in `messages` of an assistant message -> the thinking blocks to put before
    # its content (Anthropic only; the same model's own blocks, signatures intact).
    thinking_replay: dict[int, tuple[ThinkingBlock, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass(frozen=True)
class ReasoningDelta:
    """A piece of the model's thinking, never part of the answer text."""

    text: str


@dataclass(frozen=True)
class Done:
    """The end of a reply. `usage.input_tokens` counts every input token, cached ones
    included; `cache_read_tokens` and `cache_write_tokens` say how many of them were
    read from or written to the provider's prompt cache. `cost_usd` is the provider's
    own figure (OpenRouter, LiteLLM) when it sent one, else None."""

    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)
    finish_reason: FinishReason = "stop"
    reasoning: str = ""
    thinking_blocks: tuple[ThinkingBlock, ...] = ()
    cost_usd: float | None = None
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    server_tool_calls: tuple[ServerToolCall, ...] = ()


ProviderEvent = Delta | ReasoningDelta | Done


class ProviderError(Exception):
    """A request failed. `retryable` says whether a retry may succeed.

    `partial` holds text already streamed before the failure (a stream cut half way).
    The message is one line, fit to show a person, and never contains a key; control
    characters in it (from a server's error body) are made visible here.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        partial: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(one_line(message, 500))
        self.status = status
        self.retryable = retryable
        self.partial = partial
        self.retry_after = retry_after


@dataclass(frozen=True)
class ProviderConfig:
    """Where a provider lives and how to authenticate: the key itself is never stored
    here, only the name of the variable that holds it."""

    name: str
    kind: Literal["openai", "anthropic"]
    base_url: str
    api_key_env: str | None = None


class Provider(Protocol):
    config: ProviderConfig

    def stream(
        self, request: ChatRequest, *, stream: bool = True
    ) -> AsyncIterator[ProviderEvent]: ...

    async def aclose(self) -> None: ...
