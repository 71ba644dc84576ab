"""Tool calls Dedalus runs on its side (hosted MCP servers) are set apart from ours, and
DEDALUS_BASE_URL may be written the SDK's way (the host alone)."""

from __future__ import annotations

import pytest
from fakellm import FakeLLM, Reply

from tui.core.models import resolve_model
from tui.core.profile import Profile
from tui.core.providers import ChatRequest, Done, ProviderConfig, ServerToolCall, make_provider
from tui.core.types import Message, ToolSpec

HOSTED = {"mcp_servers": ["dedalus-labs/brave-search-mcp"]}
LOCAL = (ToolSpec("read_file", "read a file"),)


@pytest.fixture
async def dedalus(fake_llm: FakeLLM):
    provider = make_provider(ProviderConfig("dedalus", "openai", fake_llm.openai_base), "sk-test")
    yield provider
    await provider.aclose()


async def done_of(provider, request: ChatRequest, *, stream: bool = True) -> Done:
    events = [e async for e in provider.stream(request, stream=stream)]
    assert isinstance(events[-1], Done)
    return events[-1]


def ask(**kw) -> ChatRequest:
    return ChatRequest(model="openai/gpt-4.1", messages=(Message("user", "news?"),), tools=LOCAL, **kw)


@pytest.mark.parametrize("stream", [True, False])
async def test_undeclared_calls_with_hosted_servers_are_the_servers(fake_llm, dedalus, stream):
    fake_llm.script("openai/gpt-4.1", Reply(
        "Here is the news.",
        tool_calls=[("brave_web_search", {"query": "news"}), ("read_file", {"path": "a.txt"})],
    ))
    done = await done_of(dedalus, ask(extra=HOSTED), stream=stream)
    assert [tc.name for tc in done.tool_calls] == ["read_file"]
    assert [(s.name, s.arguments) for s in done.server_tool_calls] == [("brave_web_search", {"query": "news"})]
    assert done.text == "Here is the news."


@pytest.mark.parametrize("stream", [True, False])
async def test_only_server_calls_finish_as_an_answer(fake_llm, dedalus, stream):
    fake_llm.script("openai/gpt-4.1", Reply("Searched.", tool_calls=[("brave_web_search", {"query": "x"})]))
    done = await done_of(dedalus, ask(extra=HOSTED), stream=stream)
    assert done.tool_calls == () and done.finish_reason == "stop"
    assert done.server_tool_calls[0].name == "brave_web_search"


@pytest.mark.parametrize("stream", [True, False])
async def test_reported_results_fill_in_the_calls(fake_llm, dedalus, stream):
    results = [{"tool_name": "brave_web_search", "server_name": "brave", "arguments": {"query": "x"},
                "result": {"hits": 3}, "is_error": False, "duration_ms": 12},
               {"tool_name": "fetch_page", "server_name": "brave", "arguments": {"url": "u"},
                "result": "page text", "is_error": True}]
    fake_llm.script("openai/gpt-4.1", Reply(
        "Done.", tool_calls=[("brave_web_search", {"query": "x"})], mcp_tool_results=results,
        tools_executed=["brave_web_search", "fetch_page", "summarise"],
    ))
    done = await done_of(dedalus, ask(extra=HOSTED), stream=stream)
    assert done.server_tool_calls == (
        ServerToolCall("brave_web_search", {"query": "x"}, '{"hits": 3}', False, "call_0_1", "brave"),
        ServerToolCall("fetch_page", {"url": "u"}, "page text", True, "", "brave"),
        ServerToolCall("summarise"),
    )
    assert done.tool_calls == ()


async def test_without_hosted_servers_an_unknown_call_stays_ours(fake_llm, dedalus):
    # The engine answers it "unknown tool", as before: nothing here runs it elsewhere.
    fake_llm.script("openai/gpt-4.1", Reply(tool_calls=[("brave_web_search", {"query": "x"})]))
    done = await done_of(dedalus, ask())
    assert [tc.name for tc in done.tool_calls] == ["brave_web_search"] and done.server_tool_calls == ()


async def test_a_malformed_report_is_skipped_not_fatal(fake_llm, dedalus):
    fake_llm.script("openai/gpt-4.1", Reply("fine", mcp_tool_results=[7, {"tool_name": 3}, {"x": 1}],
                                            tools_executed=[None, "ok_tool"]))
    done = await done_of(dedalus, ask(extra=HOSTED), stream=False)
    assert done.text == "fine" and done.server_tool_calls == (ServerToolCall("ok_tool"),)


@pytest.mark.parametrize("url", ["https://api.dedaluslabs.ai", "https://api.dedaluslabs.ai/",
                                 "https://api.dedaluslabs.ai/v1", "https://api.dedaluslabs.ai/v1/"])
def test_dedalus_base_url_with_or_without_v1(url):
    spec = resolve_model("dedalus/openai/gpt-4.1", Profile(), {"DEDALUS_BASE_URL": url})
    assert spec.provider.base_url == "https://api.dedaluslabs.ai/v1"
    assert resolve_model("dedalus/openai/gpt-4.1", Profile(), {}).provider.base_url == (
        "https://api.dedaluslabs.ai/v1"
    )


async def test_a_host_only_base_url_reaches_the_chat_endpoint(fake_llm):
    spec = resolve_model("dedalus/openai/gpt-4.1", Profile(), {"DEDALUS_BASE_URL": fake_llm.url})
    provider = make_provider(spec.provider, "sk-test")
    try:
        done = await done_of(provider, ChatRequest(spec.model_id, (Message("user", "hello"),)))
    finally:
        await provider.aclose()
    assert done.text == "echo: hello"
    assert fake_llm.requests[0].path == "/v1/chat/completions"
