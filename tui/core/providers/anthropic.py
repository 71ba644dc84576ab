"""The Anthropic Messages wire format."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ..types import ToolCall, Usage
from .anthropic_messages import to_anthropic
from .base import (
    ChatRequest,
    Delta,
    Done,
    FinishReason,
    ProviderError,
    ProviderEvent,
    ReasoningDelta,
    ThinkingBlock,
)
from .shapes import Malformed, count, obj, opt_int, opt_list, opt_obj, opt_str
from .sse import HttpProvider, decode_arguments, one_line, parse_json, stream_cut
from .wire import Clock, SSEEvent

ANTHROPIC_VERSION = "2023-06-01"
_RETRYABLE_ERRORS = {"overloaded_error", "api_error", "rate_limit_error", "timeout_error"}
MIN_THINKING_BUDGET = 1024  # the API rejects less
# reasoning_effort as a thinking budget, as LiteLLM maps it for Anthropic models.
EFFORT_BUDGET = {"low": 1024, "medium": 2048, "high": 4096}


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
            "messages": to_anthropic(request.messages, request.thinking_replay),
            "stream": stream,
        }
        if request.system and request.system.strip():
            body["system"] = request.system
        budget = thinking_budget(request)
        if budget is not None and continues_unthought_tool_use(body["messages"]):
            # The API rejects thinking that would continue a tool call made without
            # thinking (another model's, or blocks not kept): this request goes without.
            budget = None
        if budget is not None:
            body["thinking"] = {"type": "enabled", "budget_tokens": budget}
            # max_tokens counts the thinking too and must exceed the budget.
            if request.max_tokens <= budget:
                body["max_tokens"] = budget + request.max_tokens
        elif request.temperature is not None:
            # With thinking on, Anthropic accepts no temperature but its default.
            body["temperature"] = request.temperature
        if request.tools:
            body["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in request.tools
            ]
        body.update(request.extra)
        return body

    async def parse_stream(
        self, batches: AsyncIterator[list[SSEEvent]], text: list[str], clock: Clock, request: ChatRequest
    ) -> AsyncIterator[ProviderEvent]:
        name = self.config.name
        state = _StreamState()
        async for batch in batches:
            for event in batch:
                out = self._event(event, parse_json(name, event.data), state, clock)
                if isinstance(out, ReasoningDelta):
                    yield out
                elif out:
                    text.append(out)
                    yield Delta(out)
                elif state.stopped:
                    break
            if state.stopped:
                break
        else:
            raise stream_cut(name)
        tool_calls = tuple(
            ToolCall(
                t.id,
                t.name,
                decode_arguments("".join(t.json)) if t.json else dict(t.input),
            )
            for _, t in sorted(state.tools.items())
        )
        blocks = tuple(
            ThinkingBlock("".join(t.text), "".join(t.signature), t.redacted)
            for _, t in sorted(state.thinking.items())
        )
        yield Done(
            "".join(text),
            tool_calls,
            Usage(state.usage_in, state.usage_out),
            _finish(state.stop_reason, tool_calls),
            reasoning="".join(b.text for b in blocks),
            thinking_blocks=blocks,
            cache_read_tokens=state.cache_read,
            cache_write_tokens=state.cache_write,
        )

    def _event(
        self, event: SSEEvent, value: Any, state: _StreamState, clock: Clock
    ) -> str | ReasoningDelta | None:
        """Apply one stream event to `state`; the answer text or thinking it carries, if
        any. The one place that reads a stream event's JSON."""
        data = obj(value, "event")
        kind_ = opt_str(data, "type", "event") if event.event == "message" else event.event
        if kind_ == "content_block_delta":
            delta = obj(data.get("delta"), "content_block_delta.delta")
            delta_type = opt_str(delta, "type", "delta")
            if delta_type == "text_delta":
                piece = opt_str(delta, "text", "text_delta")
                if piece:
                    clock.progressed = True
                return piece
            if delta_type in ("thinking_delta", "signature_delta"):
                return self._thinking_delta(data, delta, delta_type, state, clock)
            if delta_type == "input_json_delta":
                index = opt_int(data, "index", "content_block_delta")
                if index not in state.tools:
                    raise Malformed(f"input_json_delta for unknown block {index}")
                partial = opt_str(delta, "partial_json", "input_json_delta")
                if partial:
                    clock.progressed = True
                    state.tools[index].json.append(partial)
            return None
        if kind_ == "error":
            raise self._error(data.get("error"))
        if kind_ == "message_start":
            usage = opt_obj(opt_obj(data, "message", "message_start"), "usage", "message")
            state.usage_in = _input_tokens(usage)
            state.usage_out = count(usage, "output_tokens", "usage")
            state.cache_read, state.cache_write = _cache_tokens(usage, state.cache_read, state.cache_write)
        elif kind_ == "content_block_start":
            block = obj(data.get("content_block"), "content_block_start.content_block")
            index = opt_int(data, "index", "content_block_start")
            block_type = opt_str(block, "type", "content_block")
            if block_type == "tool_use":
                clock.progressed = True
                state.tools[len(state.tools) if index is None else index] = _Tool(
                    opt_str(block, "id", "tool_use") or "",
                    opt_str(block, "name", "tool_use") or "",
                    opt_obj(block, "input", "tool_use"),
                )
            elif block_type == "text":
                piece = opt_str(block, "text", "text block")
                if piece:
                    clock.progressed = True
                return piece
            elif block_type in ("thinking", "redacted_thinking"):
                clock.progressed = True
                block_index = len(state.thinking) + len(state.tools) if index is None else index
                thinking = state.thinking[block_index] = _Thinking(
                    [opt_str(block, "thinking", "thinking block") or ""],
                    [opt_str(block, "signature", "thinking block") or ""],
                    opt_str(block, "data", "redacted_thinking block") or "",
                )
                if thinking.text[0]:
                    return ReasoningDelta(thinking.text[0])
        elif kind_ == "message_delta":
            delta = opt_obj(data, "delta", "message_delta")
            state.stop_reason = opt_str(delta, "stop_reason", "delta") or state.stop_reason
            usage = opt_obj(data, "usage", "message_delta")
            # Both counts are cumulative: the last value is the total.
            out = opt_int(usage, "output_tokens", "usage")
            if out is not None:
                state.usage_out = out
            if usage.get("input_tokens") is not None:
                state.usage_in = _input_tokens(usage)
            state.cache_read, state.cache_write = _cache_tokens(usage, state.cache_read, state.cache_write)
        elif kind_ == "message_stop":
            state.stopped = True
        return None

    @staticmethod
    def _thinking_delta(
        data: dict[str, Any], delta: dict[str, Any], delta_type: str, state: _StreamState, clock: Clock
    ) -> ReasoningDelta | None:
        index = opt_int(data, "index", "content_block_delta")
        thinking = state.thinking.get(index) if index is not None else None
        if thinking is None:
            raise Malformed(f"{delta_type} for unknown block {index}")
        if delta_type == "signature_delta":
            thinking.signature.append(opt_str(delta, "signature", "signature_delta") or "")
            return None
        piece = opt_str(delta, "thinking", "thinking_delta")
        if not piece:
            return None
        clock.progressed = True
        thinking.text.append(piece)
        return ReasoningDelta(piece)

    def parse_reply(self, data: Any, request: ChatRequest) -> Done:
        reply = obj(data, "reply")
        if reply.get("type") == "error":
            raise self._error(reply.get("error"))
        text: list[str] = []
        tool_calls: list[ToolCall] = []
        blocks: list[ThinkingBlock] = []
        for block in opt_list(reply, "content", "reply"):
            block = obj(block, "a content block")
            block_type = opt_str(block, "type", "content block")
            if block_type == "text":
                text.append(opt_str(block, "text", "text block") or "")
            elif block_type in ("thinking", "redacted_thinking"):
                blocks.append(
                    ThinkingBlock(
                        opt_str(block, "thinking", "thinking block") or "",
                        opt_str(block, "signature", "thinking block") or "",
                        opt_str(block, "data", "redacted_thinking block") or "",
                    )
                )
            elif block_type == "tool_use":
                tool_calls.append(
                    ToolCall(
                        opt_str(block, "id", "tool_use") or "",
                        opt_str(block, "name", "tool_use") or "",
                        dict(opt_obj(block, "input", "tool_use")),
                    )
                )
        usage = opt_obj(reply, "usage", "reply")
        calls = tuple(tool_calls)
        cache_read, cache_write = _cache_tokens(usage, 0, 0)
        return Done(
            "".join(text),
            calls,
            Usage(_input_tokens(usage), count(usage, "output_tokens", "usage")),
            _finish(opt_str(reply, "stop_reason", "reply"), calls),
            reasoning="".join(b.text for b in blocks),
            thinking_blocks=tuple(blocks),
            cache_read_tokens=cache_read,
            cache_write_tokens=cache_write,
        )

    def _error(self, error: Any) -> ProviderError:
        """An `error` event, which may arrive after HTTP 200."""
        error = error if isinstance(error, dict) else {"message": error}
        kind_ = error.get("type") if isinstance(error.get("type"), str) else "error"
        message = error.get("message") or kind_
        return ProviderError(
            one_line(f"{self.config.name}: {message} ({kind_})", self._key),
            retryable=kind_ in _RETRYABLE_ERRORS,
        )


