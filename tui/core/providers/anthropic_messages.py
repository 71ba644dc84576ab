"""Conversation -> Anthropic messages: strictly alternating turns of content blocks."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..types import Message
from .base import ThinkingBlock

OPENING = "(conversation so far)"
_UNSAFE_ID = re.compile(r"[^a-zA-Z0-9_-]")


IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def safe_id(tool_call_id: str | None) -> str:
    """Anthropic accepts tool ids matching ^[a-zA-Z0-9_-]+$ only."""
    return _UNSAFE_ID.sub("_", tool_call_id or "") or "toolu_unknown"


def to_anthropic(
    messages: Iterable[Message], thinking: Mapping[int, tuple[ThinkingBlock, ...]] | None = None
) -> list[dict[str, Any]]:
    """Strictly alternating user/assistant turns of content blocks, starting with the
    person, every tool_use answered by a tool_result in the very next turn. `thinking`
    puts an assistant message's own thinking blocks back before its content."""
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        role, blocks = _blocks(message)
        if not blocks:
            continue  # Anthropic rejects empty content
        if thinking and message.role == "assistant" and i in thinking:
            blocks[:0] = [_thinking_block(b) for b in thinking[i]]
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    turns = _pair_tool_results(turns)
    for turn in turns:
        if turn["role"] == "user":
            # Tool results must come before any text in their user turn.
            turn["content"].sort(key=lambda b: b["type"] != "tool_result")
    if not turns or turns[0]["role"] != "user":
        turns.insert(0, {"role": "user", "content": [{"type": "text", "text": OPENING}]})
    last = turns[-1]
    if last["role"] == "assistant" and last["content"][-1]["type"] == "text":
        # A final assistant turn is a prefill, which must not end in whitespace.
        last["content"][-1]["text"] = last["content"][-1]["text"].rstrip()
    return turns


def _blocks(message: Message) -> tuple[str, list[dict[str, Any]]]:
    if message.role == "tool":
        text = message.content if message.content.strip() else "(no output)"
        images = [{"type": "image", "source": {"type": "base64", "media_type": x.mime_type, "data": x.data}}
                  for x in message.media if x.kind == "image" and x.mime_type in IMAGE_TYPES]
        return "user", [
            {
                "type": "tool_result",
                "tool_use_id": safe_id(message.tool_call_id),
                "content": [{"type": "text", "text": text}, *images] if images else text,
                "is_error": message.is_error,
            }
        ]
    blocks: list[dict[str, Any]] = []
    if message.content.strip():
        blocks.append({"type": "text", "text": message.content})
    if message.role == "assistant":
        blocks.extend(
            {"type": "tool_use", "id": safe_id(tc.id), "name": tc.name, "input": tc.arguments}
            for tc in message.tool_calls
        )
    return message.role, blocks


def _thinking_block(block: ThinkingBlock) -> dict[str, Any]:
    if block.redacted:
        return {"type": "redacted_thinking", "data": block.redacted}
    return {"type": "thinking", "thinking": block.text, "signature": block.signature}


def _pair_tool_results(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A tool_use left unanswered (a cancelled run) gets an error result; a tool_result
    whose call is not in the turn before becomes plain text. Anthropic rejects both."""
    out: list[dict[str, Any]] = []
    for i, turn in enumerate(turns):
        if turn["role"] == "user":
            before = out[-1] if out and out[-1]["role"] == "assistant" else None
            asked = {b["id"] for b in before["content"] if b["type"] == "tool_use"} if before else set()
            turn["content"] = [
                b if b["type"] != "tool_result" or b["tool_use_id"] in asked else _result_as_text(b)
                for b in turn["content"]
            ]
        out.append(turn)
        if turn["role"] != "assistant":
            continue
        asked_ids = [b["id"] for b in turn["content"] if b["type"] == "tool_use"]
        following = turns[i + 1] if i + 1 < len(turns) else None
        answered = {b.get("tool_use_id") for b in following["content"]} if following else set()
        missing = [
            {"type": "tool_result", "tool_use_id": tid, "content": "(no result)", "is_error": True}
            for tid in dict.fromkeys(asked_ids)
            if tid not in answered
        ]
        if missing and following is not None:
            following["content"][:0] = missing
        elif missing:
            turns.append({"role": "user", "content": missing})
    return out


def _result_as_text(block: dict[str, Any]) -> dict[str, Any]:
    content = block["content"]
    if isinstance(content, list):
        content = " ".join(b.get("text", "") for b in content if b.get("type") == "text")
    return {"type": "text", "text": f"[tool result {block['tool_use_id']}]: {content}"}
