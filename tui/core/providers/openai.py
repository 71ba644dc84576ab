"""The OpenAI Chat Completions wire format (OpenAI, Dedalus, OpenRouter, Ollama, ...)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ..types import Message, ToolCall, Usage
from .base import (
    ChatRequest,
    Delta,
    Done,
    FinishReason,
    ProviderError,
    ProviderEvent,
    ReasoningDelta,
    ServerToolCall,
)
from .servertools import reported_server_calls, split_server_calls
from .shapes import Malformed, count, kind, obj, opt_int, opt_list, opt_obj, opt_str
from .sse import (
    HttpProvider,
    decode_arguments,
    is_retryable,
    one_line,
    parse_json,
    reported_cost,
    stream_cut,
)
from .wire import Clock, SSEEvent

# Models that take `max_completion_tokens` (and no temperature but the default).
_REASONING_FAMILIES = ("o1", "o3", "o4", "gpt-5")


class OpenAIProvider(HttpProvider):
    path = "/chat/completions"

    def headers(self, stream: bool) -> dict[str, str]:
        headers = {"Accept": "text/event-stream" if stream else "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        return headers

    def body(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        messages: list[dict[str, Any]] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        for m in request.messages:
            messages.append(_message(m))
            images = _image_parts(m)
            if images:  # a tool message holds text only: its images follow as the user's
                messages.append({"role": "user", "content": [
                    {"type": "text", "text": f"[images from the {m.tool_name or 'tool'} result above]"}, *images]})
        reasoning_model = is_reasoning_model(request.model)
        body: dict[str, Any] = {
            "model": request.model,
            "messages": messages,
            "stream": stream,
            "max_completion_tokens" if reasoning_model else "max_tokens": request.max_tokens,
        }
        if stream:
            body["stream_options"] = {"include_usage": True}
        if request.temperature is not None and not reasoning_model:
            body["temperature"] = request.temperature
        if request.reasoning_effort:
            body["reasoning_effort"] = request.reasoning_effort
        if request.thinking_budget:
            body["thinking"] = {"type": "enabled", "budget_tokens": request.thinking_budget}
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in request.tools
            ]
        body.update(request.extra)
        return body

    async def parse_stream(
        self, batches: AsyncIterator[list[SSEEvent]], text: list[str], clock: Clock, request: ChatRequest
    ) -> AsyncIterator[ProviderEvent]:
        name = self.config.name
        calls = _ToolCallFragments()
        usage = _Usage()
        reasoning: list[str] = []
        reported: list[ServerToolCall] = []
        reason: str | None = None
        finished = False
        async for batch in batches:
            for event in batch:
                if event.data == "[DONE]" or (len(event.data) < 16 and event.data.strip() == "[DONE]"):
                    finished = True
                    break
                chunk = self._chunk(parse_json(name, event.data))
                if chunk.usage is not None:
                    usage = chunk.usage
                if chunk.finish:
                    reason = chunk.finish
                if chunk.server_calls:
                    reported = chunk.server_calls  # each report lists every run so far
                if chunk.fragments:
                    clock.progressed = True
                    for fragment in chunk.fragments:
                        calls.add(*fragment)
                if chunk.reasoning:
                    clock.progressed = True
                    reasoning.append(chunk.reasoning)
                    yield ReasoningDelta(chunk.reasoning)
                if chunk.text:
                    clock.progressed = True
                    text.append(chunk.text)
                    yield Delta(chunk.text)
            if finished:
                break
        else:
            raise stream_cut(name)
        yield _done(request, "".join(text), "".join(reasoning), calls.finish(), usage, reason, reported)

    def _chunk(self, data: Any) -> _Chunk:
        """One stream chunk's text, reasoning, tool-call fragments, finish reason and
        usage; the one place that reads a chunk's JSON. Only choice 0 counts."""
        text = _plain_text(data)
        if text is not None:
            return _Chunk(text)
        chunk = obj(data, "chunk")
        error = chunk.get("error")
        if error is not None and error is not False:
            raise self._stream_error(error)
        out = _Chunk(usage=_usage(chunk["usage"]) if chunk.get("usage") is not None else None)
        out.server_calls = reported_server_calls(chunk)
        for choice in opt_list(chunk, "choices", "chunk"):
            choice = obj(choice, "a choice")
            index = opt_int(choice, "index", "choice")
            if index is not None and index != 0:
                continue
            delta = opt_obj(choice, "delta", "choice")
            out.text += opt_str(delta, "content", "delta") or ""
            out.reasoning += _reasoning(delta, "delta")
            for fragment in opt_list(delta, "tool_calls", "delta"):
                out.fragments.append(_fragment(fragment))
            out.finish = opt_str(choice, "finish_reason", "choice") or out.finish
        return out

    def parse_reply(self, data: Any, request: ChatRequest) -> Done:
        reply = obj(data, "reply")
        if reply.get("error") and not reply.get("choices"):
            raise self._stream_error(reply["error"])
        choices = opt_list(reply, "choices", "reply")
        choice = obj(choices[0], "a choice") if choices else {}
        message = opt_obj(choice, "message", "choice")
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(
                p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
            )
        elif content is not None and not isinstance(content, str):
            raise Malformed(f"message.content is {kind(content)}, not text")
        calls = _ToolCallFragments()
        for i, tc in enumerate(opt_list(message, "tool_calls", "message")):
            _, call_id, fn_name, arguments = _fragment(tc)
            calls.add(i, call_id, fn_name, arguments)
        usage = _usage(reply["usage"]) if reply.get("usage") is not None else _Usage()
        finish = opt_str(choice, "finish_reason", "choice")
        reasoning = _reasoning(message, "message")
        return _done(request, content or "", reasoning, calls.finish(), usage, finish, reported_server_calls(reply))

    def _stream_error(self, error: Any) -> ProviderError:
        """An error object sent with HTTP 200 (some OpenAI-compatible routers do this)."""
        code: Any = None
        if isinstance(error, dict):
            message, code = error.get("message") or _dumps(error), error.get("code")
        else:
            message = error if isinstance(error, str) else _dumps(error)
        status = code if isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599 else None
        return ProviderError(
            one_line(f"{self.config.name}: {message}", self._key),
            status=status,
            retryable=is_retryable(status) if status is not None else True,
        )


