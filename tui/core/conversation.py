"""The shared conversation: messages, timeline records, and who is answering."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .types import Message


@dataclass
class Conversation:
    messages: list[Message] = field(default_factory=list)
    # Timeline records: TimelineEvent.to_record() dicts, in order.
    events: list[dict[str, Any]] = field(default_factory=list)
    active_model: str | None = None
    title: str = ""
