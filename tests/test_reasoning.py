"""Reasoning kept apart from the answer in both wire formats, Anthropic thinking blocks
replayed with their signatures, and reasoning settings sent each format's own way."""

from __future__ import annotations

import pytest
from fakellm import FakeLLM, Reply

from tui.core.providers import (
    ChatRequest,
    Deadlines,
    Delta,
    Done,
    ProviderConfig,
    ReasoningDelta,
    ThinkingBlock,
    make_provider,
)
from tui.core.types import Message, ToolCall, ToolSpec

WIRES = ["openai", "anthropic"]
THOUGHT = "First, consider the question. Then the answer is plain."


@pytest.fixture
async def provider_for():
    made = []

    def make(fake: FakeLLM, wire: str):
        base = fake.openai_base if wire == "openai" else fake.anthropic_base
        provider = make_provider(ProviderConfig(wire, wire, base), "sk-test")  # type: ignore[arg-type]
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.aclose()


async def run(provider, request: ChatRequest, *, stream: bool = True):
    """(answer text deltas, reasoning deltas, the Done)."""
    text: list[str] = []
    thought: list[str] = []
    done: list[Done] = []
    async for event in provider.stream(request, stream=stream):
        assert not done, "nothing may follow Done"
        if isinstance(event, Delta):
            text.append(event.text)
        elif isinstance(event, ReasoningDelta):
            thought.append(event.text)
        else:
            done.append(event)
    assert len(done) == 1
    return text, thought, done[0]


def ask(text: str = "why?", **kw) -> ChatRequest:
    return ChatRequest(model=kw.pop("model", "m"), messages=(Message("user", text),), **kw)


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("wire", WIRES)
async def test_reasoning_is_recorded_apart_from_the_answer(fake_llm, provider_for, wire, stream):
    fake_llm.script("m", Reply("The answer.", reasoning=THOUGHT))
    text, thought, done = await run(provider_for(fake_llm, wire), ask(), stream=stream)
    assert "".join(text) == done.text == "The answer."
    assert "".join(thought) == done.reasoning == THOUGHT
    assert THOUGHT not in done.text
    if stream:
        assert len(thought) > 1  # streamed in pieces, as it came


@pytest.mark.parametrize("stream", [True, False])
async def test_openrouter_reasoning_field(fake_llm, provider_for, stream):
    fake_llm.script("m", Reply("Yes.", reasoning=THOUGHT, reasoning_field="reasoning"))
    text, thought, done = await run(provider_for(fake_llm, "openai"), ask(), stream=stream)
    assert done.text == "Yes." and done.reasoning == THOUGHT and "".join(thought) == THOUGHT


@pytest.mark.parametrize("stream", [True, False])
async def test_anthropic_thinking_blocks_keep_their_signatures(fake_llm, provider_for, stream):
    fake_llm.script("m", Reply("Done.", reasoning=THOUGHT, signature="EqQBCkYIBxgCKkDsig", redacted="ENCRYPTED=="))
    _, _, done = await run(provider_for(fake_llm, "anthropic"), ask(), stream=stream)
    assert done.thinking_blocks == (
        ThinkingBlock(THOUGHT, "EqQBCkYIBxgCKkDsig"),
        ThinkingBlock("", "", "ENCRYPTED=="),
    )
    assert done.reasoning == THOUGHT and done.text == "Done."


async def test_thinking_before_a_tool_call_is_kept(fake_llm, provider_for):
    fake_llm.script("m", Reply(reasoning=THOUGHT, tool_calls=[("lookup", {"q": "x"})]))
    _, _, done = await run(provider_for(fake_llm, "anthropic"), ask(tools=(ToolSpec("lookup", "find"),)))
    assert [tc.name for tc in done.tool_calls] == ["lookup"]
    assert done.thinking_blocks == (ThinkingBlock(THOUGHT, "sig-fake"),)
    assert done.finish_reason == "tool_calls"


async def test_anthropic_replays_thinking_blocks_before_the_tool_use(fake_llm, provider_for):
    blocks = (ThinkingBlock(THOUGHT, "sig-1"), ThinkingBlock("", "", "REDACTED"))
    messages = (
        Message("user", "look it up"),
        Message("assistant", "", tool_calls=(ToolCall("toolu_1", "lookup", {"q": "x"}),)),
        Message("tool", "found it", tool_call_id="toolu_1", tool_name="lookup"),
    )
    request = ChatRequest(model="m", messages=messages, tools=(ToolSpec("lookup", "find"),),
                          thinking_budget=2048, thinking_replay={1: blocks})
    await run(provider_for(fake_llm, "anthropic"), request)
    assistant = fake_llm.requests[0].body["messages"][1]
    assert assistant["role"] == "assistant"
    assert assistant["content"] == [
        {"type": "thinking", "thinking": THOUGHT, "signature": "sig-1"},
        {"type": "redacted_thinking", "data": "REDACTED"},
        {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}},
    ]


