"""Property tests for the newer parts of both wire formats: thinking blocks and their
signatures, reasoning deltas, provider cost, cache counts and Dedalus reports. Whatever
shape they arrive in, a stream ends in a Done or a ProviderError, and reasoning never
leaks into the answer text."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.core.providers import (
    ChatRequest,
    Delta,
    Done,
    ProviderConfig,
    ProviderError,
    ReasoningDelta,
    make_provider,
)
from tui.core.types import Message

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MARK = "\x00THINK"  # never part of any answer text below

scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, strategy, json_values)


thought = maybe(st.text(max_size=6).map(lambda t: MARK + t))
usage = maybe(st.fixed_dictionaries({}, optional={
    "prompt_tokens": maybe(st.integers(0, 10**6)),
    "cost": maybe(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-5, 5)),
    "prompt_tokens_details": maybe(st.fixed_dictionaries({}, optional={"cached_tokens": maybe(st.integers(0, 99))})),
    "prompt_cache_hit_tokens": maybe(st.integers(0, 99)),
    "cache_read_input_tokens": maybe(st.integers(0, 99)),
    "cache_creation_input_tokens": maybe(st.integers(0, 99)),
}))
report = maybe(st.fixed_dictionaries({}, optional={
    "tool_name": maybe(st.text(max_size=4)),
    "server_name": maybe(st.text(max_size=4)),
    "arguments": json_values,
    "result": json_values,
    "is_error": json_values,
}))
openai_chunk = maybe(st.fixed_dictionaries({}, optional={
    "choices": maybe(st.lists(maybe(st.fixed_dictionaries({}, optional={
        "index": maybe(st.integers(0, 1)),
        "delta": maybe(st.fixed_dictionaries({}, optional={
            "content": maybe(st.sampled_from(["", "a"])),
            "reasoning_content": thought,
            "reasoning": thought,
        })),
    })), max_size=2)),
    "usage": usage,
    "mcp_tool_results": maybe(st.lists(report, max_size=2)),
    "tools_executed": maybe(st.lists(maybe(st.text(max_size=4)), max_size=2)),
}))

thinking_block = maybe(st.fixed_dictionaries(
    {"type": maybe(st.sampled_from(["thinking", "redacted_thinking"]))},
    optional={"thinking": thought, "signature": maybe(st.text(max_size=4)), "data": maybe(st.text(max_size=4))},
))
thinking_delta = maybe(st.fixed_dictionaries(
    {"type": maybe(st.sampled_from(["thinking_delta", "signature_delta"]))},
    optional={"thinking": thought, "signature": maybe(st.text(max_size=4))},
))
anthropic_event = maybe(st.fixed_dictionaries({}, optional={
    "type": maybe(st.sampled_from(["content_block_start", "content_block_delta", "message_delta", "message_start"])),
    "index": maybe(st.integers(0, 2)),
    "content_block": thinking_block,
    "delta": thinking_delta,
    "usage": usage,
    "message": maybe(st.fixed_dictionaries({}, optional={"usage": usage})),
}))


class Chunks(httpx.AsyncByteStream):
    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.body


def sse(event: str | None, data: Any) -> bytes:
    head = f"event: {event}\n" if event else ""
    return (head + "data: " + json.dumps(data) + "\n\n").encode()


async def outcome(wire: str, body: bytes, headers: dict[str, str]) -> Done | ProviderError:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream", **headers}, stream=Chunks(body))

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    provider = make_provider(ProviderConfig(wire, wire, "http://test", None), None, client=client)  # type: ignore[arg-type]
    request = ChatRequest("m", (Message("user", "hi"),), extra={"mcp_servers": ["x/y"]})
    try:
        done = None
        async for event in provider.stream(request):
            assert done is None, "nothing may follow Done"
            if isinstance(event, Done):
                done = event
            elif isinstance(event, Delta):
                assert MARK not in event.text
            else:
                assert isinstance(event, ReasoningDelta) and isinstance(event.text, str)
        assert done is not None
        return done
    except ProviderError as e:
        assert "\n" not in str(e) and MARK not in e.partial
        return e
    finally:
        await client.aclose()


def check(done: Done | ProviderError) -> None:
    if isinstance(done, Done):
        assert MARK not in done.text
        assert done.cost_usd is None or done.cost_usd >= 0
        assert done.cache_read_tokens >= 0 and done.cache_write_tokens >= 0
        assert all(isinstance(s.result, str) for s in done.server_tool_calls)


costs = st.sampled_from(["0.01", "-1", "nan", "x", "0"])


@SETTINGS
@given(chunks=st.lists(openai_chunk, max_size=4), cost=costs)
def test_openai_reasoning_and_extras_of_any_shape(chunks, cost):
    body = b"".join(sse(None, c) for c in chunks) + b"data: [DONE]\n\n"
    check(asyncio.run(outcome("openai", body, {"x-litellm-response-cost": cost})))


@SETTINGS
@given(events=st.lists(anthropic_event, max_size=5), cost=costs)
def test_anthropic_thinking_of_any_shape(events, cost):
    body = b"".join(sse(None, e) if isinstance(e, dict) and "type" in e else sse("content_block_start", e)
                    for e in events) + sse("message_stop", {"type": "message_stop"})
    check(asyncio.run(outcome("anthropic", body, {"x-litellm-response-cost": cost})))