def _done(
    request: ChatRequest,
    text: str,
    reasoning: str,
    all_calls: tuple[ToolCall, ...],
    usage: _Usage,
    reason: str | None,
    reported: list[ServerToolCall],
) -> Done:
    """The reply's end; tool calls the provider ran itself are set apart from ours."""
    tool_calls, server_calls = split_server_calls(all_calls, request, reported)
    return Done(
        text,
        tool_calls,
        usage.tokens,
        _finish(reason, tool_calls),
        reasoning=reasoning,
        cost_usd=usage.cost,
        cache_read_tokens=usage.cache_read,
        cache_write_tokens=usage.cache_write,
        server_tool_calls=server_calls,
    )


def _plain_text(data: Any) -> str | None:
    """The text of the most common chunk (one choice, a text delta, nothing else that
    `_chunk` would read), checked by the same rules without the general walk; else None."""
    if type(data) is not dict or data.get("error") is not None or data.get("usage") is not None:
        return None
    if data.get("mcp_tool_results") is not None or data.get("tools_executed") is not None:
        return None
    choices = data.get("choices")
    if type(choices) is not list or len(choices) != 1:
        return None
    choice = choices[0]
    if type(choice) is not dict or choice.get("finish_reason") is not None:
        return None
    index = choice.get("index")
    delta = choice.get("delta")
    if not (index is None or (type(index) is int and index == 0)) or type(delta) is not dict:
        return None
    content = delta.get("content")
    if type(content) is not str or delta.get("tool_calls") is not None:
        return None
    if delta.get("reasoning_content") is not None or delta.get("reasoning") is not None:
        return None
    return content


def _reasoning(part: dict[str, Any], what: str) -> str:
    """`reasoning_content` (DeepSeek, LiteLLM) or else `reasoning` (OpenRouter): a router
    that sends both sends the same text twice."""
    return opt_str(part, "reasoning_content", what) or opt_str(part, "reasoning", what) or ""


def is_reasoning_model(model: str) -> bool:
    """o1, o3, o4 and gpt-5 models, also behind a router's prefix ("openai/o3-mini")."""
    return model.rsplit("/", 1)[-1].lower().startswith(_REASONING_FAMILIES)


@dataclass(slots=True)
class _Usage:
    tokens: Usage = field(default_factory=Usage)
    cost: float | None = None
    cache_read: int = 0
    cache_write: int = 0


