"""Both wire formats against the fake LLM over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time

import httpx
import pytest
from fakellm import FakeLLM, Reply

from tui.core.providers import ChatRequest, Delta, Done, ProviderConfig, ProviderError, make_provider
from tui.core.types import Message, ToolCall, ToolSpec, Usage

WIRES = ["openai", "anthropic"]


def config_for(fake: FakeLLM, wire: str) -> ProviderConfig:
    base = fake.openai_base if wire == "openai" else fake.anthropic_base
    return ProviderConfig(wire, wire, base, f"{wire.upper()}_API_KEY")  # type: ignore[arg-type]


@pytest.fixture
async def providers():
    """make(fake, wire, key=...) -> a provider, closed after the test."""
    made = []

    def make(fake: FakeLLM, wire: str, key: str | None = "sk-test", **kw):
        provider = make_provider(config_for(fake, wire), key, **kw)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.aclose()


def ask(text: str = "hi", **kw) -> ChatRequest:
    return ChatRequest(model=kw.pop("model", "m"), messages=(Message("user", text),), **kw)


async def collect(provider, request: ChatRequest, *, stream: bool = True) -> tuple[list[Delta], Done]:
    deltas: list[Delta] = []
    done: list[Done] = []
    async for event in provider.stream(request, stream=stream):
        assert not done, "nothing may follow Done"
        if isinstance(event, Delta):
            deltas.append(event)
        else:
            done.append(event)
    assert len(done) == 1
    return deltas, done[0]


async def failure(provider, request: ChatRequest, *, stream: bool = True) -> tuple[ProviderError, str]:
    """The ProviderError a request raises, and the text streamed before it."""
    seen: list[str] = []
    with pytest.raises(ProviderError) as info:
        async for event in provider.stream(request, stream=stream):
            if isinstance(event, Delta):
                seen.append(event.text)
    return info.value, "".join(seen)


# -- text, usage, finish ---------------------------------------------------------------


@pytest.mark.parametrize("wire", WIRES)
async def test_streamed_text_arrives_as_several_deltas(fake_llm, providers, wire):
    text = "Hello there, this answer streams in pieces."
    # Anthropic: message_start says 1 output token, message_delta says 7 (cumulative):
    # summing them would give 8.
    fake_llm.script("m", Reply(text, usage=(11, 7)))
    deltas, done = await collect(providers(fake_llm, wire), ask())
    assert len(deltas) >= 5
    assert "".join(d.text for d in deltas) == text
    assert done == Done(text, (), Usage(11, 7), "stop")


@pytest.mark.parametrize("wire", WIRES)
async def test_non_streaming_request(fake_llm, providers, wire):
    fake_llm.script("m", Reply("All at once.", usage=(5, 3)))
    deltas, done = await collect(providers(fake_llm, wire), ask(), stream=False)
    assert [d.text for d in deltas] == ["All at once."]
    assert done == Done("All at once.", (), Usage(5, 3), "stop")
    body = fake_llm.requests[0].body
    assert body["stream"] is False
    assert "stream_options" not in body


@pytest.mark.parametrize("wire", WIRES)
async def test_unscripted_model_echoes_last_user_message(fake_llm, providers, wire):
    _, done = await collect(providers(fake_llm, wire), ask("ping me back"))
    assert done.text == "echo: ping me back"


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("stream", [True, False])
async def test_finish_length(fake_llm, providers, wire, stream):
    fake_llm.script("m", Reply("cut by max_tokens", finish="length"))
    _, done = await collect(providers(fake_llm, wire), ask(), stream=stream)
    assert done.finish_reason == "length"
    assert done.text == "cut by max_tokens"


# -- tool calls ------------------------------------------------------------------------

CALLS = [("get_weather", {"city": "Paris", "units": "celsius"}), ("add", {"a": 2, "b": [3, 4]})]


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("stream", [True, False])
async def test_tool_calls_decode_to_dict_arguments(fake_llm, providers, wire, stream):
    # chunk_size=3 splits each call's JSON arguments over many fragments.
    fake_llm.script("m", Reply("Checking.", tool_calls=CALLS, chunk_size=3))
    _, done = await collect(providers(fake_llm, wire), ask(), stream=stream)
    assert done.text == "Checking."
    assert [(c.name, c.arguments) for c in done.tool_calls] == CALLS
    assert len({c.id for c in done.tool_calls}) == 2 and all(c.id for c in done.tool_calls)
    assert done.finish_reason == "tool_calls"


async def test_openai_same_index_new_id_starts_a_new_call(fake_llm, providers):
    fake_llm.script("m", Reply(tool_calls=CALLS, chunk_size=5, same_index_tool_calls=True))
    _, done = await collect(providers(fake_llm, "openai"), ask())
    assert [(c.name, c.arguments) for c in done.tool_calls] == CALLS
    assert done.text == ""
    assert done.finish_reason == "tool_calls"


async def test_tools_are_offered_in_each_format(fake_llm, providers):
    spec = ToolSpec("add", "Add numbers", {"type": "object", "properties": {"a": {"type": "number"}}})
    for wire in WIRES:
        await collect(providers(fake_llm, wire), ask(tools=(spec,)))
    openai_body, anthropic_body = (r.body for r in fake_llm.requests)
    assert openai_body["tools"] == [
        {"type": "function", "function": {"name": "add", "description": "Add numbers", "parameters": spec.parameters}}
    ]
    assert anthropic_body["tools"] == [{"name": "add", "description": "Add numbers", "input_schema": spec.parameters}]


def tool_conversation() -> tuple[Message, ...]:
    # Ids as another provider might mint them: Anthropic only accepts [a-zA-Z0-9_-].
    return (
        Message("user", "What is 2+3, and the weather in Paris?"),
        Message(
            "assistant",
            "",
            model="gpt",
            tool_calls=(ToolCall("call:1.a", "add", {"a": 2, "b": 3}), ToolCall("call_2", "weather", {"city": "Paris"})),
        ),
        Message("tool", "5", tool_call_id="call:1.a", tool_name="add"),
        Message("tool", "no such city", tool_call_id="call_2", tool_name="weather", is_error=True),
    )


async def test_openai_tool_round_trip_body(fake_llm, providers):
    _, done = await collect(providers(fake_llm, "openai"), ChatRequest("m", tool_conversation(), system="Be brief."))
    assert done.text == "tool said: no such city"
    assert fake_llm.requests[0].body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 2+3, and the weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call:1.a", "type": "function", "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'}},
                {"id": "call_2", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Paris"}'}},
            ],
        },
        {"role": "tool", "tool_call_id": "call:1.a", "content": "5"},
        {"role": "tool", "tool_call_id": "call_2", "content": "no such city"},
    ]


async def test_anthropic_tool_round_trip_body(fake_llm, providers):
    _, done = await collect(providers(fake_llm, "anthropic"), ChatRequest("m", tool_conversation()))
    assert done.text == "tool said: 5no such city"
    assert fake_llm.requests[0].body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "What is 2+3, and the weather in Paris?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "call_1_a", "name": "add", "input": {"a": 2, "b": 3}},
                {"type": "tool_use", "id": "call_2", "name": "weather", "input": {"city": "Paris"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1_a", "content": "5", "is_error": False},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "no such city", "is_error": True},
            ],
        },
    ]


async def test_anthropic_conversation_is_made_acceptable(fake_llm, providers):
    messages = (
        Message("assistant", "Hi, I am Claude.", model="a"),
        Message("assistant", "And I am GPT.  ", model="b"),
        Message("user", "   "),
        Message("user", "Who are you?"),
        Message("user", "Both of you."),
        Message("assistant", "", model="a", tool_calls=(ToolCall("t1", "look", {}),)),  # never answered
        Message("user", "Never mind."),
        Message("tool", "stray", tool_call_id="gone"),  # answers no call in the turn before
        Message("assistant", "Well  \n", model="b"),
    )
    await collect(providers(fake_llm, "anthropic"), ChatRequest("m", messages))
    assert fake_llm.requests[0].body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "(conversation so far)"}]},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "Hi, I am Claude."}, {"type": "text", "text": "And I am GPT.  "}],
        },
        {"role": "user", "content": [{"type": "text", "text": "Who are you?"}, {"type": "text", "text": "Both of you."}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "look", "input": {}}]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "(no result)", "is_error": True},
                {"type": "text", "text": "Never mind."},
                {"type": "text", "text": "[tool result gone]: stray"},
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "Well"}]},
    ]


# -- request shape and keys ------------------------------------------------------------


async def test_openai_request_shape(fake_llm, providers):
    request = ask(system="You are terse.", max_tokens=321, temperature=0.2, extra={"mcp_servers": ["x"]})
    await collect(providers(fake_llm, "openai", key="sk-open"), request)
    rec = fake_llm.requests[0]
    assert rec.path == "/v1/chat/completions"
    assert rec.headers["authorization"] == "Bearer sk-open"
    assert rec.body == {
        "model": "m",
        "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 321,
        "temperature": 0.2,
        "mcp_servers": ["x"],
    }


async def test_openai_without_key_sends_no_authorization(fake_llm, providers):
    await collect(providers(fake_llm, "openai", key=None), ask())
    assert "authorization" not in fake_llm.requests[0].headers


async def test_anthropic_request_shape(fake_llm, providers):
    await collect(providers(fake_llm, "anthropic", key="sk-ant"), ask(system="You are terse.", max_tokens=321))
    rec = fake_llm.requests[0]
    assert rec.path == "/v1/messages"
    assert rec.headers["x-api-key"] == "sk-ant"
    assert rec.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in rec.headers
    assert rec.body["system"] == "You are terse."
    assert rec.body["max_tokens"] == 321
    assert rec.body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert "temperature" not in rec.body

    await collect(providers(fake_llm, "anthropic"), ask(system=""))
    assert "system" not in fake_llm.requests[1].body


@pytest.mark.parametrize("wire", WIRES)
async def test_right_key_is_accepted(providers, wire):
    with FakeLLM(keys={wire: "sk-right"}) as fake:
        _, done = await collect(providers(fake, wire, key="sk-right"), ask())
    assert done.text == "echo: hi"


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("stream", [True, False])
async def test_rejected_key(providers, wire, stream):
    key = "sk-wrong-secret-12345"
    with FakeLLM(keys={wire: "sk-right"}) as fake:
        err, _ = await failure(providers(fake, wire, key=key), ask(), stream=stream)
    assert err.status == 401
    assert not err.retryable
    provider_message = "Incorrect API key provided" if wire == "openai" else "invalid x-api-key"
    assert provider_message in str(err)
    assert f"{wire} HTTP 401" in str(err)
    assert "key was rejected" in str(err)
    assert key not in str(err)
    assert "\n" not in str(err)


async def test_key_echoed_by_the_server_is_redacted(providers):
    key = "sk-echoed-secret-999"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"message": f"Incorrect API key provided: {key}\nbye"}})

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    config = ProviderConfig("openai", "openai", "http://test/v1", "OPENAI_API_KEY")
    err, _ = await failure(make_provider(config, key, client=client), ask())
    await client.aclose()
    assert key not in str(err)
    assert "\n" not in str(err)
    assert "Incorrect API key provided: *** bye" in str(err)


# -- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("status", [429, 500, 529])
async def test_overload_and_server_errors_are_retryable(fake_llm, providers, wire, status):
    fake_llm.script("m", Reply(status=status, error="slow down please", retry_after=2))
    err, partial = await failure(providers(fake_llm, wire), ask())
    assert err.status == status
    assert err.retryable
    assert err.retry_after == 2.0
    assert str(err) == f"{wire} HTTP {status}: slow down please"
    assert partial == "" and err.partial == ""


@pytest.mark.parametrize("wire", WIRES)
async def test_bad_request_is_not_retryable(fake_llm, providers, wire):
    fake_llm.script("m", Reply(status=400, error="max_tokens too large"))
    err, _ = await failure(providers(fake_llm, wire), ask())
    assert (err.status, err.retryable, err.retry_after) == (400, False, None)
    assert "max_tokens too large" in str(err)


@pytest.mark.parametrize("wire", WIRES)
async def test_stream_cut_half_way_keeps_partial_text(fake_llm, providers, wire):
    fake_llm.script("m", Reply("abcdefghijklmnopqrstuvwxyz", chunk_size=4, cut_after=3))
    err, streamed = await failure(providers(fake_llm, wire), ask())
    assert streamed == "abcdefghijkl"
    assert err.partial == "abcdefghijkl"
    assert err.retryable
    assert "stream cut" in str(err)
    assert fake_llm.requests[0].completed is False


@pytest.mark.parametrize("wire", WIRES)
async def test_non_streaming_body_cut_is_retryable(fake_llm, providers, wire):
    fake_llm.script("m", Reply("whole answer", cut_after=0))
    err, _ = await failure(providers(fake_llm, wire), ask(), stream=False)
    assert err.retryable


async def test_anthropic_error_event_after_http_200(fake_llm, providers):
    fake_llm.script("m", Reply("Partly answered", error_event=True, error="Overloaded right now"))
    err, streamed = await failure(providers(fake_llm, "anthropic"), ask())
    assert streamed == "Partly answered"
    assert err.partial == "Partly answered"
    assert "Overloaded right now" in str(err)
    assert err.retryable


async def test_openai_error_object_in_stream(fake_llm, providers):
    fake_llm.script("m", Reply("Partly", error_event=True, error="upstream provider failed"))
    err, _ = await failure(providers(fake_llm, "openai"), ask())
    assert "upstream provider failed" in str(err)
    assert err.partial == "Partly"


def sse_transport(body: str) -> httpx.AsyncClient:
    """A client whose every request gets `body` as a close-delimited event stream."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body.encode())

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    "wire, body",
    [
        ("openai", 'data: {"choices":[{"index":0,"delta":{"content":"half"}}]}\n\n'),
        (
            "anthropic",
            'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":1}}}\n\n'
            'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
            '"delta":{"type":"text_delta","text":"half"}}\n\n',
        ),
    ],
)
async def test_stream_ending_without_terminator_is_a_cut(wire, body):
    client = sse_transport(body)
    config = ProviderConfig(wire, wire, "http://test", None)  # type: ignore[arg-type]
    err, streamed = await failure(make_provider(config, None, client=client), ask())
    await client.aclose()
    assert streamed == err.partial == "half"
    assert err.retryable and "stream cut" in str(err)


