"""Provider-neutral conversation types: messages, tool calls, tool specs, usage.

Every wire format converts to and from these; the engine, sessions and the app only
ever see these.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["user", "assistant", "tool"]


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
        )

    def to_dict(self) -> dict[str, int]:
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}


@dataclass(frozen=True)
class ToolCall:
    """A model's request to run a tool; `arguments` is the decoded JSON object."""

    id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ToolSpec:
    """A tool offered to a model: `parameters` is a JSON Schema object."""

    name: str
    description: str
    parameters: dict[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )


@dataclass(frozen=True)
class Media:
    """An image or a sound a tool returned, for the model to see, never as text."""

    kind: Literal["image", "audio"]
    mime_type: str
    data: str  # base64, checked to decode
    size: int  # decoded bytes


@dataclass(frozen=True)
class Message:
    """One message of the shared conversation.

    `model` names who wrote an assistant message (the alias or reference the person
    sees). A `tool` message answers the tool call `tool_call_id`. `partial` marks an
    answer cut short (cancelled or a stream that broke) whose text is kept.
    """

    role: Role
    content: str
    model: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    tool_name: str | None = None
    is_error: bool = False
    partial: bool = False
    # The answer's place in a parallel or consensus round (the model's name), or None
    # for the main conversation. Round answers reach later turns only via the outcome.
    lane: str | None = None
    # Its place in the conversation tree: alternatives (a regenerated answer, a round's
    # answers) are siblings under one parent.
    id: str = ""
    parent: str | None = None
    # What a tool result showed (images), and an answer's reasoning kept apart from it;
    # `thinking` is (text, signature, redacted data) per block, replayed to the same model.
    media: tuple[Media, ...] = ()
    reasoning: str = ""
    thinking: tuple[tuple[str, str, str], ...] = ()


def new_id() -> str:
    """A message id: short, random, unique within any conversation."""
    return uuid.uuid4().hex[:12]