@dataclass(slots=True)
class _Tool:
    id: str
    name: str
    input: dict[str, Any]
    json: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Thinking:
    text: list[str]
    signature: list[str]
    redacted: str


@dataclass(slots=True)
class _StreamState:
    tools: dict[int, _Tool] = field(default_factory=dict)
    thinking: dict[int, _Thinking] = field(default_factory=dict)
    usage_in: int = 0
    usage_out: int = 0
    cache_read: int = 0
    cache_write: int = 0
    stop_reason: str | None = None
    stopped: bool = False


def thinking_budget(request: ChatRequest) -> int | None:
    """The thinking budget to ask for: `thinking_budget`, else one for `reasoning_effort`."""
    budget = request.thinking_budget
    if budget is None and request.reasoning_effort:
        budget = EFFORT_BUDGET.get(request.reasoning_effort.strip().lower())
    if budget is None or budget <= 0:
        return None
    return max(budget, MIN_THINKING_BUDGET)


def continues_unthought_tool_use(turns: list[dict[str, Any]]) -> bool:
    """Whether the last assistant turn called tools, its results follow, and it does not
    start with a thinking block, which Anthropic requires when thinking is on."""
    if len(turns) < 2 or turns[-1]["role"] != "user" or turns[-2]["role"] != "assistant":
        return False
    content = turns[-2]["content"]
    answers_tools = any(b["type"] == "tool_result" for b in turns[-1]["content"])
    calls_tools = any(b["type"] == "tool_use" for b in content)
    return answers_tools and calls_tools and content[0]["type"] not in ("thinking", "redacted_thinking")


def _input_tokens(usage: dict[str, Any]) -> int:
    """Every input token, cached ones included (Anthropic counts those apart)."""
    return sum(
        count(usage, k, "usage")
        for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    )


def _cache_tokens(usage: dict[str, Any], read: int, write: int) -> tuple[int, int]:
    """(cache reads, cache writes), each kept as it was when `usage` does not say."""
    new_read = opt_int(usage, "cache_read_input_tokens", "usage")
    new_write = opt_int(usage, "cache_creation_input_tokens", "usage")
    return (read if new_read is None else new_read, write if new_write is None else new_write)


def _finish(stop_reason: str | None, tool_calls: tuple[ToolCall, ...]) -> FinishReason:
    if stop_reason == "max_tokens":
        return "length"
    return "tool_calls" if tool_calls else "stop"