async def test_openai_arguments_that_are_not_json_are_kept_raw():
    body = (
        'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1",'
        '"function":{"name":"f","arguments":"{not json"}}]}}]}\n\n'
        'data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}\n\n'
        "data: [DONE]\n\n"
    )
    client = sse_transport(body)
    config = ProviderConfig("openai", "openai", "http://test", None)
    _, done = await collect(make_provider(config, None, client=client), ask())
    await client.aclose()
    assert done.tool_calls == (ToolCall("c1", "f", {"_raw": "{not json"}),)
    assert done.usage == Usage()


@pytest.mark.parametrize("wire", WIRES)
async def test_connection_refused_is_retryable(providers, wire):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = ProviderConfig(wire, wire, f"http://127.0.0.1:{port}", None)  # type: ignore[arg-type]
    provider = make_provider(config, "sk-secret-abc")
    err, _ = await failure(provider, ask())
    await provider.aclose()
    assert err.retryable and err.status is None
    assert "connection failed" in str(err)
    assert "sk-secret-abc" not in str(err)


async def test_base_url_without_scheme_is_not_retryable():
    provider = make_provider(ProviderConfig("ollama", "openai", "localhost:11434/v1"), None)
    err, _ = await failure(provider, ask())
    await provider.aclose()
    assert not err.retryable
    assert str(err).startswith("ollama: connection failed")


