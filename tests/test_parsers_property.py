"""Property tests: whatever JSON (or bytes) a server sends, both parsers end in a Done or
a ProviderError, never any other exception."""

from __future__ import annotations

import asyncio
import itertools
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
    make_provider,
)
from tui.core.types import Message

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The right kind of value most of the time, anything JSON now and then."""
    return st.one_of(strategy, strategy, json_values)


counts = maybe(st.integers(0, 10**6))
usage = maybe(
    st.fixed_dictionaries(
        {},
        optional={
            k: counts
            for k in ("prompt_tokens", "completion_tokens", "input_tokens", "output_tokens", "cache_read_input_tokens")
        },
    )
)

# -- OpenAI chunks ---------------------------------------------------------------------

fragment = maybe(
    st.fixed_dictionaries(
        {},
        optional={
            "index": maybe(st.integers(0, 3)),
            "id": maybe(st.text(max_size=5)),
            "function": maybe(
                st.fixed_dictionaries({}, optional={"name": maybe(st.text(max_size=5)), "arguments": maybe(st.text(max_size=8))})
            ),
        },
    )
)
delta = maybe(
    st.fixed_dictionaries({}, optional={"content": maybe(st.text(max_size=8)), "tool_calls": maybe(st.lists(fragment, max_size=3))})
)
choice = maybe(
    st.fixed_dictionaries(
        {},
        optional={
            "index": maybe(st.integers(0, 2)),
            "delta": delta,
            "message": delta,
            "finish_reason": maybe(st.sampled_from(["stop", "length", "tool_calls"])),
        },
    )
)
openai_chunk = maybe(
    st.fixed_dictionaries(
        {},
        optional={"choices": maybe(st.lists(choice, max_size=3)), "usage": usage, "error": maybe(st.none())},
    )
)

# -- Anthropic events --------------------------------------------------------------------

EVENTS = [
    "message_start", "content_block_start", "content_block_delta", "content_block_stop",
    "message_delta", "message_stop", "ping", "error",
]
block = maybe(
    st.fixed_dictionaries(
        {"type": maybe(st.sampled_from(["text", "tool_use", "thinking"]))},
        optional={"text": maybe(st.text(max_size=8)), "id": maybe(st.text(max_size=4)), "name": maybe(st.text(max_size=4)),
                  "input": maybe(st.dictionaries(st.text(max_size=3), scalars, max_size=2))},
    )
)
block_delta = maybe(
    st.fixed_dictionaries(
        {"type": maybe(st.sampled_from(["text_delta", "input_json_delta", "thinking_delta"]))},
        optional={"text": maybe(st.text(max_size=8)), "partial_json": maybe(st.text(max_size=8)),
                  "stop_reason": maybe(st.sampled_from(["end_turn", "max_tokens"]))},
    )
)
anthropic_data = maybe(
    st.fixed_dictionaries(
        {},
        optional={
            "type": maybe(st.sampled_from(EVENTS)),
            "index": maybe(st.integers(0, 3)),
            "content_block": block,
            "delta": block_delta,
            "message": maybe(st.fixed_dictionaries({}, optional={"usage": usage})),
            "usage": usage,
            "error": json_values,
        },
    )
)
anthropic_event = st.tuples(maybe(st.sampled_from(EVENTS)).map(lambda e: e if isinstance(e, str) else "message"), anthropic_data)


# -- running a body through a provider ---------------------------------------------------


class Chunks(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk


def split(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(body) + 1) for c in cuts})
    edges = [0, *points, len(body)]
    return [body[a:b] for a, b in itertools.pairwise(edges) if b > a]


async def outcome(wire: str, body: bytes, cuts: list[int], *, stream: bool = True,
                  content_type: str = "text/event-stream") -> Done | ProviderError:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": content_type}, stream=Chunks(split(body, cuts)))

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    config = ProviderConfig(wire, wire, "http://test", None)  # type: ignore[arg-type]
    provider = make_provider(config, None, client=client)
    request = ChatRequest("m", (Message("user", "hi"),))
    try:
        done = None
        async for event in provider.stream(request, stream=stream):
            assert done is None, "nothing may follow Done"
            if isinstance(event, Done):
                done = event
            else:
                assert isinstance(event, Delta) and isinstance(event.text, str)
        assert done is not None
        return done
    except ProviderError as e:
        assert "\n" not in str(e) and isinstance(e.partial, str)
        return e
    finally:
        await client.aclose()


def sse(event: str | None, data: Any) -> bytes:
    head = f"event: {event}\n" if event else ""
    return (head + "data: " + json.dumps(data) + "\n\n").encode()


HELLO_OPENAI = sse(None, {"choices": [{"index": 0, "delta": {"content": "Hello "}}]})
HELLO_ANTHROPIC = sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                              "delta": {"type": "text_delta", "text": "Hello "}})


@SETTINGS
@given(chunks=st.lists(openai_chunk, max_size=4), cuts=st.lists(st.integers(0, 10**6), max_size=4), end=st.booleans())
def test_openai_stream_of_any_json_ends_in_done_or_provider_error(chunks, cuts, end):
    body = HELLO_OPENAI + b"".join(sse(None, c) for c in chunks) + (b"data: [DONE]\n\n" if end else b"")
    result = asyncio.run(outcome("openai", body, cuts))
    if isinstance(result, ProviderError):
        assert result.partial.startswith("Hello ")
    else:
        assert result.text.startswith("Hello ")


@SETTINGS
@given(events=st.lists(anthropic_event, max_size=5), cuts=st.lists(st.integers(0, 10**6), max_size=4), end=st.booleans())
def test_anthropic_stream_of_any_json_ends_in_done_or_provider_error(events, cuts, end):
    body = (HELLO_ANTHROPIC + b"".join(sse(None if e == "message" else e, d) for e, d in events)
            + (sse("message_stop", {"type": "message_stop"}) if end else b""))
    result = asyncio.run(outcome("anthropic", body, cuts))
    if isinstance(result, ProviderError):
        assert result.partial.startswith("Hello ")
    else:
        assert result.text.startswith("Hello ")


@SETTINGS
@given(wire=st.sampled_from(["openai", "anthropic"]), reply=json_values | openai_chunk | anthropic_data,
       cuts=st.lists(st.integers(0, 10**6), max_size=3))
def test_a_whole_reply_of_any_json_ends_in_done_or_provider_error(wire, reply, cuts):
    asyncio.run(outcome(wire, json.dumps(reply).encode(), cuts, stream=False, content_type="application/json"))


@SETTINGS
@given(wire=st.sampled_from(["openai", "anthropic"]), body=st.binary(max_size=300),
       cuts=st.lists(st.integers(0, 10**6), max_size=4))
def test_any_bytes_end_in_done_or_provider_error(wire, body, cuts):
    asyncio.run(outcome(wire, body, cuts))
    asyncio.run(outcome(wire, b"data: " + body + b"\n\n", cuts))
