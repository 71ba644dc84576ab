"""The OpenAI Chat Completions wire format (OpenAI, Dedalus, OpenRouter, Ollama, ...)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from tui.core._httpx import httpx

from ..types import Message, ToolCall, Usage
from .base import ChatRequest, Delta, Done, FinishReason, ProviderError, ProviderEvent
from .sse import (
    HttpProvider,
    decode_arguments,
    is_retryable,
    iter_sse,
    one_line,
    parse_json,
    stream_cut,
)


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
        messages.extend(_message(m) for m in request.messages)
        body: dict[str, Any] = {
            "model": request.model,
            "messages": messages,
            "stream": stream,
            "max_tokens": request.max_tokens,
        }
        if stream:
            body["stream_options"] = {"include_usage": True}
        if request.temperature is not None:
            body["temperature"] = request.temperature
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

    async def parse_stream(self, response: httpx.Response, text: list[str]) -> AsyncIterator[ProviderEvent]:
        name = self.config.name
        calls = _ToolCallFragments()
        usage = Usage()
        reason: str | None = None
        async for event in iter_sse(response):
            if event.data.strip() == "[DONE]":
                break
            chunk = parse_json(name, event.data, self._key, "".join(text))
            if not isinstance(chunk, dict):
                continue
            if chunk.get("error"):
                raise self._stream_error(chunk["error"], "".join(text))
            if isinstance(chunk.get("usage"), dict):
                usage = _usage(chunk["usage"])
            for choice in chunk.get("choices") or []:
                if choice.get("index", 0) != 0:
                    continue
                delta = choice.get("delta") or {}
                piece = delta.get("content")
                if isinstance(piece, str) and piece:
                    text.append(piece)
                    yield Delta(piece)
                for fragment in delta.get("tool_calls") or []:
                    calls.add(fragment)
                if choice.get("finish_reason"):
                    reason = choice["finish_reason"]
        else:
            raise stream_cut(name, "".join(text))
        tool_calls = calls.finish()
        yield Done("".join(text), tool_calls, usage, _finish(reason, tool_calls))

    def parse_reply(self, data: Any) -> Done:
        if not isinstance(data, dict):
            raise ProviderError(f"{self.config.name}: unexpected response", retryable=True)
        if data.get("error") and not data.get("choices"):
            raise self._stream_error(data["error"], "")
        choices = data.get("choices") or [{}]
        choice = choices[0] or {}
        message = choice.get("message") or {}
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        tool_calls = tuple(
            ToolCall(
                tc.get("id") or f"call_{i}",
                (tc.get("function") or {}).get("name", ""),
                decode_arguments(_as_json_text((tc.get("function") or {}).get("arguments"))),
            )
            for i, tc in enumerate(message.get("tool_calls") or [])
        )
        usage = _usage(data["usage"]) if isinstance(data.get("usage"), dict) else Usage()
        return Done(content or "", tool_calls, usage, _finish(choice.get("finish_reason"), tool_calls))

    def _stream_error(self, error: Any, partial: str) -> ProviderError:
        """An error object sent with HTTP 200 (some OpenAI-compatible routers do this)."""
        if isinstance(error, dict):
            message, code = error.get("message") or json.dumps(error), error.get("code")
        else:
            message, code = str(error), None
        retryable = is_retryable(code) if isinstance(code, int) else True
        return ProviderError(
            one_line(f"{self.config.name}: {message}", self._key),
            status=code if isinstance(code, int) else None,
            retryable=retryable,
            partial=partial,
        )


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

    def add(self, fragment: dict[str, Any]) -> None:
        index, call_id = fragment.get("index"), fragment.get("id")
        function = fragment.get("function") or {}
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
        if function.get("name") and not call["name"]:
            call["name"] = function["name"]
        if function.get("arguments"):
            call["arguments"].append(_as_json_text(function["arguments"]))

    def finish(self) -> tuple[ToolCall, ...]:
        return tuple(
            ToolCall(c["id"] or f"call_{i}", c["name"], decode_arguments("".join(c["arguments"])))
            for i, c in enumerate(self.calls)
        )


def _as_json_text(arguments: Any) -> str:
    if arguments is None:
        return ""
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def _usage(usage: dict[str, Any]) -> Usage:
    return Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))


def _finish(reason: str | None, tool_calls: tuple[ToolCall, ...]) -> FinishReason:
    if reason == "length":
        return "length"
    if tool_calls:
        return "tool_calls"
    return "stop"