@pytest.mark.parametrize("wire", WIRES)
async def test_timeout_is_retryable(fake_llm, providers, wire):
    fake_llm.script("m", Reply("late", delay=3))
    err, _ = await failure(providers(fake_llm, wire, timeout=0.3), ask())
    assert err.retryable
    assert "timed out" in str(err)


# -- cancellation ----------------------------------------------------------------------


async def wait_for_disconnect(fake: FakeLLM) -> bool:
    for _ in range(40):
        if fake.requests[0].disconnected:
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.mark.parametrize("wire", WIRES)
async def test_cancelling_a_slow_stream_closes_the_connection(fake_llm, providers, wire):
    fake_llm.script("m", Reply("first chunk then a very long wait", chunk_delay=10))
    provider = providers(fake_llm, wire)
    first = asyncio.Event()
    got: list[str] = []

    async def consume() -> None:
        async for event in provider.stream(ask()):
            if isinstance(event, Delta):
                got.append(event.text)
                first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 5)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 0.5
    assert got == ["firs"]
    assert await wait_for_disconnect(fake_llm)
    assert fake_llm.requests[0].completed is False


@pytest.mark.parametrize("wire", WIRES)
async def test_closing_the_generator_closes_the_connection(fake_llm, providers, wire):
    fake_llm.script("m", Reply("first chunk then a very long wait", chunk_delay=10))
    events = providers(fake_llm, wire).stream(ask())
    assert await asyncio.wait_for(events.__anext__(), 5) == Delta("firs")
    started = time.monotonic()
    await events.aclose()
    assert time.monotonic() - started < 0.5
    assert await wait_for_disconnect(fake_llm)