@dataclass(slots=True)
class _Chunk:
    text: str = ""
    reasoning: str = ""
    fragments: list[_Fragment] = field(default_factory=list)
    finish: str | None = None
    usage: _Usage | None = None
    server_calls: list[ServerToolCall] = field(default_factory=list)


# A tool-call fragment: (index, id, function name, argument text).
_Fragment = tuple[int | None, str | None, str | None, str | None]


def _fragment(value: Any) -> _Fragment:
    fragment = obj(value, "a tool call")
    function = opt_obj(fragment, "function", "tool call")
    arguments = function.get("arguments")
    if arguments is not None and not isinstance(arguments, str):
        if not isinstance(arguments, dict):
            raise Malformed(f"tool call arguments are {kind(arguments)}, not text")
        arguments = _dumps(arguments)
    return (
        opt_int(fragment, "index", "tool call"),
        opt_str(fragment, "id", "tool call"),
        opt_str(function, "name", "tool call function"),
        arguments,
    )


def _dumps(value: Any) -> str:
    try:
        return json.dumps(value)
    except (ValueError, RecursionError):
        return kind(value)


IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def _image_parts(m: Message) -> list[dict[str, Any]]:
    return [{"type": "image_url", "image_url": {"url": f"data:{x.mime_type};base64,{x.data}"}}
            for x in m.media if x.kind == "image" and x.mime_type in IMAGE_TYPES]


def _message(m: Message) -> dict[str, Any]:
    if m.role == "tool":
        return {"role": "tool", "tool_call_id": m.tool_call_id or "", "content": m.content}
    if m.role == "assistant" and m.tool_calls:
        return {
            "role": "assistant",
            "content": m.content or None,
            "tool_calls": [
                {
                    "id": tc.id,
                    "type": "function",
                    "function": {"name": tc.name, "arguments": json.dumps(tc.arguments)},
                }
                for tc in m.tool_calls
            ],
        }
    return {"role": m.role, "content": m.content}


class _ToolCallFragments:
    """Tool calls assembled from stream fragments keyed by `index`; a new id at an
    occupied index starts a new call (servers that send index 0 for every call)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.slot_of_index: dict[int, int] = {}

    def add(self, index: int | None, call_id: str | None, name: str | None, arguments: str | None) -> None:
        if index is None:
            slot = None if (call_id or not self.calls) else len(self.calls) - 1
        else:
            slot = self.slot_of_index.get(index)
            if slot is not None and call_id and self.calls[slot]["id"] and call_id != self.calls[slot]["id"]:
                slot = None
        if slot is None:
            self.calls.append({"id": "", "name": "", "arguments": []})
            slot = len(self.calls) - 1
            if index is not None:
                self.slot_of_index[index] = slot
        call = self.calls[slot]
        if call_id and not call["id"]:
            call["id"] = call_id
        if name and not call["name"]:
            call["name"] = name
        if arguments:
            call["arguments"].append(arguments)

    def finish(self) -> tuple[ToolCall, ...]:
        return tuple(
            ToolCall(c["id"] or f"call_{i}", c["name"], decode_arguments("".join(c["arguments"])))
            for i, c in enumerate(self.calls)
        )


def _usage(value: Any) -> _Usage:
    """Tokens, the router's own cost (`usage.cost`: OpenRouter, LiteLLM) and cache use:
    OpenAI's `prompt_tokens_details.cached_tokens`, DeepSeek's `prompt_cache_hit_tokens`,
    LiteLLM's Anthropic-style `cache_read_input_tokens`/`cache_creation_input_tokens`.
    `prompt_tokens` already counts the cached tokens."""
    usage = obj(value, "usage")
    details = opt_obj(usage, "prompt_tokens_details", "usage")
    read = max(
        count(details, "cached_tokens", "usage.prompt_tokens_details"),
        count(usage, "prompt_cache_hit_tokens", "usage"),
        count(usage, "cache_read_input_tokens", "usage"),
    )
    return _Usage(
        Usage(count(usage, "prompt_tokens", "usage"), count(usage, "completion_tokens", "usage")),
        reported_cost(usage.get("cost")),
        read,
        count(usage, "cache_creation_input_tokens", "usage"),
    )


def _finish(reason: str | None, tool_calls: tuple[ToolCall, ...]) -> FinishReason:
    if reason == "length":
        return "length"
    if tool_calls:
        return "tool_calls"
    return "stop"