async def test_openai_ignores_thinking_replay(fake_llm, provider_for):
    messages = (Message("user", "a"), Message("assistant", "b"), Message("user", "c"))
    request = ChatRequest(model="m", messages=messages, thinking_replay={1: (ThinkingBlock("t", "s"),)})
    await run(provider_for(fake_llm, "openai"), request)
    assert fake_llm.requests[0].body["messages"][1] == {"role": "assistant", "content": "b"}


async def test_anthropic_thinking_budget_raises_max_tokens_and_drops_temperature(fake_llm, provider_for):
    await run(provider_for(fake_llm, "anthropic"), ask(thinking_budget=8000, max_tokens=4096, temperature=0.3))
    body = fake_llm.requests[0].body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 8000}
    assert body["max_tokens"] > 8000
    assert "temperature" not in body


async def test_anthropic_reasoning_effort_becomes_a_budget(fake_llm, provider_for):
    await run(provider_for(fake_llm, "anthropic"), ask(reasoning_effort="high"))
    await run(provider_for(fake_llm, "anthropic"), ask(thinking_budget=100))
    await run(provider_for(fake_llm, "anthropic"), ask(temperature=0.5))
    first, second, third = (r.body for r in fake_llm.requests)
    assert first["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    assert first["max_tokens"] > 4096
    assert second["thinking"]["budget_tokens"] == 1024  # the API's least
    assert "thinking" not in third and third["temperature"] == 0.5


@pytest.mark.parametrize("model", ["o3-mini", "o1", "o4-mini", "gpt-5", "openai/gpt-5-mini"])
async def test_openai_reasoning_models_get_max_completion_tokens(fake_llm, provider_for, model):
    await run(provider_for(fake_llm, "openai"), ask(model=model, reasoning_effort="low", max_tokens=900,
                                                     temperature=0.2))
    body = fake_llm.requests[0].body
    assert body["reasoning_effort"] == "low"
    assert body["max_completion_tokens"] == 900 and "max_tokens" not in body
    assert "temperature" not in body


async def test_openai_other_models_keep_max_tokens(fake_llm, provider_for):
    await run(provider_for(fake_llm, "openai"), ask(model="gpt-4.1", max_tokens=900, temperature=0.2))
    await run(provider_for(fake_llm, "openai"), ask(model="deepseek-reasoner", thinking_budget=3000))
    plain, budget = (r.body for r in fake_llm.requests)
    assert plain["max_tokens"] == 900 and "max_completion_tokens" not in plain
    assert plain["temperature"] == 0.2 and "reasoning_effort" not in plain and "thinking" not in plain
    # LiteLLM and Dedalus take Anthropic's thinking object in the OpenAI format.
    assert budget["thinking"] == {"type": "enabled", "budget_tokens": 3000}


@pytest.mark.parametrize("wire", WIRES)
async def test_thinking_counts_as_the_first_token(fake_llm, provider_for, wire):
    # Text starts about 0.3 s in; thinking arrives at once. A first-token deadline of
    # 0.15 s is met by the thinking, as a long-thinking model needs.
    fake_llm.script("m", Reply("Answer.", reasoning="abcdefghijklmnop", chunk_size=4, chunk_delay=0.1))
    _, thought, done = await run(provider_for(fake_llm, wire), ask(deadlines=Deadlines(first_token_s=0.15)))
    assert done.text == "Answer." and "".join(thought) == "abcdefghijklmnop"


def tool_loop(replay: dict[int, tuple[ThinkingBlock, ...]]) -> ChatRequest:
    messages = (
        Message("user", "look it up"),
        Message("assistant", "", tool_calls=(ToolCall("toolu_1", "lookup", {"q": "x"}),)),
        Message("tool", "found it", tool_call_id="toolu_1", tool_name="lookup"),
    )
    return ChatRequest(model="m", messages=messages, tools=(ToolSpec("lookup", "find"),),
                       thinking_budget=2048, thinking_replay=replay)


async def test_a_tool_call_made_without_thinking_is_continued_without_it(fake_llm, provider_for):
    # Anthropic rejects thinking on a request whose last tool_use turn has no thinking
    # block (another model made the call): that one request goes without thinking.
    provider = provider_for(fake_llm, "anthropic")
    await run(provider, tool_loop({}))
    await run(provider, tool_loop({1: (ThinkingBlock("t", "s"),)}))
    without, kept = (r.body for r in fake_llm.requests)
    assert "thinking" not in without
    assert kept["thinking"] == {"type": "enabled", "budget_tokens": 2048}