# -- make_provider ---------------------------------------------------------------------


async def test_make_provider_chooses_by_kind_and_borrows_a_given_client(fake_llm):
    from tui.core.providers.anthropic import AnthropicProvider
    from tui.core.providers.openai import OpenAIProvider

    async with httpx.AsyncClient() as client:
        openai = make_provider(ProviderConfig("dedalus", "openai", fake_llm.openai_base), None, client=client)
        anthropic = make_provider(ProviderConfig("anthropic", "anthropic", fake_llm.anthropic_base), None, client=client)
        assert isinstance(openai, OpenAIProvider) and isinstance(anthropic, AnthropicProvider)
        await openai.aclose()
        await anthropic.aclose()
        assert not client.is_closed
        _, done = await collect(openai, ask("still open"))
        assert done.text == "echo: still open"
    with pytest.raises(ValueError, match="unknown provider kind"):
        make_provider(ProviderConfig("x", "grpc", "http://x"), None)  # type: ignore[arg-type]


async def test_owned_client_is_closed_by_aclose(fake_llm):
    provider = make_provider(config_for(fake_llm, "openai"), None)
    await provider.aclose()
    assert provider._client.is_closed


def test_importing_providers_does_not_import_httpx():
    code = "import sys, tui.core.providers; print('httpx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

