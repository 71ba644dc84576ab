"""The Anthropic Messages wire format."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from typing import Any

from tui.core._httpx import httpx

from ..types import Message, ToolCall, Usage
from .base import ChatRequest, Delta, Done, FinishReason, ProviderError, ProviderEvent
from .sse import (
    HttpProvider,
    decode_arguments,
    iter_sse,
    one_line,
    parse_json,
    stream_cut,
)

ANTHROPIC_VERSION = "2023-06-01"
OPENING = "(conversation so far)"
_RETRYABLE_ERRORS = {"overloaded_error", "api_error", "rate_limit_error", "timeout_error"}
_UNSAFE_ID = re.compile(r"[^a-zA-Z0-9_-]")


class AnthropicProvider(HttpProvider):
    path = "/v1/messages"

    def headers(self, stream: bool) -> dict[str, str]:
        headers = {
            "anthropic-version": ANTHROPIC_VERSION,
            "content-type": "application/json",
            "accept": "text/event-stream" if stream else "application/json",
        }
        if self._key:
            headers["x-api-key"] = self._key
        return headers

    def body(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens,
            "messages": to_anthropic(request.messages),
            "stream": stream,
        }
        if request.system and request.system.strip():
            body["system"] = request.system
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.tools:
            body["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in request.tools
            ]
        body.update(request.extra)
        return body

    async def parse_stream(self, response: httpx.Response, text: list[str]) -> AsyncIterator[ProviderEvent]:
        name = self.config.name
        tools: dict[int, dict[str, Any]] = {}
        usage_in = usage_out = 0
        stop_reason: str | None = None
        async for event in iter_sse(response):
            data = parse_json(name, event.data, self._key, "".join(text))
            if not isinstance(data, dict):
                continue
            kind = data.get("type") if event.event == "message" else event.event
            if kind == "error":
                raise self._error(data.get("error"), "".join(text))
            if kind == "message_start":
                usage = (data.get("message") or {}).get("usage") or {}
                usage_in = _input_tokens(usage)
                usage_out = int(usage.get("output_tokens") or 0)
            elif kind == "content_block_start":
                block = data.get("content_block") or {}
                if block.get("type") == "tool_use":
                    tools[data.get("index", len(tools))] = {
                        "id": block.get("id", ""),
                        "name": block.get("name", ""),
                        "input": block.get("input") or {},
                        "json": [],
                    }
                elif block.get("type") == "text" and block.get("text"):
                    text.append(block["text"])
                    yield Delta(block["text"])
            elif kind == "content_block_delta":
                delta = data.get("delta") or {}
                if delta.get("type") == "text_delta" and delta.get("text"):
                    text.append(delta["text"])
                    yield Delta(delta["text"])
                elif delta.get("type") == "input_json_delta" and data.get("index") in tools:
                    tools[data["index"]]["json"].append(delta.get("partial_json") or "")
            elif kind == "message_delta":
                stop_reason = (data.get("delta") or {}).get("stop_reason") or stop_reason
                usage = data.get("usage") or {}
                # Both counts are cumulative: the last value is the total.
                if usage.get("output_tokens") is not None:
                    usage_out = int(usage["output_tokens"])
                if usage.get("input_tokens") is not None:
                    usage_in = _input_tokens(usage)
            elif kind == "message_stop":
                break
        else:
            raise stream_cut(name, "".join(text))
        tool_calls = tuple(
            ToolCall(
                t["id"],
                t["name"],
                decode_arguments("".join(t["json"])) if t["json"] else dict(t["input"]),
            )
            for _, t in sorted(tools.items())
        )
        yield Done("".join(text), tool_calls, Usage(usage_in, usage_out), _finish(stop_reason, tool_calls))

    def parse_reply(self, data: Any) -> Done:
        if not isinstance(data, dict):
            raise ProviderError(f"{self.config.name}: unexpected response", retryable=True)
        if data.get("type") == "error":
            raise self._error(data.get("error"), "")
        text: list[str] = []
        tool_calls: list[ToolCall] = []
        for block in data.get("content") or []:
            if block.get("type") == "text":
                text.append(block.get("text", ""))
            elif block.get("type") == "tool_use":
                tool_calls.append(ToolCall(block.get("id", ""), block.get("name", ""), dict(block.get("input") or {})))
        usage = data.get("usage") or {}
        calls = tuple(tool_calls)
        return Done(
            "".join(text),
            calls,
            Usage(_input_tokens(usage), int(usage.get("output_tokens") or 0)),
            _finish(data.get("stop_reason"), calls),
        )

    def _error(self, error: Any, partial: str) -> ProviderError:
        """An `error` event, which may arrive after HTTP 200."""
        error = error if isinstance(error, dict) else {"message": str(error)}
        kind = error.get("type") or "error"
        message = error.get("message") or kind
        return ProviderError(
            one_line(f"{self.config.name}: {message} ({kind})", self._key),
            retryable=kind in _RETRYABLE_ERRORS,
            partial=partial,
        )


def _input_tokens(usage: dict[str, Any]) -> int:
    return sum(
        int(usage.get(k) or 0)
        for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    )


def _finish(stop_reason: str | None, tool_calls: tuple[ToolCall, ...]) -> FinishReason:
    if stop_reason == "max_tokens":
        return "length"
    return "tool_calls" if tool_calls else "stop"


def safe_id(tool_call_id: str | None) -> str:
    """Anthropic accepts tool ids matching ^[a-zA-Z0-9_-]+$ only."""
    return _UNSAFE_ID.sub("_", tool_call_id or "") or "toolu_unknown"


# -- conversation -> Anthropic messages ----------------------------------------------


def to_anthropic(messages: Iterable[Message]) -> list[dict[str, Any]]:
    """Strictly alternating user/assistant turns of content blocks, starting with the
    person, every tool_use answered by a tool_result in the very next turn."""
    turns: list[dict[str, Any]] = []
    for message in messages:
        role, blocks = _blocks(message)
        if not blocks:
            continue  # Anthropic rejects empty content
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
        return "user", [
            {
                "type": "tool_result",
                "tool_use_id": safe_id(message.tool_call_id),
                "content": message.content if message.content.strip() else "(no output)",
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
    return {"type": "text", "text": f"[tool result {block['tool_use_id']}]: {block['content']}"}
